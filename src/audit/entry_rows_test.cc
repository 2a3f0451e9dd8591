// DirectRows (an entry's index rows built from its Event) against
// fhir::ExtractIndexRows over the entry's JSON under the R4 registry: equal,
// row for row, for varied events; events it cannot do exactly fall back.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "audit/entry.h"

namespace lhcr::audit {
namespace {

std::string Show(const std::vector<store::IndexRow>& rows) {
  std::ostringstream out;
  for (const store::IndexRow& r : rows) {
    out << r.param << " t" << static_cast<int>(r.type) << " [" << r.s1 << "] [" << r.s2 << "] "
        << r.num << " " << r.lo << ".." << r.hi << "\n";
  }
  return out.str();
}

const fhir::SearchParamRegistry& R4() { return *fhir::SearchParamRegistry::R4(); }

// A varied synthetic event from `rng`.
Event RandomEvent(std::mt19937& rng) {
  auto pick = [&](std::initializer_list<const char*> xs) {
    std::vector<const char*> v(xs);
    return std::string(v[rng() % v.size()]);
  };
  Event e;
  e.actor.kind = static_cast<ActorKind>(rng() % 4);
  e.actor.user = pick({"", "dr-who", "Dr.Jones", "nurse 7", "9000000009", "ABC-def.1"});
  e.actor.org = pick({"", "RX1", "Y12345"});
  e.actor.role = pick({"", "R8000", "R0260"});
  e.actor.purpose_of_use = pick({"", "TREAT", "PATADMIN"});
  e.actor.break_glass_reason = pick({"", "", "unconscious patient"});
  e.actor.patient_id = pick({"", "p1", "pat-9"});
  e.subtype = pick({"", "read", "vread", "search-type", "create", "operation", "capabilities"});
  e.action = pick({"C", "R", "U", "D", "E"})[0];
  e.outcome = static_cast<Outcome>(4 * (rng() % 3));
  e.outcome_desc = pick({"", "404 Observation/x is not known"});
  e.recorded = 1767225600000 + static_cast<int64_t>(rng() % 100000000);
  int np = static_cast<int>(rng() % 4);
  for (int i = 0; i < np; ++i) e.patients.push_back(pick({"p1", "p2", "pat-9", "A.b-3"}));
  int ne = static_cast<int>(rng() % 4);
  for (int i = 0; i < ne; ++i) {
    e.entities.push_back(
        {pick({"Observation", "Patient", "Encounter", "AuditEvent", "Foo", "Patientx"}),
         pick({"", "o1", "p1", "p2", "x-7"})});
  }
  e.query = pick({"", "patient=Patient/p1", "_count=5&code=1234-5"});
  e.address = pick({"", "127.0.0.1", "::1"});
  e.method_path = pick({"", "GET /fhir/Observation/o1", "POST /fhir"});
  return e;
}

TEST(EntryRowsTest, DirectRowsFitTheR4Registry) { EXPECT_TRUE(DirectRowsFit(R4())); }

TEST(EntryRowsTest, DirectRowsEqualFhirPathRowsForVariedEvents) {
  std::mt19937 rng(7);
  int plain = 0;
  for (int i = 0; i < 3000; ++i) {
    Event e = RandomEvent(rng);
    ASSERT_TRUE(PlainEvent(e)) << i;
    ++plain;
    std::vector<store::IndexRow> by_path = PrepareEntry(e, R4(), false).rows;
    std::vector<store::IndexRow> direct = DirectRows(e);
    ASSERT_TRUE(direct == by_path) << "event " << i << "\ndirect:\n"
                                   << Show(direct) << "by FHIRPath:\n"
                                   << Show(by_path);
  }
  EXPECT_EQ(plain, 3000);
}

TEST(EntryRowsTest, AReadFindsItsPatientAndTarget) {
  Event e;
  e.actor = {ActorKind::kProfessional, "dr-who", "RX1", "R8000", "TREAT", "", ""};
  e.subtype = "read";
  e.recorded = 1767225600000;
  e.entities = {{"Observation", "o1"}};
  e.patients = {"p1"};
  std::vector<store::IndexRow> rows = DirectRows(e);
  auto has = [&](const store::IndexRow& r) {
    return std::find(rows.begin(), rows.end(), r) != rows.end();
  };
  EXPECT_TRUE(has(store::IndexRow::Reference("AuditEvent.entity", "Observation", "o1")));
  EXPECT_TRUE(has(store::IndexRow::Reference("AuditEvent.entity", "Patient", "p1")));
  EXPECT_TRUE(has(store::IndexRow::String("AuditEvent.agent-name", "dr who")));
  EXPECT_TRUE(rows == PrepareEntry(e, R4(), false).rows) << Show(rows);
}

TEST(EntryRowsTest, EventsItCannotDoExactlyFallBackToFhirPath) {
  std::vector<Event> odd(5);
  odd[0].actor.user = "Jos\xc3\xa9 M\xc3\xbcller";  // folded by NormaliseString
  odd[1].entities = {{"Observation", "a b/c"}};     // not a FHIR id
  odd[2].patients = {"x/_history/2"};
  odd[3].actor.user = "...";  // folds to nothing
  odd[4].entities = {{"", ""}};
  for (size_t i = 0; i < odd.size(); ++i) {
    odd[i].recorded = 1767225600000;
    odd[i].subtype = "read";
    EXPECT_FALSE(PlainEvent(odd[i])) << i;
    PreparedEntry direct = PrepareEntry(odd[i], R4(), true);
    PreparedEntry by_path = PrepareEntry(odd[i], R4(), false);
    EXPECT_TRUE(direct.rows == by_path.rows) << i;
    EXPECT_EQ(direct.members, by_path.members) << i;
  }
}

TEST(EntryRowsTest, DirectRowsLeaveTheEntryTextAlone) {
  std::mt19937 rng(11);
  for (int i = 0; i < 200; ++i) {
    Event e = RandomEvent(rng);
    EXPECT_EQ(PrepareEntry(e, R4(), true).members, PrepareEntry(e, R4(), false).members);
  }
}

}  // namespace
}  // namespace lhcr::audit
