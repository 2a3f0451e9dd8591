// The true population: one Person per index, generated from (seed, index)
// alone by its own std::mt19937_64, so people can be generated on any thread
// in any order with identical results. Dates are days since 1970-01-01.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "synth/codes.h"

namespace lhcr::synth {

using Day = int32_t;

// Calendar helpers (proleptic Gregorian, H. Hinnant's algorithms).
Day DaysFromCivil(int y, int m, int d);
void CivilFromDays(Day z, int* y, int* m, int* d);
std::string IsoDate(Day d);      // 2024-06-30
std::string CompactDate(Day d);  // 20240630

// Random helpers over the per-person engine (implementation-independent, so
// outputs are identical across standard libraries).
using Rng = std::mt19937_64;
double Uniform(Rng& r);    // [0, 1)
int Below(Rng& r, int n);  // [0, n)
bool Chance(Rng& r, double p);
double Normal(Rng& r, double mean, double sd);
int Poisson(Rng& r, double lambda);
// The engine for person `index` of population `seed`.
Rng PersonRng(uint64_t seed, uint64_t index);

struct Address {
  std::string line1;  // "12 Oak Street"
  std::string town;
  std::string postcode;  // "M14 5QR"
  int district = 0;
  Day from = 0;
};

struct Registration {
  int practice = 0;  // index into GpPractices()
  Day from = 0;
  Day to = 0;  // 0: current
};

struct CondRec {
  Cond kind;
  Code code;
  Day onset;
};
struct DeficitRec {
  int deficit;
  Code code;
  Day onset;
};
struct MedRec {
  Med kind;
  Code code;
  Day start;
  Day end;  // 0: ongoing
};

enum class Lab {
  kHba1c,
  kCholesterol,
  kCreatinine,
  kEgfr,
  kAcr,
  kHaemoglobin,
  kWbc,
  kPlatelets,
  kSystolic,
  kDiastolic,
  kBmi
};
inline constexpr int kLabCount = 11;
struct LabRec {
  Lab kind;
  double value;
  Day day;
};

enum class Smoking { kNever, kEx, kCurrent };

enum class Enc { kGp, kOutpatient, kAe, kAdmission, kCommunity, kMentalHealth, kMhInpatient };
struct EncRec {
  Enc kind;
  Day start;
  Day end;
  int service;               // index into the service table of the setting
  bool transfer = false;     // an admission with a ward transfer
  std::vector<LabRec> labs;  // hospital results from this encounter
};

struct SocialRec {
  int service;  // index into the local authority's service codes
  Day start;
  Day end;  // 0: ongoing
  int hours_per_week;
};

struct GenomicRec {
  int test;  // index into the genomic test table
  bool variant_found;
  Day day;
};

// One true person and their care history as of the population's reference
// date. A value: copyable, comparable field by field.
struct Person {
  uint64_t index = 0;
  std::string id;   // "P0000042"
  std::string nhs;  // valid, unique per person
  char sex = 'F';   // 'M' or 'F'
  std::string given, middle, family;
  std::string previous_family;  // surname before a change within the window, or empty
  Day family_changed = 0;
  Day dob = 0;
  char ethnic = 'A';                        // UK Core ethnic category code
  Day death = 0;                            // 0: alive
  std::vector<Address> addresses;           // oldest first; back() is current
  std::vector<Registration> registrations;  // oldest first
  std::vector<CondRec> conditions;
  std::vector<DeficitRec> deficits;
  std::vector<MedRec> meds;
  std::vector<LabRec> gp_labs;  // GP reviews: bloods and vital signs
  Smoking smoking = Smoking::kNever;
  Day smoking_recorded = 0;
  std::vector<Code> allergies;
  Day allergies_recorded = 0;
  std::vector<EncRec> encounters;
  std::vector<SocialRec> social;
  std::vector<GenomicRec> genomics;

  bool Has(Cond c) const;
  int AgeAt(Day d) const;
};

// The fixed reference date of every population (2024-06-30): output does not
// depend on the clock.
Day ReferenceDay();

// Generates person `index`. Safe to call concurrently.
Person GeneratePerson(const CodeBook& codes, uint64_t seed, uint64_t index);

// Service tables (local code, description) used by the renderers.
struct Service {
  std::string_view code, display;
};
std::span<const Service> HospitalSpecialties();  // outpatients / wards
std::span<const Service> CommunityServices();
std::span<const Service> MentalHealthTeams();
std::span<const Service> SocialCareServices();
struct GenomicTest {
  std::string_view local_code, name, gene, hgnc, variant;
};
std::span<const GenomicTest> GenomicTests();

}  // namespace lhcr::synth
