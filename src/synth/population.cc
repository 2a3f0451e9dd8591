#include "synth/population.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "synth/nhs_number.h"
#include "synth/tables.h"

namespace lhcr::synth {
namespace {

constexpr Service kSpecialties[] = {
    {"100", "General Surgery"},    {"110", "Trauma and Orthopaedics"}, {"300", "General Medicine"},
    {"320", "Cardiology"},         {"340", "Respiratory Medicine"},    {"361", "Nephrology"},
    {"430", "Geriatric Medicine"}, {"307", "Diabetic Medicine"},       {"370", "Medical Oncology"},
    {"180", "Emergency Medicine"}};
constexpr Service kCommunityServices[] = {{"DN", "District nursing"},
                                          {"PHYSIO", "Community physiotherapy"},
                                          {"CMATRON", "Community matron"},
                                          {"FALLS", "Falls service"},
                                          {"RESP", "Community respiratory team"},
                                          {"HFN", "Heart failure nursing"}};
constexpr Service kMhTeams[] = {{"CMHT", "Community mental health team"},
                                {"MAS", "Memory assessment service"},
                                {"IAPT", "Talking therapies"},
                                {"CRHT", "Crisis resolution and home treatment"},
                                {"ACUTE", "Adult acute inpatient ward"}};
constexpr Service kSocialServices[] = {{"ASM01", "Care Act needs assessment"},
                                       {"HC", "Home care package"},
                                       {"RES", "Residential care placement"},
                                       {"REV", "Care and support plan review"},
                                       {"CARER", "Carer's assessment"}};
constexpr GenomicTest kGenomicTests[] = {
    {"GEN-R208", "Inherited breast and ovarian cancer (BRCA1/2)", "BRCA1", "HGNC:1100",
     "NM_007294.4:c.68_69del"},
    {"GEN-R208B", "Inherited breast and ovarian cancer (BRCA1/2)", "BRCA2", "HGNC:1101",
     "NM_000059.4:c.5946del"},
    {"GEN-R210", "Inherited MMR deficiency (Lynch syndrome)", "MLH1", "HGNC:7127",
     "NM_000249.4:c.1852_1854del"},
    {"GEN-R134", "Familial hypercholesterolaemia", "LDLR", "HGNC:6547", "NM_000527.5:c.1775G>A"},
    {"GEN-M3", "DPYD pharmacogenomic test", "DPYD", "HGNC:3012", "NM_000110.4:c.1905+1G>A"},
};

uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::string_view PickWeighted(Rng& r, std::span<const Weighted> table) {
  uint64_t total = 0;
  for (const Weighted& w : table) total += w.weight;
  uint64_t x = r() % total;
  for (const Weighted& w : table) {
    if (x < w.weight) return w.value;
    x -= w.weight;
  }
  return table.back().value;
}

const Code& PickCode(Rng& r, const std::vector<Code>& codes) {
  if (codes.size() == 1 || Chance(r, 0.7)) return codes[0];
  return codes[1 + Below(r, static_cast<int>(codes.size()) - 1)];
}

// Unit letters of a postcode's inward code exclude C I K M O V.
constexpr std::string_view kUnitLetters = "ABDEFGHJLNPQRSTUWXYZ";

Address MakeAddress(Rng& r, int district, Day from) {
  const District& d = Districts()[district];
  Address a;
  a.district = district;
  a.from = from;
  a.line1 = std::to_string(1 + Poisson(r, 40)) + " " +
            std::string(StreetNames()[Below(r, static_cast<int>(StreetNames().size()))]) + " " +
            std::string(StreetSuffixes()[Below(r, static_cast<int>(StreetSuffixes().size()))]);
  if (Chance(r, 0.12)) a.line1 = "Flat " + std::to_string(1 + Below(r, 30)) + ", " + a.line1;
  a.town = d.town;
  a.postcode = std::string(d.outward) + " " + std::to_string(Below(r, 10)) +
               kUnitLetters[Below(r, 20)] + kUnitLetters[Below(r, 20)];
  return a;
}

// Annual prevalence-style probabilities by age band (QOF England, rounded).
double ConditionChance(Cond c, int age, char sex, Smoking smoking) {
  auto band = [&](double u40, double u60, double u80, double rest) {
    return age < 40 ? u40 : age < 60 ? u60 : age < 80 ? u80 : rest;
  };
  switch (c) {
    case Cond::kHypertension:
      return age < 18 ? 0.0 : band(0.02, 0.15, 0.40, 0.55);
    case Cond::kDiabetes:
      return age < 18 ? 0.002 : band(0.015, 0.07, 0.16, 0.18) * (sex == 'M' ? 1.2 : 0.85);
    case Cond::kCopd:
      return age < 35 ? 0.0
                      : band(0.003, 0.015, 0.05, 0.07) * (smoking == Smoking::kNever ? 0.3 : 2.0);
    case Cond::kAsthma:
      return age < 18 ? 0.08 : 0.065;
    case Cond::kHeartFailure:
      return band(0.0, 0.003, 0.02, 0.06);
    case Cond::kCkd:
      return age < 18 ? 0.0 : band(0.002, 0.015, 0.07, 0.25);
    case Cond::kDementia:
      return age < 65 ? 0.0005 : age < 80 ? 0.02 : age < 90 ? 0.12 : 0.30;
    case Cond::kDepression:
      return age < 18 ? 0.02 : 0.13 * (sex == 'F' ? 1.25 : 0.75);
    case Cond::kCancer:
      return band(0.004, 0.02, 0.08, 0.12);
  }
  return 0;
}

Day Between(Rng& r, Day a, Day b) { return b <= a ? a : a + Below(r, b - a + 1); }

LabRec Measure(Rng& r, const Person& p, Lab kind, Day day) {
  int age = p.AgeAt(day);
  bool dm = p.Has(Cond::kDiabetes), ckd = p.Has(Cond::kCkd), ht = p.Has(Cond::kHypertension);
  double v = 0;
  switch (kind) {
    case Lab::kHba1c:
      v = dm ? Normal(r, 60, 12) : Normal(r, 37, 3.5);
      v = std::max(25.0, v);
      break;
    case Lab::kCholesterol:
      v = std::max(2.5, Normal(r, dm ? 4.4 : 5.3, 0.9));
      break;
    case Lab::kEgfr:
      v = ckd ? Normal(r, 42, 9) : Normal(r, std::min(105.0, 125.0 - 0.8 * age), 10);
      v = std::clamp(v, 8.0, 120.0);
      break;
    case Lab::kCreatinine:
      v = 0;
      break;  // derived from eGFR by the caller
    case Lab::kAcr:
      v = (dm || ckd) && Chance(r, 0.35) ? 3 + Uniform(r) * 30 : 0.3 + Uniform(r) * 2;
      break;
    case Lab::kHaemoglobin:
      v = Normal(r, p.sex == 'M' ? 145 : 132, 12) - (ckd ? 12 : 0);
      break;
    case Lab::kWbc:
      v = std::max(2.0, Normal(r, 7.0, 1.8));
      break;
    case Lab::kPlatelets:
      v = std::max(60.0, Normal(r, 260, 60));
      break;
    case Lab::kSystolic:
      v = ht ? Normal(r, 142, 14) : Normal(r, 112 + 0.3 * age, 11);
      break;
    case Lab::kDiastolic:
      v = ht ? Normal(r, 84, 9) : Normal(r, 74, 8);
      break;
    case Lab::kBmi:
      v = std::clamp(Normal(r, dm ? 31 : 27, 4.5), 15.0, 55.0);
      break;
  }
  return {kind, v, day};
}

void AddRenal(Rng& r, const Person& p, Day day, std::vector<LabRec>* out) {
  LabRec e = Measure(r, p, Lab::kEgfr, day);
  // Creatinine consistent with the eGFR (CKD-EPI inverted, roughly).
  double creat = 80.0 * std::pow(90.0 / e.value, 1.0 / 1.15) * (p.sex == 'M' ? 1.15 : 0.95);
  out->push_back({Lab::kCreatinine, std::round(creat), day});
  out->push_back(e);
}

}  // namespace

Day DaysFromCivil(int y, int m, int d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

void CivilFromDays(Day z0, int* y, int* m, int* d) {
  int z = z0 + 719468;
  const int era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = static_cast<int>(yoe) + era * 400 + (*m <= 2);
}

std::string IsoDate(Day day) {
  int y, m, d;
  CivilFromDays(day, &y, &m, &d);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
  return buf;
}
std::string CompactDate(Day day) {
  int y, m, d;
  CivilFromDays(day, &y, &m, &d);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d%02d%02d", y, m, d);
  return buf;
}

double Uniform(Rng& r) { return static_cast<double>(r() >> 11) * 0x1.0p-53; }
int Below(Rng& r, int n) { return n <= 0 ? 0 : static_cast<int>(r() % static_cast<uint64_t>(n)); }
bool Chance(Rng& r, double p) { return Uniform(r) < p; }
double Normal(Rng& r, double mean, double sd) {
  double u1 = Uniform(r), u2 = Uniform(r);
  return mean + sd * std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(6.283185307179586 * u2);
}
int Poisson(Rng& r, double lambda) {
  double l = std::exp(-lambda), p = 1.0;
  int k = 0;
  do {
    ++k;
    p *= Uniform(r);
  } while (p > l && k < 1000);
  return k - 1;
}
Rng PersonRng(uint64_t seed, uint64_t index) { return Rng(SplitMix(SplitMix(seed) ^ index)); }

bool Person::Has(Cond c) const {
  for (const CondRec& x : conditions) {
    if (x.kind == c) return true;
  }
  return false;
}
int Person::AgeAt(Day d) const { return static_cast<int>((d - dob) / 365.25); }

Day ReferenceDay() { return DaysFromCivil(2024, 6, 30); }

std::span<const Service> HospitalSpecialties() { return kSpecialties; }
std::span<const Service> CommunityServices() { return kCommunityServices; }
std::span<const Service> MentalHealthTeams() { return kMhTeams; }
std::span<const Service> SocialCareServices() { return kSocialServices; }
std::span<const GenomicTest> GenomicTests() { return kGenomicTests; }

// About 1% of people are the younger of twins: person `index` is the twin
// of person `index - 1` (same family name, date of birth, home and practice;
// own given name, sex, NHS number and care). Never a twin of a twin. Decided
// from (seed, index) alone, so people stay independent of each other.
bool IsTwin(uint64_t seed, uint64_t index) {
  auto drawn = [&](uint64_t i) { return SplitMix(SplitMix(seed ^ 0x7A1A5ULL) ^ i) % 1000 < 10; };
  return index > 0 && drawn(index) && !(index > 1 && drawn(index - 1));
}

Person GeneratePerson(const CodeBook& codes, uint64_t seed, uint64_t index) {
  std::optional<Person> sibling;
  if (IsTwin(seed, index)) sibling = GeneratePerson(codes, seed, index - 1);
  Rng r = PersonRng(seed, index);
  const Day ref = ReferenceDay();
  const Day window = ref - 3652;  // ten years of history
  Person p;
  p.index = index;
  char id[16];
  std::snprintf(id, sizeof id, "P%07llu", static_cast<unsigned long long>(index));
  p.id = id;
  p.nhs = IssueNhsNumber(seed, index);

  // Age from the pyramid, sex with more women at older ages.
  std::span<const uint32_t> pyr = AgePyramidPer1000();
  uint32_t total = 0;
  for (uint32_t w : pyr) total += w;
  uint32_t x = static_cast<uint32_t>(r() % total);
  int b = 0;
  while (x >= pyr[b]) x -= pyr[b++];
  int age = 5 * b + Below(r, b == static_cast<int>(pyr.size()) - 1 ? 10 : 5);
  p.dob = ref - static_cast<Day>(age * 365.25) - Below(r, 365);
  if (sibling) {
    p.dob = sibling->dob;
    age = sibling->AgeAt(ref);
  }
  p.sex = Chance(r, age >= 80 ? 0.42 : 0.495) ? 'M' : 'F';
  bool classic = p.dob < DaysFromCivil(1985, 1, 1);
  auto names = p.sex == 'M' ? MaleNames(classic) : FemaleNames(classic);
  p.given = PickWeighted(r, names);
  if (Chance(r, 0.6)) {
    p.middle = PickWeighted(r, names);
    if (p.middle == p.given) p.middle.clear();
  }
  p.family = PickWeighted(r, Surnames());
  if (p.sex == 'F' && age >= 20 && age < 60 && Chance(r, 0.12)) {
    p.previous_family = p.family;
    while (p.family == p.previous_family) p.family = PickWeighted(r, Surnames());
    p.family_changed = Between(r, std::max(window, p.dob + 18 * 365), ref - 30);
  }
  if (sibling) {
    p.family = sibling->family;
    p.previous_family.clear();
    p.family_changed = 0;
    for (int tries = 0; p.given == sibling->given && tries < 20; ++tries) {
      p.given = PickWeighted(r, names);
    }
  }
  double e = Uniform(r);
  p.ethnic = e < 0.70   ? 'A'
             : e < 0.74 ? 'C'
             : e < 0.79 ? 'H'
             : e < 0.84 ? 'J'
             : e < 0.87 ? 'N'
             : e < 0.90 ? 'M'
             : e < 0.92 ? 'R'
             : e < 0.95 ? 'S'
             : e < 0.97 ? 'G'
                        : 'Z';

  // Addresses and GP registration; a move often changes practice.
  int n_districts = static_cast<int>(Districts().size());
  int district = Below(r, n_districts);
  Day born_or_window = std::max(window, p.dob);
  p.addresses.push_back(MakeAddress(r, district, p.dob + Below(r, 365 * 5)));
  if (Chance(r, 0.3) && ref - born_or_window > 60) {
    int nd = Chance(r, 0.5) ? district : Below(r, n_districts);
    p.addresses.push_back(MakeAddress(r, nd, Between(r, born_or_window + 30, ref - 30)));
  }
  auto practice_for = [&](int dist) {
    return Chance(r, 0.85) ? Districts()[dist].practice
                           : Below(r, static_cast<int>(GpPractices().size()));
  };
  int first_practice = practice_for(p.addresses[0].district);
  p.registrations.push_back({first_practice, std::max(p.dob, window - Below(r, 3650)), 0});
  if (p.addresses.size() > 1) {
    int np = practice_for(p.addresses[1].district);
    if (np != first_practice) {
      Day move = p.addresses[1].from + Below(r, 90);
      if (move < ref) {
        p.registrations[0].to = move;
        p.registrations.push_back({np, move + 1, 0});
      }
    }
  }

  if (sibling) {  // one home, one practice
    p.addresses = sibling->addresses;
    p.registrations = sibling->registrations;
    p.ethnic = sibling->ethnic;
  }

  // Lifestyle, then conditions (risk factors first so they can raise risk).
  if (age >= 16) {
    double s = Uniform(r);
    p.smoking = s < 0.13                       ? Smoking::kCurrent
                : s < (age > 50 ? 0.45 : 0.25) ? Smoking::kEx
                                               : Smoking::kNever;
    p.smoking_recorded = Between(r, std::max(window, p.dob + 16 * 365), ref);
  }
  for (int c = 0; c < kCondCount; ++c) {
    Cond kind = static_cast<Cond>(c);
    double chance = ConditionChance(kind, age, p.sex, p.smoking);
    if (kind == Cond::kCkd && (p.Has(Cond::kDiabetes) || p.Has(Cond::kHypertension))) chance *= 1.8;
    if (kind == Cond::kHeartFailure && p.Has(Cond::kHypertension)) chance *= 1.5;
    if (!Chance(r, chance)) continue;
    int min_age = kind == Cond::kAsthma ? 2 : kind == Cond::kDementia ? std::max(50, age - 8) : 18;
    Day earliest =
        std::max(p.dob + static_cast<Day>(std::min(min_age, age) * 365.25), ref - 365 * 25);
    p.conditions.push_back(
        {kind, PickCode(r, codes.Condition(kind)), Between(r, earliest, ref - 14)});
  }

  // Medicines that follow the conditions; some stopped or switched.
  auto start_med = [&](Med m, Day start, Day end) {
    if (start >= ref) return;
    if (end != 0 && end >= ref) end = 0;
    p.meds.push_back({m, PickCode(r, codes.Medicine(m)), start, end});
  };
  for (const CondRec& c : std::vector<CondRec>(p.conditions)) {
    Day s = c.onset + 14 + Below(r, 60);
    switch (c.kind) {
      case Cond::kDiabetes:
        start_med(Med::kMetformin, s, 0);
        if (Chance(r, 0.4)) start_med(Med::kGliclazide, Between(r, s + 180, ref), 0);
        start_med(Med::kStatin, s + Below(r, 120), Chance(r, 0.1) ? s + 365 : 0);
        break;
      case Cond::kHypertension:
        if (Chance(r, 0.2)) {  // ACE inhibitor cough: switched to amlodipine
          Day stop = s + 30 + Below(r, 300);
          start_med(Med::kAceInhibitor, s, stop);
          start_med(Med::kCalciumChannelBlocker, stop + 1, 0);
        } else {
          start_med(Chance(r, 0.5) ? Med::kAceInhibitor : Med::kCalciumChannelBlocker, s, 0);
        }
        if (age >= 60 && Chance(r, 0.5) && !p.Has(Cond::kDiabetes)) start_med(Med::kStatin, s, 0);
        break;
      case Cond::kAsthma:
        start_med(Med::kSalbutamol, s, 0);
        if (Chance(r, 0.6)) start_med(Med::kBeclometasone, s + Below(r, 400), 0);
        break;
      case Cond::kCopd:
        start_med(Med::kSalbutamol, s, 0);
        break;
      case Cond::kHeartFailure:
        start_med(Med::kFurosemide, s, 0);
        if (!p.Has(Cond::kHypertension)) start_med(Med::kAceInhibitor, s, 0);
        break;
      case Cond::kDementia:
        if (Chance(r, 0.6)) start_med(Med::kDonepezil, s, 0);
        break;
      case Cond::kDepression:
        start_med(Chance(r, 0.5) ? Med::kSertraline : Med::kCitalopram, s,
                  Chance(r, 0.55) ? s + 180 + Below(r, 365) : 0);
        break;
      case Cond::kCkd:
      case Cond::kCancer:
        break;
    }
  }
  if (age >= 40 && Chance(r, 0.08)) {
    Day s = Between(r, window, ref - 30);
    start_med(Med::kOmeprazole, s, Chance(r, 0.5) ? s + 56 : 0);
  }

  // Frailty deficits in older people (more with age and multimorbidity).
  if (age >= 65) {
    double lambda = 0.4 + (age - 65) * 0.12 + 0.5 * static_cast<double>(p.conditions.size());
    int n = std::min(kDeficitCount, Poisson(r, lambda));
    std::vector<int> order(kDeficitCount);
    for (int i = 0; i < kDeficitCount; ++i) order[i] = i;
    for (int i = 0; i < n; ++i) {
      std::swap(order[i], order[i + Below(r, kDeficitCount - i)]);
      p.deficits.push_back({order[i], PickCode(r, codes.Deficit(order[i])),
                            Between(r, std::max(window, p.dob + 60 * 365), ref - 7)});
      if (order[i] == 6) start_med(Med::kAlendronate, p.deficits.back().onset + 20, 0);
    }
  }

  // Allergies: penicillin is the common one.
  if (Chance(r, 0.35)) {
    p.allergies_recorded = Between(r, window, ref);
    double a = Uniform(r);
    if (a < 0.22)
      p.allergies.push_back({"91936005", "Allergy to penicillin"});
    else if (a < 0.26)
      p.allergies.push_back({"91935009", "Allergy to peanuts"});
    else if (a < 0.29)
      p.allergies.push_back({"300916003", "Latex allergy"});
    else if (a < 0.31)
      p.allergies.push_back({"294505008", "Allergy to amoxicillin"});
    else
      p.allergies.push_back({"716186003", "No known allergy"});
  }

  // Deaths within the last three years, more likely with age and illness.
  double mortality = age < 60 ? 0.004 : age < 75 ? 0.03 : age < 85 ? 0.09 : 0.25;
  mortality *= 1.0 + 0.3 * static_cast<double>(p.conditions.size());
  Day last = ref;
  if (Chance(r, mortality)) {
    p.death = Between(r, ref - 3 * 365, ref - 1);
    last = p.death;
    for (Registration& reg : p.registrations) {
      if (reg.to == 0 || reg.to > p.death) reg.to = p.death;
    }
    for (MedRec& m : p.meds) {
      if (m.end == 0 || m.end > p.death) m.end = p.death;
    }
    std::erase_if(p.meds, [&](const MedRec& m) { return m.start >= p.death; });
  }

  // GP reviews over the last three years.
  int n_ltc = static_cast<int>(p.conditions.size());
  Day recent = ref - 3 * 365;
  if (age >= 18) {
    int reviews = n_ltc > 0 ? 3 : (Chance(r, 0.4) ? 1 : 0);
    for (int i = 0; i < reviews; ++i) {
      Day d = Between(r, recent + i * 365, std::min(last, recent + (i + 1) * 365));
      if (d >= last) continue;
      p.gp_labs.push_back(Measure(r, p, Lab::kSystolic, d));
      p.gp_labs.push_back(Measure(r, p, Lab::kDiastolic, d));
      p.gp_labs.push_back(Measure(r, p, Lab::kBmi, d));
      if (n_ltc == 0) continue;
      p.gp_labs.push_back(Measure(r, p, Lab::kHba1c, d));
      p.gp_labs.push_back(Measure(r, p, Lab::kCholesterol, d));
      AddRenal(r, p, d, &p.gp_labs);
      if (p.Has(Cond::kDiabetes) || p.Has(Cond::kCkd))
        p.gp_labs.push_back(Measure(r, p, Lab::kAcr, d));
    }
  }

  // Encounters over the last three years.
  auto add_enc = [&](Enc kind, int service, int max_len) {
    Day s = Between(r, recent, last - 1);
    if (s >= last) return;
    EncRec e{kind, s, std::min(last, s + (max_len > 0 ? Below(r, max_len + 1) : 0)), service};
    if (kind == Enc::kAdmission || kind == Enc::kAe) {
      e.labs.push_back(Measure(r, p, Lab::kHaemoglobin, s));
      e.labs.push_back(Measure(r, p, Lab::kWbc, s));
      e.labs.push_back(Measure(r, p, Lab::kPlatelets, s));
      AddRenal(r, p, s, &e.labs);
      if (p.Has(Cond::kDiabetes)) e.labs.push_back(Measure(r, p, Lab::kHba1c, s));
      e.transfer = kind == Enc::kAdmission && Chance(r, 0.25);
    }
    p.encounters.push_back(std::move(e));
  };
  bool old = age >= 75;
  int gp = Poisson(r, 3.0 + 1.5 * n_ltc + (old ? 3 : 0));
  for (int i = 0; i < gp; ++i) add_enc(Enc::kGp, 0, 0);
  int n_spec = static_cast<int>(HospitalSpecialties().size());
  for (int i = Poisson(r, 0.3 + 0.4 * n_ltc); i > 0; --i)
    add_enc(Enc::kOutpatient, Below(r, n_spec - 1), 0);
  for (int i = Poisson(r, 0.6 + (old ? 0.6 : 0) + 0.1 * n_ltc); i > 0; --i)
    add_enc(Enc::kAe, n_spec - 1, 0);
  for (int i = Poisson(r, 0.15 + (old ? 0.45 : 0) + 0.12 * n_ltc); i > 0; --i)
    add_enc(Enc::kAdmission, Below(r, n_spec - 1), 12);
  bool frail = p.deficits.size() >= 3;
  if (old || frail || p.Has(Cond::kHeartFailure) || p.Has(Cond::kCopd)) {
    for (int i = Poisson(r, frail ? 4 : 1.5); i > 0; --i)
      add_enc(Enc::kCommunity, Below(r, static_cast<int>(CommunityServices().size())), 0);
  }
  bool mh = (p.Has(Cond::kDepression) && Chance(r, 0.2)) ||
            (p.Has(Cond::kDementia) && Chance(r, 0.5)) || (age >= 18 && Chance(r, 0.01));
  if (mh) {
    int team = p.Has(Cond::kDementia) ? 1 : Chance(r, 0.5) ? 2 : 0;
    for (int i = 1 + Poisson(r, 1.5); i > 0; --i) add_enc(Enc::kMentalHealth, team, 0);
    if (Chance(r, 0.06)) add_enc(Enc::kMhInpatient, 4, 30);
  }
  std::sort(p.encounters.begin(), p.encounters.end(),
            [](const EncRec& a, const EncRec& b) { return a.start < b.start; });

  // Adult social care for frail or cognitively impaired people.
  if ((age >= 65 && (p.deficits.size() >= 4 || p.Has(Cond::kDementia))) ||
      (age >= 18 && Chance(r, 0.004))) {
    Day a = Between(r, recent, last - 1);
    p.social.push_back({0, a, a + 1 + Below(r, 28), 0});
    if (Chance(r, 0.65)) {
      bool res = Chance(r, 0.15);
      Day s = p.social[0].end + Below(r, 30);
      if (s < last) {
        p.social.push_back({res ? 2 : 1, s, p.death, res ? 0 : 3 + Below(r, 20)});
        if (s + 365 < last) p.social.push_back({3, s + 365, s + 366, 0});
      }
    }
    if (Chance(r, 0.2)) p.social.push_back({4, Between(r, recent, last - 1), 0, 0});
  }

  // A few genomic tests: cancer patients mostly.
  if ((p.Has(Cond::kCancer) && Chance(r, 0.12)) || Chance(r, 0.002)) {
    int n_tests = static_cast<int>(GenomicTests().size());
    p.genomics.push_back({Below(r, n_tests), Chance(r, 0.2), Between(r, recent, last - 1)});
  }
  return p;
}

}  // namespace lhcr::synth
