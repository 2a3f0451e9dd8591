#include "ingest/merge.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "base/text.h"
#include "fhir/json.h"
#include "fhir/search_index.h"
#include "fhir/search_param.h"

namespace lhcr::ingest {

namespace {

using text::Slug;

using fhir::Json;
using fhir::JsonDoc;

constexpr std::string_view kReplacedBy = "replaced-by";
constexpr std::string_view kReplaces = "replaces";

// A resource found by a search: its own document, and where it sat in the
// search Bundle (the key of its number texts there).
struct Found {
  std::string type;
  std::string id;
  int64_t version = 0;
  bool included = false;  // search.mode "include" (else "match")
  std::string pointer;    // "/entry/<i>/resource"
  JsonDoc doc;
};

struct Searched {
  fhir::NumberTexts texts;  // of the whole search Bundle
  std::vector<Found> entries;
  int64_t total = 0;  // matches (Bundle.total)
};

// A search value with FHIR's escapes for ',', '$' and '|' (R4 3.1.1.5.7).
std::string EscapeSearchValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == ',' || c == '$' || c == '|') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string Quote(std::string_view s) {
  Json v(rapidjson::StringRef(s.data(), s.size()));
  return fhir::ToJson(v);
}

Json Str(std::string_view s, JsonDoc::AllocatorType& a) {
  return Json(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

Result<Searched> RunSearch(interaction::Interactions& in, const std::string& type,
                           const search::QueryParams& params) {
  interaction::RequestContext ctx;
  ASSIGN_OR_RETURN(interaction::Response r, in.Search(ctx, type, params));
  Searched out;
  ASSIGN_OR_RETURN(JsonDoc bundle, fhir::ParseJsonKeepingNumbers(r.body, &out.texts));
  if (const Json* total = fhir::Member(bundle, "total"); total != nullptr && total->IsInt64()) {
    out.total = total->GetInt64();
  }
  const Json* entries = fhir::Member(bundle, "entry");
  if (entries == nullptr || !entries->IsArray()) return out;
  for (rapidjson::SizeType i = 0; i < entries->Size(); ++i) {
    const Json& e = (*entries)[i];
    const Json* res = fhir::Member(e, "resource");
    if (res == nullptr || !res->IsObject()) continue;
    const Json* search = fhir::Member(e, "search");
    std::string_view mode = search != nullptr ? fhir::StringMember(*search, "mode") : "";
    if (mode != "match" && mode != "include") continue;  // an OperationOutcome
    Found f;
    f.type = fhir::StringMember(*res, "resourceType");
    f.id = fhir::StringMember(*res, "id");
    f.included = mode == "include";
    f.pointer = "/entry/" + std::to_string(i) + "/resource";
    const Json* meta = fhir::Member(*res, "meta");
    std::string_view vid = meta != nullptr ? fhir::StringMember(*meta, "versionId") : "";
    if (vid.empty() || vid.size() > 18 ||
        vid.find_first_not_of("0123456789") != std::string::npos) {
      return Status::Fault("search returned " + f.type + "/" + f.id + " without a versionId");
    }
    f.version = std::stoll(std::string(vid));
    f.doc.CopyFrom(*res, f.doc.GetAllocator());
    out.entries.push_back(std::move(f));
  }
  return out;
}

bool FromSource(const Json& resource, std::string_view source_id) {
  const Json* meta = fhir::Member(resource, "meta");
  if (meta == nullptr) return false;
  std::string_view src = fhir::StringMember(*meta, "source");
  return src.size() > source_id.size() && src.substr(0, source_id.size()) == source_id &&
         src[source_id.size()] == '#';
}

// The source's Patients with `identifier` (a token search, then filtered on
// meta.source: an NHS number names Patients of many sources).
Result<Searched> FindSourcePatients(interaction::Interactions& in,
                                    const hl7v2::Identifier& identifier,
                                    const std::string& source_id) {
  ASSIGN_OR_RETURN(Searched s,
                   RunSearch(in, "Patient",
                             {{"identifier", EscapeSearchValue(identifier.system) + "|" +
                                                 EscapeSearchValue(identifier.value)},
                              {"_count", "1000"}}));
  if (s.total > static_cast<int64_t>(s.entries.size())) {
    return Status::Unsupported("Patient?identifier=" + identifier.system + "|" + identifier.value +
                               " matches " + std::to_string(s.total) +
                               " Patients, more than one page");
  }
  std::erase_if(s.entries,
                [&](const Found& f) { return f.included || !FromSource(f.doc, source_id); });
  return s;
}

// `Type:param` for every reference search parameter that may point at a
// Patient, on every resource type but those a merge does not re-point (see
// merge.h): the generic form of the Patient compartment, and a superset of
// it (Observation.focus, List.item, ... count too).
search::QueryParams RevIncludes(const fhir::SearchParamRegistry& registry) {
  std::set<std::string> specs;
  for (const auto& p : registry.params()) {
    if (p->type != fhir::SearchParamType::kReference) continue;
    if (!p->targets.empty() &&
        std::find(p->targets.begin(), p->targets.end(), "Patient") == p->targets.end()) {
      continue;
    }
    for (const std::string& base : p->base) {
      if (base == "Patient" || base == "Provenance" || base == "AuditEvent") continue;
      if (!registry.IsResourceType(base)) continue;
      // Resource-specific parameters shadow shared ones of the same code.
      if (registry.Find(base, p->code) != p.get()) continue;
      specs.insert(base + ":" + p->code);
    }
  }
  search::QueryParams out;
  for (const std::string& s : specs) out.emplace_back("_revinclude", s);
  return out;
}

// Replaces every reference to Patient/<from> (also a versioned one) inside
// `node` by `to`. Returns how many were replaced.
int Repoint(Json& node, const std::string& from, const std::string& to, JsonDoc::AllocatorType& a) {
  int n = 0;
  if (node.IsArray()) {
    for (Json& e : node.GetArray()) n += Repoint(e, from, to, a);
    return n;
  }
  if (!node.IsObject()) return 0;
  // Indexed: clang rejects RapidJSON 1.1's member-iterator comparison in
  // C++20 (ambiguous reversed operator).
  for (rapidjson::SizeType k = 0; k < node.MemberCount(); ++k) {
    auto& m = *(node.MemberBegin() + k);
    if (m.value.IsString() && fhir::AsView(m.name) == "reference") {
      std::string_view ref = fhir::AsView(m.value);
      if (ref == from || (ref.size() > from.size() + 10 && ref.substr(0, from.size()) == from &&
                          ref.substr(from.size(), 10) == "/_history/")) {
        m.value.SetString(to.c_str(), static_cast<rapidjson::SizeType>(to.size()), a);
        ++n;
      }
    } else {
      n += Repoint(m.value, from, to, a);
    }
  }
  return n;
}

std::string_view LinkType(const Json& link) { return fhir::StringMember(link, "type"); }
std::string_view LinkOther(const Json& link) {
  const Json* other = fhir::Member(link, "other");
  return other != nullptr ? fhir::StringMember(*other, "reference") : std::string_view();
}

// Makes `patient.link` hold {other: `other`, type: `type`} and none of the
// links `drop` selects. Returns whether anything changed.
template <typename Drop>
bool SetLink(JsonDoc& patient, const std::string& other, std::string_view type, Drop drop) {
  auto& a = patient.GetAllocator();
  Json kept(rapidjson::kArrayType);
  bool changed = false;
  bool present = false;
  if (auto it = patient.FindMember("link"); it != patient.MemberEnd() && it->value.IsArray()) {
    for (Json& l : it->value.GetArray()) {
      if (LinkOther(l) == other && LinkType(l) == type) {
        if (present) {  // a duplicate
          changed = true;
          continue;
        }
        present = true;
      } else if (drop(l)) {
        changed = true;
        continue;
      }
      kept.PushBack(Json(l, a), a);
    }
    patient.RemoveMember("link");
  }
  if (!present) {
    Json ref(rapidjson::kObjectType);
    ref.AddMember("reference", Str(other, a), a);
    Json link(rapidjson::kObjectType);
    link.AddMember("other", ref, a);
    link.AddMember("type", Str(type, a), a);
    kept.PushBack(link, a);
    changed = true;
  }
  patient.AddMember("link", kept, a);
  return changed;
}

// The retired record: inactive, replaced by the survivor.
bool Retire(JsonDoc& patient, const std::string& survivor_ref) {
  bool changed = false;
  auto active = patient.FindMember("active");
  if (active == patient.MemberEnd() || !active->value.IsBool() || active->value.GetBool()) {
    if (active != patient.MemberEnd()) patient.RemoveMember("active");
    patient.AddMember("active", false, patient.GetAllocator());
    changed = true;
  }
  changed |= SetLink(patient, survivor_ref, kReplacedBy, [&](const Json& l) {
    return LinkType(l) == kReplacedBy || (LinkType(l) == kReplaces && LinkOther(l) == survivor_ref);
  });
  return changed;
}

// The survivor: replaces the retired record (and is no longer replaced by it).
bool Survive(JsonDoc& patient, const std::string& retired_ref) {
  return SetLink(patient, retired_ref, kReplaces, [&](const Json& l) {
    return LinkType(l) == kReplacedBy && LinkOther(l) == retired_ref;
  });
}

std::optional<int64_t> Start(std::string_view fhir_time) {
  auto r = fhir::ParseFhirDateRange(fhir_time);
  if (!r.ok()) return std::nullopt;
  return r->lo;
}

// A version written by the merge: meta.source names the merge message, and
// the message time is the later of the resource's and the merge message's.
void Stamp(JsonDoc& doc, const MergeContext& ctx) {
  auto& a = doc.GetAllocator();
  auto meta = doc.FindMember("meta");
  if (meta == doc.MemberEnd() || !meta->value.IsObject()) {
    if (meta != doc.MemberEnd()) doc.RemoveMember("meta");
    doc.AddMember("meta", Json(rapidjson::kObjectType), a);
    meta = doc.FindMember("meta");
  }
  meta->value.RemoveMember("source");
  meta->value.AddMember("source", Str(ctx.MetaSource(), a), a);
  if (ctx.message_time.empty()) return;
  auto ext = doc.FindMember("extension");
  if (ext == doc.MemberEnd() || !ext->value.IsArray()) {
    if (ext != doc.MemberEnd()) doc.RemoveMember("extension");
    doc.AddMember("extension", Json(rapidjson::kArrayType), a);
    ext = doc.FindMember("extension");
  }
  for (Json& e : ext->value.GetArray()) {
    if (fhir::StringMember(e, "url") != hl7v2::kMessageTimeExtension) continue;
    auto own = Start(fhir::StringMember(e, "valueDateTime"));
    auto merge = Start(ctx.message_time);
    if (merge && (!own || *merge > *own)) {
      e.RemoveMember("valueDateTime");
      e.AddMember("valueDateTime", Str(ctx.message_time, a), a);
    }
    return;
  }
  Json e(rapidjson::kObjectType);
  e.AddMember("url", Str(hl7v2::kMessageTimeExtension, a), a);
  e.AddMember("valueDateTime", Str(ctx.message_time, a), a);
  ext->value.PushBack(e, a);
}


Json Coding(std::string_view system, std::string_view code, std::string_view display,
            JsonDoc::AllocatorType& a) {
  Json c(rapidjson::kObjectType);
  c.AddMember("system", Str(system, a), a);
  c.AddMember("code", Str(code, a), a);
  if (!display.empty()) c.AddMember("display", Str(display, a), a);
  return c;
}

// The Provenance of a merge: targets the versions written.
std::string MergeProvenance(const std::vector<std::string>& targets, const MergeContext& ctx) {
  JsonDoc p;
  p.SetObject();
  auto& a = p.GetAllocator();
  p.AddMember("resourceType", "Provenance", a);
  Json t(rapidjson::kArrayType);
  for (const std::string& ref : targets) {
    Json r(rapidjson::kObjectType);
    r.AddMember("reference", Str(ref, a), a);
    t.PushBack(r, a);
  }
  p.AddMember("target", t, a);
  if (Start(ctx.message_time)) p.AddMember("occurredDateTime", Str(ctx.message_time, a), a);
  p.AddMember("recorded", Str(FormatInstant(ctx.recorded), a), a);
  // R4's ProvenanceActivityType (extensible) holds v3-DataOperation, which
  // has no merge; ISO 21089's lifecycle events (as THO publishes them, and
  // R5 binds) have one.
  Json activity(rapidjson::kObjectType);
  Json codings(rapidjson::kArrayType);
  codings.PushBack(
      Coding("http://terminology.hl7.org/CodeSystem/v3-DataOperation", "UPDATE", "revise", a), a);
  codings.PushBack(Coding("http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle", "merge",
                          "Merge Record Lifecycle Event", a),
                   a);
  activity.AddMember("coding", codings, a);
  activity.AddMember("text", "merge", a);
  p.AddMember("activity", activity, a);
  Json who(rapidjson::kObjectType);
  who.AddMember("type", "Organization", a);
  if (!ctx.ods_code.empty()) {
    Json id(rapidjson::kObjectType);
    id.AddMember("system", Str(hl7v2::kOdsSystem, a), a);
    id.AddMember("value", Str(ctx.ods_code, a), a);
    who.AddMember("identifier", id, a);
  }
  who.AddMember("display", Str(ctx.source_id, a), a);
  Json type(rapidjson::kObjectType);
  Json type_codings(rapidjson::kArrayType);
  type_codings.PushBack(
      Coding("http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author", "", a),
      a);
  type.AddMember("coding", type_codings, a);
  Json agent(rapidjson::kObjectType);
  agent.AddMember("type", type, a);
  agent.AddMember("who", who, a);
  Json agents(rapidjson::kArrayType);
  agents.PushBack(agent, a);
  p.AddMember("agent", agents, a);
  Json what_id(rapidjson::kObjectType);
  what_id.AddMember("system", Str("urn:lhcr:hl7v2:" + Slug(ctx.source_id), a), a);
  what_id.AddMember("value", Str(ctx.control_id, a), a);
  Json what(rapidjson::kObjectType);
  what.AddMember("identifier", what_id, a);
  what.AddMember("display",
                 Str("HL7 v2 " + (ctx.event.empty() ? std::string("merge") : ctx.event) +
                         " message " + ctx.control_id,
                     a),
                 a);
  Json entity(rapidjson::kObjectType);
  entity.AddMember("role", "source", a);
  entity.AddMember("what", what, a);
  Json entities(rapidjson::kArrayType);
  entities.PushBack(entity, a);
  p.AddMember("entity", entities, a);
  Stamp(p, ctx);
  return fhir::ToJson(p);
}

// One PUT of the merge's transaction.
struct Change {
  std::string type;
  std::string id;
  int64_t version = 0;  // read; If-Match
  std::string json;     // the new content
};

std::string PutEntry(const Change& c) {
  const std::string url = c.type + "/" + c.id;
  return "{\"resource\":" + c.json + ",\"request\":{\"method\":\"PUT\",\"url\":" + Quote(url) +
         ",\"ifMatch\":" + Quote("W/\"" + std::to_string(c.version) + "\"") + "}}";
}

}  // namespace

MergeContext MergeContext::For(const hl7v2::SourceInfo& source, const hl7v2::MappedMessage& mapped,
                               Millis now) {
  MergeContext c;
  c.source_id = source.source_id;
  c.ods_code = source.ods_code;
  c.control_id = mapped.control_id;
  c.event = mapped.event;
  c.message_time = mapped.message_time;
  c.recorded = now;
  return c;
}

Result<MergeOutcome> CarryOutMerge(interaction::Interactions& interactions,
                                   const hl7v2::MergeInstruction& merge,
                                   const MergeContext& context) {
  if (context.source_id.empty()) return Status::Incorrect("merge: no source named");
  if (merge.survivor.value.empty() || merge.retired.value.empty()) {
    return Status::Incorrect("merge: the surviving or the retired identifier is empty");
  }
  if (merge.survivor == merge.retired) {
    return Status::Incorrect("merge: the retired identifier " + merge.retired.system + "|" +
                             merge.retired.value + " is the surviving one");
  }
  auto describe = [](const hl7v2::Identifier& i) { return i.system + "|" + i.value; };

  ASSIGN_OR_RETURN(Searched survivors,
                   FindSourcePatients(interactions, merge.survivor, context.source_id));
  if (survivors.entries.size() != 1) {
    return Status::Precondition(
        "merge: the surviving patient " + describe(merge.survivor) +
        (survivors.entries.empty()
             ? " does not exist"
             : " matches " + std::to_string(survivors.entries.size()) + " Patients") +
        " at source " + context.source_id);
  }
  Found& survivor = survivors.entries.front();
  MergeOutcome outcome;
  outcome.survivor = "Patient/" + survivor.id;

  ASSIGN_OR_RETURN(Searched retired_search,
                   FindSourcePatients(interactions, merge.retired, context.source_id));
  std::vector<Found>& retireds = retired_search.entries;
  // The survivor may carry the old identifier too (PID-3 repeats MRG-1).
  std::erase_if(retireds, [&](const Found& f) { return f.id == survivor.id; });
  if (retireds.empty()) {
    outcome.kind = MergeOutcome::Kind::kRetiredNotFound;
    return outcome;
  }
  if (retireds.size() > 1) {
    return Status::Precondition("merge: the retired identifier " + describe(merge.retired) +
                                " matches " + std::to_string(retireds.size()) +
                                " Patients at source " + context.source_id);
  }
  const std::string retired_id = retireds.front().id;
  outcome.retired = "Patient/" + retired_id;

  // The retired Patient and everything that references it, in one snapshot.
  search::QueryParams q = RevIncludes(interactions.params());
  q.insert(q.begin(), {"_id", retired_id});
  ASSIGN_OR_RETURN(Searched found, RunSearch(interactions, "Patient", q));
  Found* retired = nullptr;
  for (Found& f : found.entries) {
    if (!f.included && f.id == retired_id) retired = &f;
  }
  if (retired == nullptr) {
    return Status::Precondition("merge: " + outcome.retired + " changed while merging; retry");
  }

  std::vector<Change> changes;
  auto add = [&](Found& f) {
    Stamp(f.doc, context);
    changes.push_back(
        {f.type, f.id, f.version, fhir::ToJsonKeepingNumbers(f.doc, found.texts, f.pointer)});
  };
  if (Retire(retired->doc, outcome.survivor)) add(*retired);
  if (Survive(survivor.doc, outcome.retired)) {
    Stamp(survivor.doc, context);
    changes.push_back(
        {survivor.type, survivor.id, survivor.version,
         fhir::ToJsonKeepingNumbers(survivor.doc, survivors.texts, survivor.pointer)});
  }
  std::vector<Found*> referrers;
  for (Found& f : found.entries) {
    if (!f.included || f.type == "Patient") continue;
    if (!FromSource(f.doc, context.source_id)) {
      ++outcome.left_alone;
      continue;
    }
    referrers.push_back(&f);
  }
  std::sort(referrers.begin(), referrers.end(), [](const Found* x, const Found* y) {
    return std::tie(x->type, x->id) < std::tie(y->type, y->id);
  });
  for (Found* f : referrers) {
    if (Repoint(f->doc, outcome.retired, outcome.survivor, f->doc.GetAllocator()) > 0) add(*f);
  }
  if (changes.empty()) {
    outcome.kind = MergeOutcome::Kind::kAlreadyMerged;
    return outcome;
  }

  // Every PUT creates version + 1 (If-Match guarantees it), so the
  // Provenance can name the exact versions.
  std::vector<std::string> targets;
  for (const Change& c : changes) {
    targets.push_back(c.type + "/" + c.id + "/_history/" + std::to_string(c.version + 1));
  }
  std::string body = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
  for (const Change& c : changes) body += PutEntry(c) + ",";
  body += R"({"resource":)" + MergeProvenance(targets, context) +
          R"(,"request":{"method":"POST","url":"Provenance"}}]})";

  ASSIGN_OR_RETURN(interaction::Response r, interactions.Bundle({}, body));
  ASSIGN_OR_RETURN(JsonDoc response, fhir::ParseJson(r.body));
  const Json* entries = fhir::Member(response, "entry");
  if (entries != nullptr && entries->IsArray()) {
    for (const Json& e : entries->GetArray()) {
      const Json* resp = fhir::Member(e, "response");
      if (resp != nullptr) outcome.written.emplace_back(fhir::StringMember(*resp, "location"));
    }
  }
  outcome.kind = MergeOutcome::Kind::kMerged;
  return outcome;
}

}  // namespace lhcr::ingest
