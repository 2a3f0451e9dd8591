// lhcr audit verify: the chain walk (audit.h says what is checked).
#include <algorithm>
#include <map>
#include <unordered_set>

#include "audit/audit.h"
#include "audit/checkpoints.h"
#include "audit/entry.h"

namespace lhcr::audit {
namespace {

constexpr size_t kFetchChunk = 512;

}  // namespace

Result<VerifyReport> Verify(store::Store& store, const std::string& dir) {
  VerifyReport r;
  std::string cp_problem;
  ASSIGN_OR_RETURN(std::vector<SignedCheckpoint> cps, ReadCheckpoints(dir, &cp_problem));
  std::map<int64_t, const SignedCheckpoint*> by_seq;
  int64_t newest_signed = 0;
  for (const SignedCheckpoint& c : cps) {
    by_seq[c.seq] = &c;
    newest_signed = std::max(newest_signed, c.seq);
  }
  r.checkpoints = static_cast<int64_t>(cps.size());
  auto bad = [&](int64_t seq, std::string problem) {
    if (!r.problem.empty()) return;
    r.first_bad = seq;
    r.problem = std::move(problem);
  };

  ASSIGN_OR_RETURN(std::unique_ptr<store::StoreView> view, store.View());
  ASSIGN_OR_RETURN(store::RidSet rids, view->AllOfType("AuditEvent"));
  int64_t expected = 1;
  std::string prev(kGenesisHash);
  // After a sequence break: which entry broke it, and the sequence numbers
  // seen, to tell a deleted entry from a moved or duplicated one.
  std::unordered_set<int64_t> seen;
  int64_t broken_at = 0;      // the entry expected where the break is
  int64_t found_instead = 0;  // the entry found there
  bool broken_later_found = false;
  for (size_t i = 0; i < rids.size(); i += kFetchChunk) {
    std::span<const store::Rid> chunk(rids.data() + i, std::min(kFetchChunk, rids.size() - i));
    ASSIGN_OR_RETURN(std::vector<store::ResourceVersion> versions,
                     view->Fetch(chunk, std::nullopt));
    for (const store::ResourceVersion& v : versions) {
      ++r.entries;
      Result<ParsedEntry> e = ParseEntry(v.json);
      if (broken_at != 0) {  // only looking for the missing entry now
        if (e.ok() && e->seq == broken_at) broken_later_found = true;
        continue;
      }
      if (!r.problem.empty()) continue;
      if (!e.ok()) {
        bad(expected, "AuditEvent/" + v.id + ", stored where entry " + std::to_string(expected) +
                          " should be, is not a chain entry: " + std::string(e.status().message()));
        continue;
      }
      if (e->seq != expected) {
        if (seen.count(e->seq) != 0) {
          bad(e->seq, "entry " + std::to_string(e->seq) + " appears twice: a second entry " +
                          std::to_string(e->seq) + " is stored after entry " +
                          std::to_string(expected - 1) + " (an inserted entry)");
        } else {
          broken_at = expected;
          found_instead = e->seq;
        }
        continue;
      }
      seen.insert(e->seq);
      if (v.version != 1) {
        bad(e->seq, "entry " + std::to_string(e->seq) +
                        " was changed after it was written (it is at version " +
                        std::to_string(v.version) + ")");
        continue;
      }
      if (e->recomputed != e->hash) {
        bad(e->seq, "entry " + std::to_string(e->seq) +
                        " has been altered: its text does not match its hash");
        continue;
      }
      if (e->prev != prev) {
        bad(e->seq, "entry " + std::to_string(e->seq) + " does not follow entry " +
                        std::to_string(e->seq - 1) +
                        ": the previous-entry hash it carries is not entry " +
                        std::to_string(e->seq - 1) + "'s hash (an entry before it was replaced)");
        continue;
      }
      if (auto c = by_seq.find(e->seq); c != by_seq.end() && c->second->hash != e->hash) {
        bad(e->seq, "entry " + std::to_string(e->seq) +
                        " does not match the signed checkpoint on line " +
                        std::to_string(c->second->line) + ": the chain was rewritten up to here");
        continue;
      }
      prev = e->hash;
      ++expected;
    }
  }
  if (broken_at != 0) {
    if (broken_later_found) {
      bad(broken_at, "entry " + std::to_string(broken_at) + " is out of order: entry " +
                         std::to_string(found_instead) + " is stored where it should be");
    } else {
      bad(broken_at, "entry " + std::to_string(broken_at) + " is missing: entry " +
                         std::to_string(found_instead) + " follows entry " +
                         std::to_string(broken_at - 1));
    }
  }
  const int64_t last = expected - 1;
  if (r.problem.empty() && newest_signed > last) {
    bad(last + 1, "the chain ends at entry " + std::to_string(last) + " but entry " +
                      std::to_string(newest_signed) + " was signed in a checkpoint: entries from " +
                      std::to_string(last + 1) + " on are missing (the chain was cut short)");
  }
  if (r.problem.empty() && !cp_problem.empty()) bad(0, cp_problem);
  r.ok = r.problem.empty();
  return r;
}

}  // namespace lhcr::audit
