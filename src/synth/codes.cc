#include "synth/codes.h"

#include <filesystem>
#include <fstream>

namespace lhcr::synth {
namespace {

struct ListDef {
  const char* file;  // relative to the code list folder
  const char* code;
  const char* display;
};

// Canonical codes (SNOMED CT UK edition; dm+d VMPs for medicines).
constexpr ListDef kConditionDefs[kCondCount] = {
    {"conditions/hypertension.snomed.txt", "38341003", "Hypertensive disorder"},
    {"conditions/diabetes-type-ii.snomed.txt", "44054006", "Type 2 diabetes mellitus"},
    {"conditions/copd.snomed.txt", "13645005", "Chronic obstructive lung disease"},
    {"conditions/asthma.snomed.txt", "195967001", "Asthma"},
    {"conditions/heart-failure.snomed.txt", "84114007", "Heart failure"},
    {"conditions/chronic-kidney-disease.snomed.txt", "433144002", "Chronic kidney disease stage 3"},
    {"conditions/dementia.snomed.txt", "52448006", "Dementia"},
    {"conditions/depression.snomed.txt", "35489007", "Depressive disorder"},
    {"conditions/cancer.snomed.txt", "363346000", "Malignant neoplastic disease"},
};
constexpr ListDef kMedicineDefs[kMedCount] = {
    {"medications/metformin.snomed.txt", "325278007", "Metformin 500mg tablets"},
    {"medications/gliclazide.snomed.txt", "325242002", "Gliclazide 80mg tablets"},
    {"medications/statins.snomed.txt", "320000009", "Simvastatin 40mg tablets"},
    {"medications/ace-inhibitor.snomed.txt", "318885001", "Ramipril 5mg capsules"},
    {"medications/calcium-channel-blockers.snomed.txt", "319283006", "Amlodipine 5mg tablets"},
    {"medications/salbutamol.snomed.txt", "39113611000001102",
     "Salbutamol 100micrograms/dose inhaler CFC free"},
    {"medications/beclometasone.snomed.txt", "320130006",
     "Beclometasone 100micrograms/dose inhaler CFC free"},
    {"medications/furosemide.snomed.txt", "317972000", "Furosemide 40mg tablets"},
    {"medications/donepezil.snomed.txt", "400978004", "Donepezil 5mg tablets"},
    {"medications/sertraline.snomed.txt", "39704111000001102", "Sertraline 50mg tablets"},
    {"medications/citalopram.snomed.txt", "321988008", "Citalopram 20mg tablets"},
    {"medications/bisphosphonates.snomed.txt", "39728011000001102", "Alendronic acid 10mg tablets"},
    {"medications/proton-pump-inhibitors.snomed.txt", "317335006",
     "Omeprazole 20mg gastro-resistant capsules"},
};
constexpr const char* kDeficitNames[kDeficitCount] = {"falls",
                                                      "hearing-loss",
                                                      "vision-problems",
                                                      "urinary-incontinence",
                                                      "mobility-problems",
                                                      "arthritis",
                                                      "osteoporosis",
                                                      "dizziness",
                                                      "sleep-disturbance",
                                                      "housebound",
                                                      "social-vulnerability",
                                                      "care-requirement",
                                                      "skin-ulcer",
                                                      "weight-loss"};
constexpr ListDef kDeficitDefs[kDeficitCount] = {
    {"efi/efi-falls.snomed.txt", "161898004", "Falls"},
    {"efi/efi-hearing-loss.snomed.txt", "15188001", "Hearing loss"},
    {"efi/efi-vision-problems.snomed.txt", "397540003", "Visual impairment"},
    {"efi/efi-urinary-incontinence.snomed.txt", "165232002", "Urinary incontinence"},
    {"efi/efi-mobility-problems.snomed.txt", "228158008", "Walking disability"},
    {"efi/efi-arthritis.snomed.txt", "396275006", "Osteoarthritis"},
    {"efi/efi-osteoporosis.snomed.txt", "64859006", "Osteoporosis"},
    {"efi/efi-dizziness.snomed.txt", "404640003", "Dizziness"},
    {"efi/efi-sleep-disturbance.snomed.txt", "193462001", "Insomnia"},
    {"efi/efi-housebound.snomed.txt", "160689007", "Housebound"},
    {"efi/efi-social-vulnerability.snomed.txt", "105529008", "Lives alone"},
    {"efi/efi-care-requirement.snomed.txt", "422806000", "Requires assistance with activity"},
    {"efi/efi-skin-ulcer.snomed.txt", "95344007", "Pressure ulcer"},
    {"efi/efi-weight-loss.snomed.txt", "89362005", "Weight loss"},
};

bool Usable(const std::string& display) {
  for (const char* tag :
       {"(substance)", "(procedure)", "(observable entity)", "(morphologic abnormality)",
        "(regime/therapy)", "njection", "Imported", "Special Order", "(situation)"}) {
    if (display.find(tag) != std::string::npos) return false;
  }
  return true;
}

std::vector<Code> Fallback(const ListDef& d) { return {Code{d.code, d.display}}; }

// Reads `path` into a list headed by the canonical code; false if unreadable.
bool ReadList(const std::filesystem::path& path, const ListDef& d, std::vector<Code>* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::vector<Code> codes = Fallback(d);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // byte-order mark
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t tab = line.find('\t');
    if (tab == std::string::npos || tab == 0) continue;
    Code c{line.substr(0, tab), line.substr(tab + 1)};
    if (c.code.find_first_not_of("0123456789") != std::string::npos) continue;
    if (c.code == d.code || !Usable(c.display)) continue;
    codes.push_back(std::move(c));
    if (codes.size() >= 40) break;  // enough variety; keeps picks plausible
  }
  *out = std::move(codes);
  return true;
}

}  // namespace

std::string_view CondName(Cond c) {
  static constexpr const char* kNames[kCondCount] = {"hypertension", "diabetes",      "copd",
                                                     "asthma",       "heart-failure", "ckd",
                                                     "dementia",     "depression",    "cancer"};
  return kNames[static_cast<int>(c)];
}
std::string_view DeficitName(int i) { return kDeficitNames[i]; }

std::shared_ptr<const CodeBook> CodeBook::BuiltIn() {
  auto book = std::make_shared<CodeBook>();
  for (const ListDef& d : kConditionDefs) book->conditions_.push_back(Fallback(d));
  for (const ListDef& d : kMedicineDefs) book->medicines_.push_back(Fallback(d));
  for (const ListDef& d : kDeficitDefs) book->deficits_.push_back(Fallback(d));
  return book;
}

Result<std::shared_ptr<const CodeBook>> CodeBook::Load(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::NotFound("code list folder not found: " + dir);
  }
  auto book = std::make_shared<CodeBook>(*BuiltIn());
  auto load = [&](const ListDef* defs, int n, std::vector<std::vector<Code>>* lists) {
    for (int i = 0; i < n; ++i) {
      if (ReadList(std::filesystem::path(dir) / defs[i].file, defs[i], &(*lists)[i])) {
        ++book->from_files_;
      }
    }
  };
  load(kConditionDefs, kCondCount, &book->conditions_);
  load(kMedicineDefs, kMedCount, &book->medicines_);
  load(kDeficitDefs, kDeficitCount, &book->deficits_);
  return std::shared_ptr<const CodeBook>(std::move(book));
}

}  // namespace lhcr::synth
