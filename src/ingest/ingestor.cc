#include "ingest/ingestor.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include "base/ids.h"
#include "csv/to_fhir.h"
#include "fhir/json.h"
#include "hl7v2/message.h"
#include "ingest/fhir_source.h"
#include "ingest/merge.h"
#include "terminology/translate.h"

namespace lhcr::ingest {

namespace {

using fhir::Json;

std::vector<Finding> FromHl7(const std::vector<hl7v2::Finding>& in) {
  std::vector<Finding> out;
  out.reserve(in.size());
  for (const hl7v2::Finding& f : in) out.push_back({f.location, f.code, f.message});
  return out;
}

// The first component of field `field` of the first `segment` ("PID", 3) as
// sent: no parsing, no unescaping; "" when absent.
std::string RawField(std::string_view er7, std::string_view segment, int field) {
  size_t at = std::string_view::npos;
  for (char sep : {'\r', '\n'}) {
    std::string head = std::string(1, sep) + std::string(segment) + "|";
    at = std::min(at, er7.find(head));
  }
  if (at == std::string_view::npos) return {};
  at += segment.size() + 2;
  for (int f = 1; f < field; ++f) {
    size_t bar = er7.find('|', at);
    if (bar == std::string_view::npos) return {};
    at = bar + 1;
  }
  size_t end = er7.find_first_of("|^~\r\n", at);
  if (end == std::string_view::npos) end = er7.size();
  return std::string(er7.substr(at, end - at));
}

// Partition keys for a file of HL7 messages: the patient (PID-3), with the
// two records of a merge (PID-3 and MRG-1) joined into one key, so that all
// messages about a patient and its merges go to one worker in file order.
std::vector<std::string> Hl7PartitionKeys(const std::vector<std::string_view>& messages) {
  std::unordered_map<std::string, std::string> parent;
  std::function<std::string(const std::string&)> find = [&](const std::string& k) {
    auto it = parent.find(k);
    if (it == parent.end() || it->second == k) return k;
    std::string root = find(it->second);
    parent[k] = root;
    return root;
  };
  std::vector<std::string> keys;
  keys.reserve(messages.size());
  for (std::string_view m : messages) {
    keys.push_back(RawField(m, "PID", 3));
    std::string merged = RawField(m, "MRG", 1);
    if (!merged.empty() && !keys.back().empty()) {
      std::string a = find(keys.back()), b = find(merged);
      if (a != b) parent[a] = b;
    }
  }
  for (std::string& k : keys) k = find(k);
  return keys;
}

// The source a stored resource came from: meta.source up to '#'.
std::string_view SourceOf(const Json& resource) {
  const Json* meta = fhir::Member(resource, "meta");
  if (meta == nullptr) return {};
  std::string_view s = fhir::StringMember(*meta, "source");
  return s.substr(0, s.find('#'));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string FamilyOf(const Json& patient) {
  const Json* names = fhir::Member(patient, "name");
  if (names == nullptr || !names->IsArray()) return {};
  for (const Json& n : names->GetArray()) {
    std::string_view f = fhir::StringMember(n, "family");
    if (!f.empty()) return Lower(f);
  }
  return {};
}

bool Active(const Json& patient) {
  const Json* a = fhir::Member(patient, "active");
  return a == nullptr || !a->IsBool() || a->GetBool();
}

// Whether two Patients share a local (non-NHS-number) identifier.
bool SameRecord(const Json& a, const Json& b) {
  const Json* ia = fhir::Member(a, "identifier");
  const Json* ib = fhir::Member(b, "identifier");
  if (ia == nullptr || ib == nullptr || !ia->IsArray() || !ib->IsArray()) return false;
  for (const Json& x : ia->GetArray()) {
    if (fhir::StringMember(x, "system") == hl7v2::kNhsNumberSystem) continue;
    for (const Json& y : ib->GetArray()) {
      if (fhir::StringMember(x, "system") == fhir::StringMember(y, "system") &&
          fhir::StringMember(x, "value") == fhir::StringMember(y, "value")) {
        return true;
      }
    }
  }
  return false;
}

std::string LocalIdOf(const Json& patient) {
  const Json* ids = fhir::Member(patient, "identifier");
  if (ids == nullptr || !ids->IsArray()) return std::string(fhir::StringMember(patient, "id"));
  for (const Json& x : ids->GetArray()) {
    if (fhir::StringMember(x, "system") != hl7v2::kNhsNumberSystem) {
      return std::string(fhir::StringMember(x, "value"));
    }
  }
  return std::string(fhir::StringMember(patient, "id"));
}

}  // namespace

void BatchReport::Add(const ItemOutcome& o) {
  ++items;
  written += o.written;
  unchanged += o.unchanged;
  findings += static_cast<int64_t>(o.findings.size());
  if (o.status.ok()) {
    ++accepted;
  } else {
    ++rejected;
    if (rejected_items.size() < kMaxRejectedKept) rejected_items.push_back(o);
  }
}

void BatchReport::Merge(const BatchReport& other) {
  items += other.items;
  accepted += other.accepted;
  rejected += other.rejected;
  written += other.written;
  unchanged += other.unchanged;
  findings += other.findings;
  for (const ItemOutcome& o : other.rejected_items) {
    if (rejected_items.size() < kMaxRejectedKept) rejected_items.push_back(o);
  }
  acks.insert(acks.end(), other.acks.begin(), other.acks.end());
}

Ingestor::Ingestor(interaction::Interactions& interactions, const SourceRegistry* registry,
                   IngestJournal* journal, Clock& clock, IdGenerator& ids)
    : interactions_(interactions), registry_(registry), journal_(journal), clock_(clock),
      ids_(ids) {}

hl7v2::AckOptions Ingestor::AckOptionsNow() {
  hl7v2::AckOptions o;
  o.control_id = ids_.Next();
  o.now = clock_.Now();
  return o;
}

std::mutex& Ingestor::StripeFor(const std::string& key) {
  return stripes_[Fnv1a(key) % stripes_.size()];
}

Result<std::optional<std::string>> Ingestor::CurrentResource(const std::string& type,
                                                             const std::string& query) {
  // Parsed as the transaction will parse the entry's conditional url.
  return interactions_.ConditionalMatch(type, query);
}

Status Ingestor::WriteBundle(const std::string& source_id, const std::string& lock_key,
                             const std::string& mapped_json, ItemOutcome& out) {
  // Terminology first: the stale check then compares translated with
  // translated (what was stored), so a resend stays a resend.
  std::string translated;
  if (terminology_ != nullptr && ucum_ != nullptr) {
    const Source* source = registry_ != nullptr ? registry_->FindById(source_id) : nullptr;
    ASSIGN_OR_RETURN(terminology::BundleTranslation t,
                     terminology::TranslateBundle(*terminology_, *ucum_,
                                                  source != nullptr ? ConceptMapsOf(*source)
                                                                    : std::vector<std::string>{},
                                                  mapped_json));
    for (terminology::TranslationFinding& f : t.findings) {
      out.findings.push_back({std::move(f.location), std::move(f.code), std::move(f.message)});
    }
    if (t.changed) translated = std::move(t.bundle_json);
  }
  const std::string& bundle_json = translated.empty() ? mapped_json : translated;
  hl7v2::CurrentResourceLookup lookup = [this](const std::string& type, const std::string& query) {
    return CurrentResource(type, query);
  };
  std::string written;
  {
    std::lock_guard<std::mutex> lock(StripeFor(source_id + "|" + lock_key));
    // A Person a linker read may change before the write (If-Match fails):
    // read again and retry.
    Status status;
    for (int attempt = 0; attempt < 4; ++attempt) {
      ASSIGN_OR_RETURN(hl7v2::StaleCheck checked, hl7v2::DropStaleEntries(bundle_json, lookup));
      if (checked.kept == 0) {  // a resend, older news, or nothing new
        out.unchanged += checked.dropped;
        return Status::Ok();
      }
      int added = 0;
      if (linker_ != nullptr) {
        ASSIGN_OR_RETURN(std::vector<std::string> links, linker_->LinkEntries(checked.bundle_json));
        if (!links.empty()) {
          // Append to the entry array: the Bundle ends "]}".
          std::string& b = checked.bundle_json;
          b.resize(b.size() - 2);
          for (const std::string& e : links) b += "," + e;
          b += "]}";
          added = static_cast<int>(links.size());
        }
      }
      interaction::RequestContext ctx;
      status = interactions_.Bundle(ctx, checked.bundle_json).status();
      if (status.ok()) {
        out.unchanged += checked.dropped;
        out.written += checked.kept + added;
        written = std::move(checked.bundle_json);
        break;
      }
      if (added == 0 || (status.code() != StatusCode::kPrecondition &&
                         status.code() != StatusCode::kConflict)) {
        return status;
      }
    }
    RETURN_IF_ERROR(status);
  }
  CheckPatients(source_id, written, out);
  return Status::Ok();
}

// Cross-source checks of each Patient just written that has an NHS number:
// another active record of the same source with that number is a duplicate;
// another source's record with that number but a different date of birth,
// sex or family name is a conflict (one of the two is wrong).
void Ingestor::CheckPatients(const std::string& source_id, const std::string& written_bundle,
                             ItemOutcome& out) {
  auto doc = fhir::ParseJson(written_bundle);
  if (!doc.ok()) return;
  const Json* entries = fhir::Member(*doc, "entry");
  if (entries == nullptr || !entries->IsArray()) return;
  for (const Json& e : entries->GetArray()) {
    const Json* p = fhir::Member(e, "resource");
    if (p == nullptr || fhir::StringMember(*p, "resourceType") != "Patient") continue;
    const Json* ids = fhir::Member(*p, "identifier");
    std::string nhs;
    if (ids != nullptr && ids->IsArray()) {
      for (const Json& x : ids->GetArray()) {
        if (fhir::StringMember(x, "system") == hl7v2::kNhsNumberSystem) {
          nhs = std::string(fhir::StringMember(x, "value"));
        }
      }
    }
    if (nhs.empty() || !hl7v2::IsValidNhsNumber(nhs)) continue;
    auto found = interactions_.ConditionalMatches(
        "Patient", "identifier=" + std::string(hl7v2::kNhsNumberSystem) + "|" + nhs, 50);
    if (!found.ok()) continue;  // feedback is best effort; the write stands
    const std::string here_birth(fhir::StringMember(*p, "birthDate"));
    const std::string here_gender(fhir::StringMember(*p, "gender"));
    const std::string here_family = FamilyOf(*p);
    for (const std::string& hit : *found) {
      auto parsed = fhir::ParseJson(hit);
      if (!parsed.ok()) continue;
      const Json* other = &*parsed;
      if (SameRecord(*p, *other)) continue;
      std::string other_source(SourceOf(*other));
      if (other_source == source_id) {
        if (Active(*p) && Active(*other)) {
          out.findings.push_back({"Patient " + LocalIdOf(*p), "duplicate-record",
                                  "NHS number " + nhs + " is also on this source's record " +
                                      LocalIdOf(*other)});
        }
        continue;
      }
      std::string what;
      auto differs = [&](const char* item, const std::string& here, const std::string& there) {
        if (here.empty() || there.empty() || here == there) return;
        if (!what.empty()) what += "; ";
        what += std::string(item) + " '" + here + "' here, '" + there + "' at " + other_source;
      };
      differs("birthDate", here_birth, std::string(fhir::StringMember(*other, "birthDate")));
      differs("gender", here_gender, std::string(fhir::StringMember(*other, "gender")));
      differs("family name", here_family, FamilyOf(*other));
      if (!what.empty()) {
        out.findings.push_back({"Patient " + LocalIdOf(*p) + " vs " + other_source,
                                "conflicting-demographics",
                                "NHS number " + nhs + " with different demographics: " + what});
      }
    }
  }
}

void Ingestor::Record(const std::string& source_id, const std::string& format,
                      std::string_view body, bool replay, ItemOutcome& out) {
  if (journal_ == nullptr) return;
  const std::string now = FormatInstant(clock_.Now());
  SourceCounts delta;
  delta.received = replay ? 0 : 1;
  delta.written = out.written;
  delta.unchanged = out.unchanged;
  if (out.status.ok()) {
    delta.accepted = 1;
    if (replay) delta.rejected = -1;
  } else if (replay) {
    out.findings.push_back({"", "rejected", out.status.message()});
  } else {
    delta.rejected = 1;
    auto id = journal_->Quarantine(source_id, format, out.status.ToString(), body, now);
    if (id.ok()) out.quarantine_id = *id;
    out.findings.push_back({"", "rejected", out.status.message()});
  }
  (void)journal_->Count(source_id, delta);
  (void)journal_->AddFindings(source_id, out.record, out.findings, now);
}

Result<hl7v2::SourceInfo> Ingestor::Identify(const hl7v2::Message& message, const Source* expected,
                                             std::string* source_id) const {
  const std::string application = message.Get("MSH-3");
  const std::string facility = message.Get("MSH-4");
  if (expected != nullptr) {
    *source_id = expected->id;
    if (facility != expected->ods_code && application != expected->id) {
      return Status::Unsupported("message from sending application (MSH-3) '" + application +
                                 "' and facility (MSH-4) '" + facility +
                                 "' posted as source '" + expected->id + "' (ODS " +
                                 expected->ods_code + ")")
          .WithDetails({{"204", "MSH-4", ""}});
    }
    return ToHl7SourceInfo(*expected);
  }
  if (registry_ == nullptr) {
    hl7v2::SourceInfo info;
    // The organisation (MSH-4) owns the local patient numbers that all its
    // applications (PAS, lab) send, so it names the source.
    info.source_id = !facility.empty() ? facility : application;
    info.ods_code = facility;
    *source_id = info.source_id;
    if (info.source_id.empty()) {
      return Status::Incorrect("MSH-3 and MSH-4 are both empty: the sender is unknown")
          .WithDetails({{"101", "MSH-4", ""}});
    }
    return info;
  }
  const Source* source = registry_->FindByOds(facility);
  if (source == nullptr) source = registry_->FindById(application);
  if (source == nullptr) {
    // An unknown sender is not a content error: reject (AR), not AE.
    return Status::Unsupported("unknown sender: sending application (MSH-3) '" + application +
                               "' and sending facility (MSH-4) '" + facility +
                               "' match no registered source")
        .WithDetails({{"204", "MSH-4", ""}});
  }
  *source_id = source->id;
  return ToHl7SourceInfo(*source);
}

ItemOutcome Ingestor::IngestHl7(std::string_view er7, const Source* expected, bool replay) {
  ItemOutcome out;
  std::string source_id = expected ? expected->id : "";
  try {
    auto message = hl7v2::ParseMessage(er7);
    if (!message.ok()) {
      out.status = message.status();
      out.ack = hl7v2::MakeAckForUnparsable(er7, message.status(), AckOptionsNow());
    } else {
      out.record = message->Get("MSH-10");
      auto source = Identify(*message, expected, &source_id);
      if (!source.ok()) {
        out.status = source.status();
      } else if (auto mapped = hl7v2::MapToFhir(*message, *source); !mapped.ok()) {
        out.status = mapped.status();
      } else {
        out.findings = FromHl7(mapped->findings);
        out.status = WriteBundle(source_id, message->Get("PID-3"), mapped->bundle_json, out);
        if (out.status.ok() && mapped->merge) {
          // Even when the Bundle stored nothing new (a resend): the merge
          // is idempotent, and an earlier attempt may have failed.
          out.status = Merge(*source, *mapped, out);
        }
      }
      out.ack = hl7v2::MakeAck(*message, hl7v2::AckCodeFor(out.status), out.status,
                               AckOptionsNow());
    }
  } catch (const std::exception& e) {
    out.status = Status::Fault(std::string("ingest failed: ") + e.what());
    out.ack = hl7v2::MakeAckForUnparsable(er7, out.status, AckOptionsNow());
  } catch (...) {
    out.status = Status::Fault("ingest failed");
    out.ack = hl7v2::MakeAckForUnparsable(er7, out.status, AckOptionsNow());
  }
  Record(source_id, "hl7v2", er7, replay, out);
  return out;
}

Status Ingestor::Merge(const hl7v2::SourceInfo& source, const hl7v2::MappedMessage& mapped,
                       ItemOutcome& out) {
  const hl7v2::MergeInstruction& m = *mapped.merge;
  std::mutex& a = StripeFor(source.source_id + "|" + m.survivor.value);
  std::mutex& b = StripeFor(source.source_id + "|" + m.retired.value);
  std::unique_lock<std::mutex> la(a, std::defer_lock), lb(b, std::defer_lock);
  if (&a == &b) {
    la.lock();
  } else {
    std::lock(la, lb);
  }
  // A concurrent change to one of the records between the merge's read and
  // its write fails it with kPrecondition (nothing written): read again.
  Result<MergeOutcome> done = Status::Precondition("not tried");
  for (int attempt = 0; attempt < 3; ++attempt) {
    done = CarryOutMerge(interactions_, m, MergeContext::For(source, mapped, clock_.Now()));
    if (done.ok() || done.status().code() != StatusCode::kPrecondition) break;
  }
  if (!done.ok()) return done.status();
  out.written += static_cast<int>(done->written.size());
  if (done->kind == MergeOutcome::Kind::kRetiredNotFound) {
    out.findings.push_back({"MRG-1", "merge-target-unknown",
                            "merge of record " + m.retired.value + " into " + m.survivor.value +
                                ": this source sent no record " + m.retired.value});
  }
  return Status::Ok();
}

std::string Ingestor::HandleHl7(std::string_view er7, const Source* expected) {
  return IngestHl7(er7, expected, /*replay=*/false).ack;
}

ItemOutcome Ingestor::IngestFhir(const Source& source, std::string_view bundle_json, int line,
                                 bool replay) {
  ItemOutcome out;
  out.record = line > 0 ? "line " + std::to_string(line) : "";
  try {
    auto stamped =
        StampSourceBundle(bundle_json, source.id, source.ods_code, FormatInstant(clock_.Now()));
    if (!stamped.ok()) {
      out.status = stamped.status();
    } else {
      out.record = stamped->key;
      out.findings = std::move(stamped->findings);
      out.status = WriteBundle(source.id, stamped->lock_key, stamped->bundle_json, out);
    }
  } catch (const std::exception& e) {
    out.status = Status::Fault(std::string("ingest failed: ") + e.what());
  }
  if (!out.status.ok() && line > 0) {
    out.status = Status(out.status.code(), "line " + std::to_string(line) + ": " +
                                               out.status.message());
  }
  Record(source.id, "fhir", bundle_json, replay, out);
  return out;
}

struct Ingestor::Item {
  std::string_view text;  // the bytes of this item as received (CSV: its Bundle)
  int line = 0;           // FHIR NDJSON: 1-based line
  std::string key;        // items with the same key are taken in order by one worker
  const csv::CsvRecord* record = nullptr;  // CSV: the mapped record
};

ItemOutcome Ingestor::IngestCsvRecord(const Source& source, const std::string& record_id,
                                      std::string_view bundle_json,
                                      const std::vector<csv::Finding>& findings, bool replay) {
  ItemOutcome out;
  out.record = record_id;
  for (const csv::Finding& f : findings) out.findings.push_back({f.location, f.code, f.message});
  try {
    out.status = WriteBundle(source.id, record_id, std::string(bundle_json), out);
  } catch (const std::exception& e) {
    out.status = Status::Fault(std::string("ingest failed: ") + e.what());
  }
  // Held as its Bundle: the rows it came from are one record of the extract.
  Record(source.id, "csv-record", bundle_json, replay, out);
  return out;
}

Result<BatchReport> Ingestor::IngestText(const Source& source, std::string_view text,
                                         const IngestOptions& options) {
  BatchReport report;
  report.source_id = source.id;
  report.format = source.format;
  std::vector<Item> items;
  csv::CsvMapped mapped_csv;  // CSV: the records the items point into
  if (source.format == "hl7v2") {
    std::vector<std::string_view> messages = hl7v2::SplitMessages(text);
    std::vector<std::string> keys = Hl7PartitionKeys(messages);
    for (size_t i = 0; i < messages.size(); ++i) items.push_back({messages[i], 0, keys[i]});
  } else if (source.format == "fhir") {
    // One Bundle (possibly pretty-printed), or NDJSON: one per line.
    std::string_view trimmed = text;
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) {
      trimmed.remove_suffix(1);
    }
    if (trimmed.find('\n') == std::string_view::npos || fhir::ParseJson(trimmed).ok()) {
      if (!trimmed.empty()) items.push_back({trimmed, 0, ""});
    } else {
      size_t begin = 0;
      int line = 0;
      while (begin < text.size()) {
        size_t end = text.find('\n', begin);
        if (end == std::string_view::npos) end = text.size();
        ++line;
        std::string_view l = text.substr(begin, end - begin);
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        bool blank = std::all_of(l.begin(), l.end(),
                                 [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
        if (!blank) items.push_back({l, line, std::to_string(line)});
        begin = end + 1;
      }
    }
  } else if (source.format == "csv" && source.csv) {
    csv::CsvSourceInfo info = ToCsvSourceInfo(source);
    info.extract_time = FormatInstant(clock_.Now());
    auto m = csv::MapCsvToFhir(text, *source.csv, info);
    if (!m.ok()) {
      // Nothing of it can be taken: hold it whole.
      ItemOutcome whole;
      whole.status = m.status();
      if (!options.replay) Record(source.id, "csv", text, false, whole);
      return m.status();
    }
    mapped_csv = std::move(*m);
    for (const csv::CsvRecord& r : mapped_csv.records) {
      items.push_back({r.bundle_json, r.first_row, r.record_id, &r});
    }
    // Rows that name no record: rejected, reported, not replayable.
    for (const csv::Finding& f : mapped_csv.findings_without_record) {
      ItemOutcome row;
      row.record = f.location;
      row.status = Status::Incorrect(f.location + ": " + f.message);
      row.findings.push_back({f.location, f.code, f.message});
      if (journal_ != nullptr) {
        (void)journal_->Count(source.id, {.received = 1, .rejected = 1});
        (void)journal_->AddFindings(source.id, row.record, row.findings,
                                    FormatInstant(clock_.Now()));
      }
      report.Add(row);
    }
  } else {
    return Status::Unsupported("source " + source.id + " has format '" + source.format +
                               "'" + (source.format == "csv" ? " but no column mapping" : "") +
                               "; lhcr ingests hl7v2, fhir and csv (with a mapping)");
  }
  if (items.empty() && report.items == 0) {
    return Status::Incorrect("no messages or records in the body");
  }

  std::vector<ItemOutcome> outcomes(items.size());
  std::atomic<size_t> done_bytes{0};
  auto run = [&](size_t i) {
    const Item& item = items[i];
    if (item.record != nullptr) {
      outcomes[i] = IngestCsvRecord(source, item.record->record_id, item.text,
                                    item.record->findings, options.replay);
    } else if (source.format == "hl7v2") {
      outcomes[i] = IngestHl7(item.text, &source, options.replay);
    } else {
      outcomes[i] = IngestFhir(source, item.text, item.line, options.replay);
    }
    done_bytes += item.text.size();
  };
  const size_t threads =
      std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(options.threads), items.size()));
  if (threads == 1) {
    for (size_t i = 0; i < items.size(); ++i) {
      run(i);
      if (options.progress && (i % 64 == 0 || i + 1 == items.size())) {
        options.progress(done_bytes, text.size());
      }
    }
  } else {
    // Worker w takes the items whose key hashes to w, in order: one
    // patient's messages are applied in the order they were sent.
    std::mutex mu;
    std::condition_variable all_done;
    size_t finished = 0;
    std::vector<std::thread> pool;
    for (size_t w = 0; w < threads; ++w) {
      pool.emplace_back([&, w] {
        for (size_t i = 0; i < items.size(); ++i) {
          if (Fnv1a(items[i].key) % threads == w) run(i);
        }
        std::lock_guard<std::mutex> lock(mu);
        if (++finished == threads) all_done.notify_one();
      });
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      while (!all_done.wait_for(lock, std::chrono::milliseconds(200),
                                [&] { return finished == threads; })) {
        if (options.progress) options.progress(done_bytes, text.size());
      }
    }
    for (std::thread& t : pool) t.join();
    if (options.progress) options.progress(done_bytes, text.size());
  }
  for (ItemOutcome& o : outcomes) {
    report.Add(o);
    if (options.keep_acks && !o.ack.empty()) report.acks.push_back(std::move(o.ack));
  }
  return report;
}

Result<BatchReport> Ingestor::Replay(int64_t quarantine_id) {
  if (journal_ == nullptr) return Status::Unavailable("no ingest journal");
  ASSIGN_OR_RETURN(QuarantineItem item, journal_->GetQuarantine(quarantine_id));
  if (item.status != "held") {
    return Status::Conflict("quarantined item " + std::to_string(quarantine_id) + " is " +
                            item.status + ", not held");
  }
  const Source* source = registry_ ? registry_->FindById(item.source_id) : nullptr;
  BatchReport report;
  report.source_id = item.source_id;
  report.format = item.format;
  if (item.format == "hl7v2") {
    ItemOutcome o = IngestHl7(item.body, source, /*replay=*/true);
    report.Add(o);
    report.acks.push_back(o.ack);
  } else if (source == nullptr) {
    return Status::Precondition("quarantined item " + std::to_string(quarantine_id) +
                                " names source '" + item.source_id + "', which is not registered");
  } else if (item.format == "csv-record") {
    report.Add(IngestCsvRecord(*source, "quarantine " + std::to_string(quarantine_id), item.body,
                               {}, /*replay=*/true));
  } else {
    IngestOptions options;
    options.replay = true;
    ASSIGN_OR_RETURN(report, IngestText(*source, item.body, options));
  }
  if (report.rejected == 0) {
    RETURN_IF_ERROR(journal_->Resolve(quarantine_id, "replayed", FormatInstant(clock_.Now())));
  }
  return report;
}

}  // namespace lhcr::ingest
