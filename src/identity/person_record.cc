#include "identity/person_record.h"

#include <cctype>

namespace lhcr::identity {

PartialDate ParsePartialDate(const std::string& text) {
  std::string d;
  for (char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      d += c;
    } else if (c != '-' && c != '/' && c != ' ') {
      return {};
    }
  }
  PartialDate out;
  if (d.size() != 4 && d.size() != 6 && d.size() != 8) return out;
  out.year = std::stoi(d.substr(0, 4));
  out.precision = DatePrecision::kYear;
  if (d.size() >= 6) {
    out.month = std::stoi(d.substr(4, 2));
    out.precision = DatePrecision::kMonth;
  }
  if (d.size() == 8) {
    out.day = std::stoi(d.substr(6, 2));
    out.precision = DatePrecision::kDay;
  }
  if (out.year == 0) return {};
  return out;
}

std::ostream& operator<<(std::ostream& os, const PersonRecord& r) {
  os << "{" << r.source_id << "/" << r.record_id << " " << r.given << " " << r.family << " dob "
     << r.dob.year << "-" << r.dob.month << "-" << r.dob.day << " pc " << r.postcode;
  if (!r.nhs_number.empty()) os << " nhs " << r.nhs_number;
  return os << "}";
}

}  // namespace lhcr::identity
