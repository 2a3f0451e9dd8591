// The clinical codes the synthesiser uses: SNOMED CT for conditions, frailty
// deficits and dm+d medicines. Loaded from the shared code lists
// (codelists/<group>/<name>.snomed.txt, "code<TAB>description") when a folder
// is given, with a built-in fallback for every list so that synth works with
// no shared data at all. Immutable once built; safe from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lhcr::synth {

struct Code {
  std::string code;
  std::string display;
};

enum class Cond {
  kHypertension,
  kDiabetes,
  kCopd,
  kAsthma,
  kHeartFailure,
  kCkd,
  kDementia,
  kDepression,
  kCancer
};
inline constexpr int kCondCount = 9;
std::string_view CondName(Cond c);  // "hypertension", "diabetes", ...

enum class Med {
  kMetformin,
  kGliclazide,
  kStatin,
  kAceInhibitor,
  kCalciumChannelBlocker,
  kSalbutamol,
  kBeclometasone,
  kFurosemide,
  kDonepezil,
  kSertraline,
  kCitalopram,
  kAlendronate,
  kOmeprazole
};
inline constexpr int kMedCount = 13;

// The frailty deficits synth records as coded entries (the eFI deficits that
// are not one of the long-term conditions above; Clegg et al. 2016).
inline constexpr int kDeficitCount = 14;
std::string_view DeficitName(int i);  // "falls", "hearing-loss", ...

class CodeBook {
 public:
  // Built-in codes only.
  static std::shared_ptr<const CodeBook> BuiltIn();
  // Built-in codes, each list replaced by the usable entries of the matching
  // file under `dir` where that file exists (descriptions tagged as a
  // substance, procedure, observable entity or morphology are skipped; the
  // built-in canonical code stays first). kNotFound when `dir` is not a
  // directory.
  static Result<std::shared_ptr<const CodeBook>> Load(const std::string& dir);

  // Never empty; element 0 is the canonical code.
  const std::vector<Code>& Condition(Cond c) const { return conditions_[static_cast<int>(c)]; }
  const std::vector<Code>& Medicine(Med m) const { return medicines_[static_cast<int>(m)]; }
  const std::vector<Code>& Deficit(int i) const { return deficits_[i]; }
  // How many lists came from files (0 for BuiltIn()).
  int lists_from_files() const { return from_files_; }

 private:
  std::vector<std::vector<Code>> conditions_, medicines_, deficits_;
  int from_files_ = 0;
};

}  // namespace lhcr::synth
