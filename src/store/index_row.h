// IndexRow: one search-index entry of one resource, as the store keeps it.
//
// The FHIR layer extracts rows from a resource (fhir/search_index.h); the
// store writes them beside the resource in the same transaction and answers
// index queries over them. A row names its search parameter by key
// "<ResourceType>.<code>" (e.g. "Observation.code"); the store maps keys to
// compact integer ids itself.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>

namespace lhcr::store {

enum class IndexType : uint8_t { kToken, kString, kDate, kReference, kQuantity, kNumber, kUri };

struct IndexRow {
  IndexType type = IndexType::kToken;
  std::string param;  // "<ResourceType>.<code>"
  // What the fields hold, by type:
  //   kToken:     s1 = system ("" when none), s2 = code (value)
  //   kString:    s1 = normalised text (lower case, accents and punctuation
  //               folded, see fhir::NormaliseString), s2 unused
  //   kDate:      lo, hi = inclusive range in milliseconds since the epoch (UTC)
  //   kReference: s1 = target resource type, s2 = target id for a local
  //               reference ("Patient/123" -> "Patient", "123"); for an
  //               absolute or canonical URL s1 = "" and s2 = the URL
  //   kQuantity:  num = value, s1 = system, s2 = code (unit code, or unit text)
  //   kNumber:    num = value
  //   kUri:       s1 = the URI
  std::string s1;
  std::string s2;
  double num = 0;
  int64_t lo = 0;
  int64_t hi = 0;

  // One row of each type, filled as the table above says.
  static IndexRow Token(std::string param, std::string system, std::string code) {
    return {IndexType::kToken, std::move(param), std::move(system), std::move(code)};
  }
  static IndexRow String(std::string param, std::string normalised) {
    return {IndexType::kString, std::move(param), std::move(normalised), {}};
  }
  static IndexRow Date(std::string param, int64_t lo, int64_t hi) {
    return {IndexType::kDate, std::move(param), {}, {}, 0, lo, hi};
  }
  static IndexRow Reference(std::string param, std::string type, std::string id) {
    return {IndexType::kReference, std::move(param), std::move(type), std::move(id)};
  }
  static IndexRow Quantity(std::string param, double value, std::string system, std::string code) {
    return {IndexType::kQuantity, std::move(param), std::move(system), std::move(code), value};
  }
  static IndexRow Number(std::string param, double value) {
    return {IndexType::kNumber, std::move(param), {}, {}, value};
  }
  static IndexRow Uri(std::string param, std::string uri) {
    return {IndexType::kUri, std::move(param), std::move(uri), {}};
  }

  auto Tie() const { return std::tie(type, param, s1, s2, num, lo, hi); }
  bool operator==(const IndexRow& o) const { return Tie() == o.Tie(); }
  bool operator<(const IndexRow& o) const { return Tie() < o.Tie(); }
};

}  // namespace lhcr::store
