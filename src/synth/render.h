// Renders one true Person into every source's native feed format, with
// identity noise, and the ground-truth lines for each source record. Pure:
// the output depends only on (person, seed, noise level); safe to call
// concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "synth/population.h"

namespace lhcr::synth {

// Feed files, one per source except the acute trust (ADT and results apart).
enum FeedFile : int {
  kGpFirst = 0,  // 12 GP practices: NDJSON transaction Bundles
  kAcuteAdt = 12,
  kAcuteOru = 13,
  kCommunityFhir = 14,
  kMentalHealthAdt = 15,
  kSocialCareCsv = 16,
  kAcuteMedicines = 17,  // the acute trust's EPMA: FHIR Bundles of discharge medicines
};
inline constexpr int kFeedFileCount = 18;
// Sources of person records (truth rows): 12 GP practices, then acute,
// community, mental health, social care. (The acute trust's EPMA feed holds
// no person records of its own: it refers to the trust's Patients.)
inline constexpr int kSourceCount = 16;

struct RenderStats {
  std::array<int64_t, kSourceCount> records{};  // source records (truth rows)
  int64_t bundles = 0;
  int64_t resources = 0;
  int64_t messages = 0;
  int64_t csv_rows = 0;
  int64_t noisy_records = 0;
  void Add(const RenderStats& o);
};

// Appends to `files` (one string per FeedFile) and `truth` (CSV rows
// "source_id,record_id,person_id,noise\n") everything person `p` contributes.
// `noise` in [0, 1] scales every kind of noise; 0 writes exact identities.
void RenderPerson(const Person& p, uint64_t seed, double noise,
                  std::array<std::string, kFeedFileCount>* files, std::string* truth,
                  RenderStats* stats);

// The social care CSV header line (with "\r\n"), and the lab's local codes
// table ("local_code,display,unit,loinc,snomed\n" + rows).
std::string SocialCareCsvHeader();
std::string LabLocalCodesCsv();

// Code system URIs of the sources' local codes, used in sources.json.
inline constexpr const char* kLabLocalSystem =
    "https://fhir.r9a.example.nhs.uk/CodeSystem/lab-test";
inline constexpr const char* kLaServiceSystem = "https://x99.example.gov.uk/CodeSystem/asc-service";
inline constexpr const char* kLaEventSystem = "https://x99.example.gov.uk/CodeSystem/asc-event";

}  // namespace lhcr::synth
