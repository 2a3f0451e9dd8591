// Reference tables for the synthetic region: names with frequencies, the age
// pyramid, postcode districts and streets, and the organisations. All data
// are compact approximations of public facts (ONS name and population
// statistics), fixed at compile time; immutable and safe from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace lhcr::synth {

// A value with a relative frequency (any positive scale).
struct Weighted {
  std::string_view value;
  uint32_t weight;
};

// Given names by sex and birth cohort (ONS baby-name and census-era
// popularity, rounded): "classic" for people born before 1985.
std::span<const Weighted> MaleNames(bool born_before_1985);
std::span<const Weighted> FemaleNames(bool born_before_1985);
// Great Britain surname frequencies (per 100,000, rounded).
std::span<const Weighted> Surnames();
// The usual short form of a given name ("William" -> "Bill"), or empty.
std::string_view Nickname(std::string_view given);

// England & Wales population by five-year age band (Census 2021, per 1,000
// people, rounded); band i covers ages 5i..5i+4, the last band 90-99.
std::span<const uint32_t> AgePyramidPer1000();

struct District {
  std::string_view outward;  // postcode district, e.g. "M14"
  std::string_view town;     // post town / locality
  int practice;              // the GP practice most people here register with
};
std::span<const District> Districts();
std::span<const std::string_view> StreetNames();
std::span<const std::string_view> StreetSuffixes();

enum class SourceKind { kGp, kAcute, kCommunity, kMentalHealth, kSocialCare };
enum class SourceFormat { kFhir, kHl7v2, kCsv };

// One organisation that sends records to the region.
struct Organisation {
  std::string_view id;   // source id in sources.json, e.g. "gp-y90001"
  std::string_view ods;  // ODS-style organisation code
  std::string_view name;
  SourceKind kind;
  SourceFormat format;
  double identity_trust;  // 0..1: how far its identity data can be trusted
};
// The GP practices (kind kGp), then the acute, community and mental health
// trusts and the local authority, in that order.
std::span<const Organisation> GpPractices();
const Organisation& AcuteTrust();
// The acute trust's electronic prescribing system (EPMA): its discharge
// medicines as FHIR Bundles, a source of its own (same ODS code, listed
// after the trust's PAS/LIMS feed, whose Patients it refers to).
const Organisation& AcuteMedicines();
const Organisation& CommunityTrust();
const Organisation& MentalHealthTrust();
const Organisation& LocalAuthority();

std::string_view KindName(SourceKind k);      // gp, acute, community, ...
std::string_view FormatName(SourceFormat f);  // fhir, hl7v2, csv

}  // namespace lhcr::synth
