#include "mpi/links.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>

#include "fhir/json.h"
#include "interaction/outcome.h"
#include "mpi/resources.h"
#include "mpi/scan.h"

namespace lhcr::mpi {

using fhir::Json;
using fhir::JsonDoc;

// A resource as read (its version, 0 for a new one) and as it is to be.
struct LinkManager::Loaded {
  std::string type;
  std::string id;
  int64_t version = 0;
  JsonDoc doc;
  std::string Ref() const { return type + "/" + id; }
};

namespace {

Status CheckRef(const std::string& ref, std::string_view type) {
  if (ref.size() <= type.size() + 1 || ref.compare(0, type.size() + 1, std::string(type) + "/") != 0 ||
      ref.find('/', type.size() + 1) != std::string::npos) {
    return Status::Incorrect("expected a reference like " + std::string(type) + "/<id>, got '" +
                             ref + "'");
  }
  return Status::Ok();
}

std::string IdOf(const std::string& ref) { return ref.substr(ref.find('/') + 1); }

std::string TargetOf(const Json& link) {
  const Json* t = fhir::Member(link, "target");
  return t ? std::string(fhir::StringMember(*t, "reference")) : "";
}

// A link a person made or confirmed.
Json ConfirmedLink(const std::string& patient, const std::string& who, JsonDoc::AllocatorType& a) {
  Json link(rapidjson::kObjectType), ext(rapidjson::kArrayType);
  Json g(rapidjson::kObjectType), c(rapidjson::kObjectType);
  g.AddMember("url", Json(kMatchGradeExtension.data(), a), a);
  g.AddMember("valueCode", "certain", a);
  c.AddMember("url", Json(kConfirmedByExtension.data(), a), a);
  c.AddMember("valueString", Json(who.c_str(), a), a);
  ext.PushBack(std::move(g), a);
  ext.PushBack(std::move(c), a);
  link.AddMember("extension", std::move(ext), a);
  Json t(rapidjson::kObjectType);
  t.AddMember("reference", Json(patient.c_str(), a), a);
  link.AddMember("target", std::move(t), a);
  link.AddMember("assurance", "level4", a);
  return link;
}

void SetActive(JsonDoc& doc, bool active) {
  if (doc.HasMember("active")) {
    doc["active"].SetBool(active);
  } else {
    doc.AddMember("active", active, doc.GetAllocator());
  }
}

}  // namespace

LinkManager::LinkManager(interaction::Interactions& interactions,
                         const ingest::SourceRegistry* registry, Clock& clock, IdGenerator& ids)
    : interactions_(interactions), registry_(registry), clock_(clock), ids_(ids) {}

// An active Person with no links yet.
LinkManager::Loaded LinkManager::NewPerson(const std::string& id) {
  Loaded fresh{"Person", id};
  auto& a = fresh.doc.GetAllocator();
  fresh.doc.SetObject();
  fresh.doc.AddMember("resourceType", "Person", a);
  fresh.doc.AddMember("id", Json(id.c_str(), a), a);
  fresh.doc.AddMember("active", true, a);
  return fresh;
}

Result<std::string> LinkManager::PersonOf(const std::string& patient) {
  std::string found;
  RETURN_IF_ERROR(ForEachResource(interactions_, "Person", {{"link", patient}},
                                  [&](const Json& p) -> Status {
                                    const Json* active = fhir::Member(p, "active");
                                    if (active && active->IsBool() && !active->GetBool()) {
                                      return Status::Ok();
                                    }
                                    found = "Person/" + std::string(fhir::StringMember(p, "id"));
                                    return Status::Ok();
                                  }));
  return found;
}

namespace {

Result<int64_t> ReadInto(interaction::Interactions& interactions, const std::string& type,
                         const std::string& id, JsonDoc* doc) {
  interaction::RequestContext ctx;
  ASSIGN_OR_RETURN(interaction::Response r, interactions.Read(ctx, type, id, {}));
  ASSIGN_OR_RETURN(*doc, fhir::ParseJson(r.body));
  return r.version.value_or(0);
}

// The Person's demographics again by survivorship over its linked Patients,
// keeping its links (and their grades) as they are.
Status Resurvive(interaction::Interactions& interactions, const ingest::SourceRegistry* registry,
                 JsonDoc& person) {
  auto& a = person.GetAllocator();
  std::vector<Member> members;
  const Json* links = fhir::Member(person, "link");
  if (links && links->IsArray()) {
    for (const Json& l : links->GetArray()) {
      std::string ref = TargetOf(l);
      if (ref.rfind("Patient/", 0) != 0) continue;
      JsonDoc p;
      auto v = ReadInto(interactions, "Patient", IdOf(ref), &p);
      if (!v.ok()) continue;  // deleted since: its link stays, it adds nothing
      Member m;
      m.ref = ref;
      const Json* meta = fhir::Member(p, "meta");
      std::string_view source = meta ? fhir::StringMember(*meta, "source") : "";
      m.source = std::string(source.substr(0, source.find('#')));
      m.updated = meta ? std::string(fhir::StringMember(*meta, "lastUpdated")) : "";
      if (const ingest::Source* s = registry ? registry->FindById(m.source) : nullptr) {
        m.trust = s->identity_trust;
      }
      m.json = fhir::ToJson(p);
      members.push_back(std::move(m));
    }
  }
  for (const char* item : {"identifier", "name", "gender", "birthDate", "address"}) {
    person.RemoveMember(item);
  }
  if (members.empty()) return Status::Ok();
  std::vector<const Member*> ms;
  for (const Member& m : members) ms.push_back(&m);
  ASSIGN_OR_RETURN(JsonDoc built,
                   fhir::ParseJson(PersonJson("x", ms, std::vector<Grade>(ms.size(), Grade::kCertain),
                                              std::vector<double>(ms.size(), 1.0))));
  for (const char* item : {"identifier", "name", "gender", "birthDate", "address"}) {
    if (const Json* v = fhir::Member(built, item)) person.AddMember(Json(item, a), Json(*v, a), a);
  }
  return Status::Ok();
}

}  // namespace

Result<LinkChange> LinkManager::Write(const std::vector<Loaded>& changed,
                                      const std::string& activity, const std::string& who,
                                      const std::string& reason, const std::string& extra) {
  const std::string prov_id = ids_.Next();
  std::string entries;
  JsonDoc prov(rapidjson::kObjectType);
  auto& a = prov.GetAllocator();
  auto str = [&](const std::string& s) { return Json(s.c_str(), a); };
  Json targets(rapidjson::kArrayType), entities(rapidjson::kArrayType);
  LinkChange out;
  out.provenance = "Provenance/" + prov_id;
  for (const Loaded& l : changed) {
    JsonDoc doc;
    doc.CopyFrom(l.doc, doc.GetAllocator());
    doc.RemoveMember("meta");
    if (!entries.empty()) entries += ",";
    entries += R"({"fullUrl":"urn:uuid:)" + StableUuid(prov_id + l.Ref()) + R"(","resource":)" +
               fhir::ToJson(doc) + R"(,"request":{"method":"PUT","url":")" + l.Ref() + "\"" +
               (l.version > 0 ? R"(,"ifMatch":"W/\")" + std::to_string(l.version) + R"(\"")" : "") +
               "}}";
    Json t(rapidjson::kObjectType);
    t.AddMember("reference", str(l.Ref()), a);
    targets.PushBack(std::move(t), a);
    if (l.version > 0) {
      Json e(rapidjson::kObjectType), what(rapidjson::kObjectType);
      e.AddMember("role", "revision", a);
      what.AddMember("reference", str(l.Ref() + "/_history/" + std::to_string(l.version)), a);
      e.AddMember("what", std::move(what), a);
      entities.PushBack(std::move(e), a);
    }
    if (l.type == "Person") out.persons.push_back(l.Ref());
  }
  if (changed.empty()) return Status::Incorrect("nothing to change");
  prov.AddMember("resourceType", "Provenance", a);
  prov.AddMember("id", str(prov_id), a);
  prov.AddMember("target", std::move(targets), a);
  prov.AddMember("recorded", str(FormatInstant(clock_.Now())), a);
  Json act(rapidjson::kObjectType), codings(rapidjson::kArrayType), coding(rapidjson::kObjectType);
  coding.AddMember("system", "http://terminology.hl7.org/CodeSystem/v3-DataOperation", a);
  coding.AddMember("code", "UPDATE", a);
  codings.PushBack(std::move(coding), a);
  act.AddMember("coding", std::move(codings), a);
  act.AddMember("text", str("mpi " + activity), a);
  prov.AddMember("activity", std::move(act), a);
  if (!reason.empty()) {
    Json reasons(rapidjson::kArrayType), r(rapidjson::kObjectType);
    r.AddMember("text", str(reason), a);
    reasons.PushBack(std::move(r), a);
    prov.AddMember("reason", std::move(reasons), a);
  }
  Json agent(rapidjson::kObjectType), whoref(rapidjson::kObjectType), agents(rapidjson::kArrayType);
  whoref.AddMember("display", str(who.empty() ? "unknown" : who), a);
  agent.AddMember("who", std::move(whoref), a);
  agents.PushBack(std::move(agent), a);
  prov.AddMember("agent", std::move(agents), a);
  if (!entities.Empty()) prov.AddMember("entity", std::move(entities), a);
  entries += R"(,{"fullUrl":"urn:uuid:)" + StableUuid(prov_id) + R"(","resource":)" +
             fhir::ToJson(prov) + R"(,"request":{"method":"PUT","url":"Provenance/)" + prov_id +
             R"("}})";
  if (!extra.empty()) entries += "," + extra;
  interaction::RequestContext ctx;
  auto written = interactions_.Bundle(
      ctx, R"({"resourceType":"Bundle","type":"transaction","entry":[)" + entries + "]}");
  if (!written.ok()) return written.status();
  return out;
}

Result<LinkChange> LinkManager::Link(const std::string& patient, const std::string& person,
                                     const std::string& who, const std::string& reason) {
  RETURN_IF_ERROR(CheckRef(patient, "Patient"));
  RETURN_IF_ERROR(CheckRef(person, "Person"));
  JsonDoc p;
  RETURN_IF_ERROR(ReadInto(interactions_, "Patient", IdOf(patient), &p).status());
  ASSIGN_OR_RETURN(std::string current, PersonOf(patient));
  Loaded to{"Person", IdOf(person)};
  ASSIGN_OR_RETURN(to.version, ReadInto(interactions_, "Person", to.id, &to.doc));
  std::vector<Loaded> changed;
  if (!current.empty() && current != person) {
    Loaded from{"Person", IdOf(current)};
    ASSIGN_OR_RETURN(from.version, ReadInto(interactions_, "Person", from.id, &from.doc));
    Json& links = from.doc["link"];
    for (rapidjson::SizeType i = 0; i < links.Size(); ++i) {
      if (TargetOf(links[i]) == patient) {
        links.Erase(links.Begin() + i);
        break;
      }
    }
    if (links.Empty()) {
      from.doc.RemoveMember("link");
      SetActive(from.doc, false);
    }
    RETURN_IF_ERROR(Resurvive(interactions_, registry_, from.doc));
    changed.push_back(std::move(from));
  }
  auto& a = to.doc.GetAllocator();
  if (!to.doc.HasMember("link")) to.doc.AddMember("link", Json(rapidjson::kArrayType), a);
  Json& links = to.doc["link"];
  for (rapidjson::SizeType i = 0; i < links.Size(); ++i) {
    if (TargetOf(links[i]) == patient) {
      links.Erase(links.Begin() + i);
      break;
    }
  }
  links.PushBack(ConfirmedLink(patient, who, a), a);
  SetActive(to.doc, true);
  RETURN_IF_ERROR(Resurvive(interactions_, registry_, to.doc));
  changed.push_back(std::move(to));
  return Write(changed, "link " + patient + " to " + person, who, reason);
}

Result<LinkChange> LinkManager::Unlink(const std::string& patient, const std::string& who,
                                       const std::string& reason) {
  RETURN_IF_ERROR(CheckRef(patient, "Patient"));
  JsonDoc p;
  RETURN_IF_ERROR(ReadInto(interactions_, "Patient", IdOf(patient), &p).status());
  Loaded fresh = NewPerson("mpi-" + ids_.Next());
  auto& a = fresh.doc.GetAllocator();
  Json links(rapidjson::kArrayType);
  links.PushBack(ConfirmedLink(patient, who, a), a);
  fresh.doc.AddMember("link", std::move(links), a);
  ASSIGN_OR_RETURN(std::string current, PersonOf(patient));
  std::vector<Loaded> changed;
  if (!current.empty()) {
    Loaded from{"Person", IdOf(current)};
    ASSIGN_OR_RETURN(from.version, ReadInto(interactions_, "Person", from.id, &from.doc));
    Json& l = from.doc["link"];
    if (l.Size() == 1) {
      return Status::Conflict(patient + " is already the only record of " + current);
    }
    for (rapidjson::SizeType i = 0; i < l.Size(); ++i) {
      if (TargetOf(l[i]) == patient) {
        l.Erase(l.Begin() + i);
        break;
      }
    }
    RETURN_IF_ERROR(Resurvive(interactions_, registry_, from.doc));
    changed.push_back(std::move(from));
  }
  RETURN_IF_ERROR(Resurvive(interactions_, registry_, fresh.doc));
  changed.push_back(std::move(fresh));
  return Write(changed, "unlink " + patient, who, reason);
}

Result<LinkChange> LinkManager::Merge(const std::string& from_ref, const std::string& into_ref,
                                      const std::string& who, const std::string& reason) {
  RETURN_IF_ERROR(CheckRef(from_ref, "Person"));
  RETURN_IF_ERROR(CheckRef(into_ref, "Person"));
  if (from_ref == into_ref) return Status::Incorrect("a Person cannot be merged into itself");
  Loaded from{"Person", IdOf(from_ref)}, into{"Person", IdOf(into_ref)};
  ASSIGN_OR_RETURN(from.version, ReadInto(interactions_, "Person", from.id, &from.doc));
  ASSIGN_OR_RETURN(into.version, ReadInto(interactions_, "Person", into.id, &into.doc));
  auto& a = into.doc.GetAllocator();
  if (!into.doc.HasMember("link")) into.doc.AddMember("link", Json(rapidjson::kArrayType), a);
  if (const Json* links = fhir::Member(from.doc, "link"); links && links->IsArray()) {
    for (const Json& l : links->GetArray()) into.doc["link"].PushBack(Json(l, a), a);
  }
  from.doc.RemoveMember("link");
  SetActive(from.doc, false);
  RETURN_IF_ERROR(Resurvive(interactions_, registry_, into.doc));
  std::vector<Loaded> changed;
  changed.push_back(std::move(from));
  changed.push_back(std::move(into));
  return Write(changed, "merge " + from_ref + " into " + into_ref, who, reason);
}

Result<LinkChange> LinkManager::Split(const std::string& person_ref,
                                      const std::vector<std::string>& patients,
                                      const std::string& who, const std::string& reason) {
  RETURN_IF_ERROR(CheckRef(person_ref, "Person"));
  if (patients.empty()) return Status::Incorrect("split needs the patients to move out");
  Loaded from{"Person", IdOf(person_ref)};
  ASSIGN_OR_RETURN(from.version, ReadInto(interactions_, "Person", from.id, &from.doc));
  Loaded fresh = NewPerson("mpi-" + ids_.Next());
  auto& fa = fresh.doc.GetAllocator();
  Json moved(rapidjson::kArrayType);
  Json* links = const_cast<Json*>(fhir::Member(from.doc, "link"));
  for (const std::string& p : patients) {
    RETURN_IF_ERROR(CheckRef(p, "Patient"));
    bool found = false;
    for (rapidjson::SizeType i = 0; links && i < links->Size(); ++i) {
      if (TargetOf((*links)[i]) == p) {
        links->Erase(links->Begin() + i);
        found = true;
        break;
      }
    }
    if (!found) return Status::Incorrect(p + " is not linked to " + person_ref);
    moved.PushBack(ConfirmedLink(p, who, fa), fa);
  }
  if (links == nullptr || links->Empty()) {
    return Status::Incorrect("a split must leave at least one record in " + person_ref +
                             " (use unlink, or merge)");
  }
  fresh.doc.AddMember("link", std::move(moved), fa);
  RETURN_IF_ERROR(Resurvive(interactions_, registry_, from.doc));
  RETURN_IF_ERROR(Resurvive(interactions_, registry_, fresh.doc));
  std::vector<Loaded> changed;
  changed.push_back(std::move(from));
  changed.push_back(std::move(fresh));
  return Write(changed, "split " + person_ref, who, reason);
}

Result<LinkChange> LinkManager::AcceptReview(const std::string& task_id, const std::string& who) {
  Loaded task{"Task", task_id};
  ASSIGN_OR_RETURN(task.version, ReadInto(interactions_, "Task", task_id, &task.doc));
  if (fhir::StringMember(task.doc, "status") != "requested") {
    return Status::Conflict("Task/" + task_id + " is " +
                            std::string(fhir::StringMember(task.doc, "status")) +
                            ", not requested");
  }
  auto [a_ref, b_ref] = ReviewTaskPair(task.doc);
  RETURN_IF_ERROR(CheckRef(a_ref, "Patient"));
  RETURN_IF_ERROR(CheckRef(b_ref, "Patient"));
  ASSIGN_OR_RETURN(std::string pa, PersonOf(a_ref));
  ASSIGN_OR_RETURN(std::string pb, PersonOf(b_ref));
  if (pa.empty() || pb.empty()) {
    return Status::Precondition("both records need a Person first (run lhcr mpi relink)");
  }
  std::vector<Loaded> changed;
  Loaded into{"Person", IdOf(pa)};
  ASSIGN_OR_RETURN(into.version, ReadInto(interactions_, "Person", into.id, &into.doc));
  auto& al = into.doc.GetAllocator();
  if (pa != pb) {
    Loaded from{"Person", IdOf(pb)};
    ASSIGN_OR_RETURN(from.version, ReadInto(interactions_, "Person", from.id, &from.doc));
    if (const Json* links = fhir::Member(from.doc, "link"); links && links->IsArray()) {
      for (const Json& l : links->GetArray()) into.doc["link"].PushBack(Json(l, al), al);
    }
    from.doc.RemoveMember("link");
    SetActive(from.doc, false);
    changed.push_back(std::move(from));
  }
  // Both records' links are now confirmed by a person.
  Json& links = into.doc["link"];
  for (rapidjson::SizeType i = 0; i < links.Size(); ++i) {
    std::string t = TargetOf(links[i]);
    if (t == a_ref || t == b_ref) links[i] = ConfirmedLink(t, who, al);
  }
  RETURN_IF_ERROR(Resurvive(interactions_, registry_, into.doc));
  changed.push_back(std::move(into));
  task.doc["status"].SetString("completed");
  auto& ta = task.doc.GetAllocator();
  task.doc.RemoveMember("businessStatus");
  Json bs(rapidjson::kObjectType);
  bs.AddMember("text", "accepted: the same person", ta);
  task.doc.AddMember("businessStatus", std::move(bs), ta);
  changed.push_back(std::move(task));
  return Write(changed, "accept review " + task_id, who, "review: the same person");
}

Result<LinkChange> LinkManager::RejectReview(const std::string& task_id, const std::string& who) {
  Loaded task{"Task", task_id};
  ASSIGN_OR_RETURN(task.version, ReadInto(interactions_, "Task", task_id, &task.doc));
  if (fhir::StringMember(task.doc, "status") != "requested") {
    return Status::Conflict("Task/" + task_id + " is " +
                            std::string(fhir::StringMember(task.doc, "status")) +
                            ", not requested");
  }
  task.doc["status"].SetString("rejected");
  auto& ta = task.doc.GetAllocator();
  task.doc.RemoveMember("businessStatus");
  Json bs(rapidjson::kObjectType);
  bs.AddMember("text", "rejected: not the same person", ta);
  task.doc.AddMember("businessStatus", std::move(bs), ta);
  std::vector<Loaded> changed;
  changed.push_back(std::move(task));
  return Write(changed, "reject review " + task_id, who, "review: not the same person");
}

Result<LinkChange> LinkManager::Undo(const std::string& provenance, const std::string& who) {
  RETURN_IF_ERROR(CheckRef(provenance, "Provenance"));
  JsonDoc prov;
  RETURN_IF_ERROR(ReadInto(interactions_, "Provenance", IdOf(provenance), &prov).status());
  std::map<std::string, int64_t> before;  // "Type/id" -> version before the change
  if (const Json* es = fhir::Member(prov, "entity"); es && es->IsArray()) {
    for (const Json& e : es->GetArray()) {
      if (fhir::StringMember(e, "role") != "revision") continue;
      const Json* what = fhir::Member(e, "what");
      std::string ref = what ? std::string(fhir::StringMember(*what, "reference")) : "";
      size_t h = ref.find("/_history/");
      if (h == std::string::npos) continue;
      before[ref.substr(0, h)] = std::atoll(ref.c_str() + h + 10);
    }
  }
  const Json* targets = fhir::Member(prov, "target");
  if (targets == nullptr || !targets->IsArray() || targets->Empty()) {
    return Status::Incorrect(provenance + " names nothing it changed");
  }
  std::vector<Loaded> changed;
  for (const Json& t : targets->GetArray()) {
    std::string ref(fhir::StringMember(t, "reference"));
    size_t slash = ref.find('/');
    if (slash == std::string::npos) continue;
    Loaded l{ref.substr(0, slash), ref.substr(slash + 1)};
    JsonDoc now;
    ASSIGN_OR_RETURN(l.version, ReadInto(interactions_, l.type, l.id, &now));
    auto it = before.find(ref);
    const int64_t expected = it == before.end() ? 1 : it->second + 1;
    if (l.version != expected) {
      return Status::Conflict(ref + " has changed since " + provenance + " (version " +
                              std::to_string(l.version) + ", expected " +
                              std::to_string(expected) + "): undo the later change first");
    }
    if (it == before.end()) {
      // Made by the change: it goes (inactive, no links).
      l.doc.CopyFrom(now, l.doc.GetAllocator());
      l.doc.RemoveMember("link");
      SetActive(l.doc, false);
    } else {
      interaction::RequestContext ctx;
      ASSIGN_OR_RETURN(interaction::Response old,
                       interactions_.VRead(ctx, l.type, l.id, it->second));
      ASSIGN_OR_RETURN(l.doc, fhir::ParseJson(old.body));
    }
    changed.push_back(std::move(l));
  }
  return Write(changed, "undo " + provenance, who, "undo of " + provenance);
}

}  // namespace lhcr::mpi
