#include "identity/fhir_patient.h"

#include <cctype>

namespace lhcr::identity {

namespace {

constexpr std::string_view kNhsNumberSystem = "https://fhir.nhs.uk/Id/nhs-number";

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// "31", "12a": a house number at the start of an address line.
bool IsHouseNumber(std::string_view token) {
  size_t i = 0;
  while (i < token.size() && std::isdigit(static_cast<unsigned char>(token[i]))) ++i;
  if (i == 0) return false;
  if (i + 1 == token.size() && std::isalpha(static_cast<unsigned char>(token[i]))) return true;
  return i == token.size();
}

std::string StringOf(const fhir::Json& v) {
  return v.IsString() ? std::string(fhir::AsView(v)) : std::string();
}

// The element of `array` with use == `use`, else the first object.
const fhir::Json* Preferred(const fhir::Json* array, std::string_view use) {
  if (array == nullptr || !array->IsArray()) return nullptr;
  const fhir::Json* chosen = nullptr;
  for (const auto& x : array->GetArray()) {
    if (!x.IsObject()) continue;
    if (chosen == nullptr) chosen = &x;
    if (fhir::StringMember(x, "use") == use) return &x;
  }
  return chosen;
}

}  // namespace

void SetAddressLines(const std::vector<std::string>& lines, PersonRecord* r) {
  for (const std::string& raw : lines) {
    std::string line = Trim(raw);
    if (line.empty()) continue;
    if (r->address_lines.empty() && r->house_number.empty()) {
      size_t sp = line.find(' ');
      if (sp != std::string::npos && IsHouseNumber(std::string_view(line).substr(0, sp))) {
        r->house_number = line.substr(0, sp);
        line = Trim(std::string_view(line).substr(sp + 1));
      }
    }
    if (!line.empty()) r->address_lines.push_back(std::move(line));
  }
}

void SetGivenNames(const std::vector<std::string>& names, PersonRecord* r) {
  for (const std::string& raw : names) {
    std::string n = Trim(raw);
    if (n.empty()) continue;
    if (r->given.empty()) {
      r->given = std::move(n);
    } else {
      r->other_names.push_back(std::move(n));
    }
  }
}

Sex SexFrom(std::string_view text) {
  std::string t = Trim(text);
  if (t.empty()) return Sex::kUnknown;
  switch (std::tolower(static_cast<unsigned char>(t[0]))) {
    case 'm':
      return Sex::kMale;
    case 'f':
      return Sex::kFemale;
    case 'o':
      return Sex::kOther;
    default:
      return Sex::kUnknown;
  }
}

PersonRecord PersonRecordFromPatient(const fhir::Json& p, std::string_view source_id,
                                     std::string_view record_id_system) {
  PersonRecord r;
  r.source_id = std::string(source_id);
  if (const fhir::Json* ids = fhir::Member(p, "identifier"); ids != nullptr && ids->IsArray()) {
    for (const auto& id : ids->GetArray()) {
      std::string_view system = fhir::StringMember(id, "system");
      if (!record_id_system.empty() && system == record_id_system && r.record_id.empty()) {
        r.record_id = std::string(fhir::StringMember(id, "value"));
      } else if (system == kNhsNumberSystem && r.nhs_number.empty()) {
        r.nhs_number = std::string(fhir::StringMember(id, "value"));
      }
    }
  }
  if (const fhir::Json* name = Preferred(fhir::Member(p, "name"), "official")) {
    r.family = std::string(fhir::StringMember(*name, "family"));
    std::vector<std::string> given;
    if (const fhir::Json* g = fhir::Member(*name, "given"); g != nullptr && g->IsArray()) {
      for (const auto& v : g->GetArray()) given.push_back(StringOf(v));
    }
    SetGivenNames(given, &r);
  }
  r.sex = SexFrom(fhir::StringMember(p, "gender"));
  r.dob = ParsePartialDate(std::string(fhir::StringMember(p, "birthDate")));
  if (const fhir::Json* a = Preferred(fhir::Member(p, "address"), "home")) {
    std::vector<std::string> lines;
    if (const fhir::Json* l = fhir::Member(*a, "line"); l != nullptr && l->IsArray()) {
      for (const auto& v : l->GetArray()) lines.push_back(StringOf(v));
    }
    SetAddressLines(lines, &r);
    r.town = std::string(fhir::StringMember(*a, "city"));
    r.postcode = std::string(fhir::StringMember(*a, "postalCode"));
  }
  return r;
}

}  // namespace lhcr::identity
