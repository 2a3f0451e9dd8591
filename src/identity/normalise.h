// Normalisation of demographic values before comparison and blocking.
//
// Pure functions, safe from any thread. Each returns an empty string when
// nothing meaningful is left (which the comparators treat as missing).
#pragma once

#include <string>
#include <string_view>

#include "identity/person_record.h"

namespace lhcr::identity {

// Lower case, Latin-1 accents folded to ASCII (UTF-8 input), hyphens and
// apostrophes joined ("O'Brien-Smith" -> "obriensmith"), other punctuation
// to spaces, whitespace collapsed, titles dropped ("Mr", "Dr", "Rev", ...)
// and name particles joined to the next word ("van der Berg" -> "vanderberg").
std::string NormaliseName(std::string_view name);

// The formal name behind a common British nickname ("bill" -> "william",
// "peggy" -> "margaret"); the name itself when it is not in the table.
// Takes and returns a NormaliseName()d value.
std::string CanonicalGivenName(const std::string& normalised_given);

// Lower case, accents folded, punctuation to spaces, collapsed; common street
// type abbreviations expanded ("rd" -> "road", "st" -> "street").
std::string NormaliseAddress(std::string_view text);

// Upper case with spaces removed ("sw1a 1aa" -> "SW1A1AA").
std::string NormalisePostcode(std::string_view postcode);

// Parts of a UK postcode (area "SW", district "SW1A", sector "SW1A 1").
// Valid only when the postcode has the UK shape (outward code + digit +
// two letters); a postcode of another country (FEBRL's 4-digit Australian
// ones) gives uk == false and the comparator falls back to edit distance.
struct PostcodeParts {
  bool uk = false;
  std::string area, district, sector;
};
PostcodeParts SplitPostcode(const std::string& normalised_postcode);

// Digits only ("943 476 5919" -> "9434765919").
std::string DigitsOnly(std::string_view text);

// NHS number check (NHS Data Dictionary, "NHS number": weights 10..2 on
// digits 1-9, check digit 11 - (sum mod 11), 11 -> 0, 10 -> invalid).
// Placeholders that pass the check (all one digit, 0123456789) are rejected.
// Takes the digits-only form.
bool IsValidNhsNumber(const std::string& digits);

// American Soundex ("robert" -> "R163"); empty for an empty name.
std::string Soundex(std::string_view normalised_name);

// Lower case, trimmed, accents folded.
std::string NormaliseEmail(std::string_view email);

}  // namespace lhcr::identity
