// Reading every source record's identity from a multi-source region (the
// feeds `lhcr synth` writes, docs/SYNTH.md) and its ground truth, so that
// the matcher can be measured on a region it has never seen
// (`lhcr mpi eval --truth REGION_DIR`, docs/MATCHING.md "Regions").
//
// The region's sources.json (ingest::LoadSourceRegistry) says how each
// source sends its records:
//   * fhir   NDJSON, one transaction Bundle per line; every Patient in it is
//            a record, its id the identifier in the source's
//            record_id_system. A person registered at two practices has a
//            record at each.
//   * hl7v2  ER7 files (hl7v2::SplitMessages, ParseMessage); a record is a
//            PID-3 repetition of type MR (assigning authority = the source's
//            ODS code when one is given). A record appears in many messages:
//            the LATEST one's PID is taken, by EVN-2 (else MSH-7), equal
//            times by position in the feed (later wins) — the rule ingest
//            applies when it keeps the newest Patient (hl7v2::
//            DropStaleEntries), so the identity is the one the record
//            would hold after ingest (an A08 address change wins over the
//            admission before it). An A40 merge (MRG-1) does not remove the
//            retired MRN: truth maps both MRNs to one person, and finding
//            that is the matcher's job.
//   * csv    csv::ParseCsv in the mapping's dialect; rows sharing the
//            record_id_column are one record, its patient fields from the
//            LAST row (as csv::MapCsvToFhir takes them).
// Each becomes a identity::PersonRecord as the FEBRL and Splink readers fill one, by
// the mapping of fhir_patient.h (PersonRecordFromPatient for FHIR; its
// SetGivenNames, SetAddressLines and SexFrom for PID and CSV fields): first
// given name -> given, further given names -> other_names; a leading house
// number ("31" or "12a") of the first address line -> house_number, the
// rest of the lines -> address_lines ("Flat 15, 37 Cedar Drive" keeps no
// house number); town, postcode, sex, NHS number (digits as sent; Prepare()
// drops invalid ones). source_id is the registry's source id; the record
// key is RecordKey().
//
// Pure apart from reading the named files; safe to call from several
// threads at once.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "identity/evaluation.h"
#include "identity/person_record.h"

namespace lhcr::mpi {

// "<source_id>|<record_id>": the key of a source record in a region.
std::string RecordKey(const identity::PersonRecord& r);

struct RegionReadStats {
  std::map<std::string, size_t> records_per_source;
  size_t fhir_bundles = 0;
  size_t hl7_messages = 0;
  size_t hl7_merges = 0;  // A40 (MRG) messages seen; not applied
  size_t csv_rows = 0;
};

struct RegionIdentities {
  // One per source record: sources in registry order, each in order of
  // first appearance in its feed.
  std::vector<identity::PersonRecord> records;
  RegionReadStats stats;
};

// Reads `<dir>/sources.json` and every source's files. Errors:
// kUnavailable for an unreadable file; kIncorrect (naming source, file and
// line or message number) for a Bundle that is not JSON, a Patient without
// an identifier in the source's record_id_system, an HL7 message that does
// not parse or has a PID without an MR identifier, a CSV that does not
// parse or lacks a mapped column, a source of an unknown format. A FHIR
// record sent in two Bundles of one source is one record (the later line's
// Patient, as a second PUT would leave it).
Result<RegionIdentities> ReadRegionIdentities(const std::string& dir);

// One row of truth.csv (source_id,record_id,person_id,noise).
struct TruthRow {
  std::string key;  // RecordKey form
  std::string person_id;
  std::string noise;  // ';'-separated noise kinds, "" when exact
};
// Reads `<dir>/truth.csv`. kUnavailable when unreadable; kIncorrect for a
// wrong header, a row of the wrong shape or a key given twice.
Result<std::vector<TruthRow>> ReadRegionTruth(const std::string& dir);

// Records read, joined to truth: every record whose key truth holds, with
// its person and noise (identity::LabelledRecords::truth / noise), in the order of
// RegionIdentities::records.
struct RegionLabelled {
  identity::LabelledRecords data;
  RegionReadStats stats;
  size_t truth_rows = 0;
  std::vector<std::string> not_in_truth;  // keys read but absent from truth
  std::vector<std::string> not_read;      // truth keys no feed held
};
Result<RegionLabelled> LoadRegion(const std::string& dir);

}  // namespace lhcr::mpi
