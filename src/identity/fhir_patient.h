// A FHIR Patient as the matcher sees it: the PersonRecord of one source
// record. Used wherever Patients are matched — a region's FHIR feeds
// (mpi/region_reader.h), the stored record (mpi relink, $match).
//
// Mapping, as the FEBRL and Splink readers fill a record: the official
// name (else the first): first given -> given, further given -> other_names;
// gender -> sex; birthDate -> dob (partial dates kept); the home address
// (else the first): a leading house number ("31", "12a") of the first line ->
// house_number, the rest of the lines -> address_lines, city -> town,
// postalCode; the NHS number (https://fhir.nhs.uk/Id/nhs-number) as sent
// (Prepare() drops invalid ones); record_id = the value of the first
// identifier in `record_id_system` ("" when none matches or the system is
// empty). Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fhir/json.h"
#include "identity/person_record.h"

namespace lhcr::identity {

PersonRecord PersonRecordFromPatient(const fhir::Json& patient, std::string_view source_id,
                                     std::string_view record_id_system);

// Given names as a record holds them: the first -> given, the rest ->
// other_names (blank ones dropped).
void SetGivenNames(const std::vector<std::string>& names, PersonRecord* r);
// Address lines as a record holds them: a leading house number of the first
// line -> house_number, the rest -> address_lines (blank ones dropped).
void SetAddressLines(const std::vector<std::string>& lines, PersonRecord* r);
// FHIR gender codes, HL7 table 0001 (M/F/O/U/A/N) and words such as "Male".
Sex SexFrom(std::string_view text);

}  // namespace lhcr::identity
