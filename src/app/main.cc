// lhcr: the regional shared health and care record. One binary, verbs as
// subcommands; this file only parses arguments and wires the rooms together.
#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "api/audit_middleware.h"
#include "api/everything_api.h"
#include "api/fhir_api.h"
#include "api/gpconnect_api.h"
#include "app/audit_command.h"
#include "app/ingest_command.h"
#include "app/record_command.h"
#include "app/progress.h"
#include "api/http_server.h"
#include "api/ingest_api.h"
#include "api/mpi_api.h"
#include "api/terminology_api.h"
#include "app/security_setup.h"
#include "app/terminology_setup.h"
#include "app/token_command.h"
#include "api/mllp_server.h"
#include "audit/audit.h"
#include "base/ids.h"
#include "base/time.h"
#include "fhir/search_param.h"
#include "fhir/validator.h"
#include "identity/evaluation.h"
#include "ingest/ingestor.h"
#include "ingest/journal.h"
#include "ingest/source_registry.h"
#include "mpi/match_service.h"
#include "mpi/region_evaluation.h"
#include "mpi/relink.h"
#include "record/record.h"
#include "interaction/interaction.h"
#include "store/postgres/postgres_store.h"
#include "store/read_replica_store.h"
#include "store/sqlite/sqlite_store.h"
#include "synth/synth.h"

namespace lhcr {
namespace {

struct ServeArgs {
  std::string data = "lhcr-data";
  std::string store;       // empty: SQLite in `data`; postgres://... : PostgreSQL
  std::string read_store;  // empty: reads from `store`; postgres://... : a standby of it
  std::string listen = "127.0.0.1:8080";
  std::string base_url;
  int io_threads = 2;
  int workers = 16;
  bool fsync = true;
  std::string mllp;     // empty: no MLLP listener; else HOST:PORT for HL7 v2 feeds
  std::string sources;  // empty: any sender; else a sources.json (docs/SYNTH.md)
  std::string terminology;  // empty: the shipped subset (app/terminology_setup.h)
  SecurityArgs security;    // TLS, token issuers, --no-auth (app/security_setup.h)
};

Result<std::pair<std::string, uint16_t>> ParseListen(const std::string& s,
                                                     const std::string& flag = "--listen") {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return Status::Incorrect(flag + " takes HOST:PORT, got " + s);
  std::string host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(s.substr(colon + 1));
  } catch (...) {
    return Status::Incorrect(flag + " port is not a number: " + s);
  }
  if (port < 0 || port > 65535) return Status::Incorrect(flag + " port out of range: " + s);
  return std::make_pair(host, static_cast<uint16_t>(port));
}

std::string Metrics(api::HttpServer* server, store::Store& store) {
  std::string m;
  auto line = [&](const char* name, const char* help, const char* type, uint64_t v) {
    m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
         name + " " + std::to_string(v) + "\n";
  };
  if (server != nullptr) {
    api::HttpServerStats s = server->stats();
    line("lhcr_http_requests_total", "HTTP responses written.", "counter", s.requests_total);
    m += "# HELP lhcr_http_responses_total HTTP responses by status class.\n"
         "# TYPE lhcr_http_responses_total counter\n";
    m += "lhcr_http_responses_total{class=\"2xx\"} " + std::to_string(s.responses_2xx) + "\n";
    m += "lhcr_http_responses_total{class=\"3xx\"} " + std::to_string(s.responses_3xx) + "\n";
    m += "lhcr_http_responses_total{class=\"4xx\"} " + std::to_string(s.responses_4xx) + "\n";
    m += "lhcr_http_responses_total{class=\"5xx\"} " + std::to_string(s.responses_5xx) + "\n";
    line("lhcr_http_active_connections", "Open HTTP connections.", "gauge", s.active_connections);
    line("lhcr_http_rejected_connections_total", "Connections refused over the limit.", "counter",
         s.rejected_connections);
    line("lhcr_http_timeouts_total", "Read, write and idle timeouts.", "counter", s.timeouts);
  }
  store::StoreStats st = store.Stats();
  line("lhcr_store_commits_total", "Store transactions committed (group commits).", "counter",
       static_cast<uint64_t>(st.commits));
  line("lhcr_store_write_batches_total", "Write calls committed.", "counter",
       static_cast<uint64_t>(st.write_batches));
  line("lhcr_store_versions", "Resource versions stored.", "gauge",
       static_cast<uint64_t>(st.versions));
  return m;
}

// The store named by --store: a postgres:// or postgresql:// URL opens
// PostgreSQL; none opens SQLite in --data (created if missing). With
// --read-store, reads go to that store (opened read-only, a streaming
// standby of --store) and writes to --store.
Result<std::unique_ptr<store::Store>> OpenStore(const ServeArgs& args) {
  if (!args.read_store.empty()) {
    if (!store::IsPostgresUrl(args.store) || !store::IsPostgresUrl(args.read_store)) {
      return Status::Incorrect(
          "--read-store takes postgres://... and needs --store postgres://... (its primary)");
    }
    ServeArgs primary_args = args;
    primary_args.read_store.clear();
    ASSIGN_OR_RETURN(std::unique_ptr<store::Store> primary, OpenStore(primary_args));
    store::PostgresOptions ro;
    ro.conninfo = args.read_store;
    ro.read_only = true;
    ASSIGN_OR_RETURN(std::unique_ptr<store::Store> replica, store::OpenPostgresStore(ro));
    return std::unique_ptr<store::Store>(
        std::make_unique<store::ReadReplicaStore>(std::move(primary), std::move(replica)));
  }
  if (!args.store.empty()) {
    if (!store::IsPostgresUrl(args.store)) {
      return Status::Incorrect("--store takes postgres://... or postgresql://..., got " +
                               args.store);
    }
    store::PostgresOptions po;
    po.conninfo = args.store;
    return store::OpenPostgresStore(po);
  }
  std::error_code ec;
  std::filesystem::create_directories(args.data, ec);
  if (ec) {
    return Status::Unavailable("cannot create data directory " + args.data + ": " + ec.message());
  }
  store::SqliteOptions so;
  so.path = (std::filesystem::path(args.data) / "lhcr.db").string();
  so.synchronous_full = args.fsync;
  return store::OpenSqliteStore(so);
}

// The source registry: --sources FILE, else DATA/sources.json when there is
// one (`lhcr ingest REGION` puts the region's there), else none (any HL7
// sender is taken; HTTP and file ingest need a registered source).
Result<std::optional<ingest::SourceRegistry>> LoadRegistry(const std::string& sources,
                                                           const std::string& data) {
  std::string path = sources;
  if (path.empty()) {
    std::error_code ec;
    std::string in_data = (std::filesystem::path(data) / "sources.json").string();
    if (!std::filesystem::exists(in_data, ec)) return std::optional<ingest::SourceRegistry>();
    path = in_data;
  }
  ASSIGN_OR_RETURN(ingest::SourceRegistry r, ingest::LoadSourceRegistry(path));
  return std::optional<ingest::SourceRegistry>(std::move(r));
}

// The ingest journal (counts, data-quality findings, quarantine) lives in
// the data directory whatever the store.
std::string JournalPath(const std::string& data) {
  std::error_code ec;
  std::filesystem::create_directories(data, ec);
  return (std::filesystem::path(data) / "ingest.db").string();
}

int Serve(const ServeArgs& args) {
  auto listen = ParseListen(args.listen);
  if (!listen.ok()) {
    std::cerr << "lhcr serve: " << listen.status().message() << "\n";
    return 2;
  }
  std::optional<std::pair<std::string, uint16_t>> mllp_listen;
  if (!args.mllp.empty()) {
    auto m = ParseListen(args.mllp, "--mllp");
    if (!m.ok()) {
      std::cerr << "lhcr serve: " << m.status().message() << "\n";
      return 2;
    }
    mllp_listen = *m;
  }
  auto registry = LoadRegistry(args.sources, args.data);
  if (!registry.ok()) {
    std::cerr << "lhcr serve: --sources: " << registry.status().message() << "\n";
    return 2;
  }
  auto term = LoadTerminology(args.terminology, *registry ? &**registry : nullptr);
  if (!term.ok()) {
    std::cerr << "lhcr serve: " << term.status().message() << "\n";
    return 2;
  }
  auto store = OpenStore(args);
  if (!store.ok()) {
    std::cerr << "lhcr serve: " << store.status().ToString() << "\n";
    return 1;
  }
  auto journal = ingest::IngestJournal::Open(JournalPath(args.data));
  if (!journal.ok()) {
    std::cerr << "lhcr serve: " << journal.status().ToString() << "\n";
    (*store)->Close();
    return 1;
  }
  // The audit trail (audit/audit.h, docs/AUDIT.md): every request leaves an
  // AuditEvent; a write's goes into the write's own transaction (`audited`).
  audit::AuditOptions audit_options;
  audit_options.dir = args.data;
  auto audit_log = audit::AuditLog::Open(**store, fhir::SearchParamRegistry::R4(),
                                         audit_options, SystemClock());
  if (!audit_log.ok()) {
    std::cerr << "lhcr serve: audit: " << audit_log.status().ToString() << "\n";
    (*store)->Close();
    return 1;
  }
  audit::AuditedStore audited(**store, **audit_log);
  interaction::Interactions interactions(audited, fhir::SearchParamRegistry::R4(),
                                         fhir::Validator::R4(), SystemClock(), UuidGenerator());
  api::HttpServer* server_ptr = nullptr;
  api::FhirApiOptions ao;
  ao.base_url = args.base_url;
  // The MPI's Patient/$match over the stored Patients (mpi/match_service.h).
  mpi::MatchService match(interactions, identity::MatcherOptions{},
                          *registry ? &**registry : nullptr);
  ao.operations.push_back(
      {"Patient", "match", "http://hl7.org/fhir/OperationDefinition/Patient-match",
       [&](const interaction::RequestContext& ctx, const std::string& body) {
         return match.Match(ctx, body);
       }});
  // Patient/{id}/$everything: the person's whole record.
  ao.operations.push_back(
      api::EverythingOperation(interactions, compartment::PatientCompartment::R4()));
  // GP Connect Access Record: Structured over the person's linked records.
  ao.operations.push_back(api::StructuredRecordOperation(
      interactions, compartment::PatientCompartment::R4(), SystemClock(), UuidGenerator()));
  // CodeSystem/$lookup, ValueSet/$validate-code and $expand,
  // ConceptMap/$translate over the loaded terminology.
  for (api::FhirOperation& op :
       api::TerminologyOperations(*term, terminology::Ucum::Embedded())) {
    ao.operations.push_back(std::move(op));
  }
  // Patient/{id}/$summary: the consolidated record of the Patient's Person
  // as a FHIR document (record/record.h, docs/RECORD.md).
  record::ConsolidateOptions record_options;
  if (*registry) {
    for (const ingest::Source& s : (*registry)->sources()) {
      record_options.source_kinds[s.id] = s.kind;
    }
  }
  ao.operations.push_back(
      {"Patient", "summary", "http://hl7.org/fhir/uv/ips/OperationDefinition/summary",
       [&](const interaction::RequestContext& ctx,
           const std::string&) -> Result<interaction::Response> {
         ASSIGN_OR_RETURN(std::string body,
                          record::Summary(**store, *fhir::SearchParamRegistry::R4(), term->get(),
                                          record_options, ctx.instance_id,
                                          {ctx.base_url, SystemClock().Now()}));
         interaction::Response r;
         r.body = std::move(body);
         return r;
       },
       /*affects_state=*/false, /*instance=*/true});
  // Deny by default: the gate in front of every route (app/security_setup.h).
  auto security = SetUpSecurity(args.security, args.data, listen->first,
                                mllp_listen ? mllp_listen->first : "", args.base_url,
                                SystemClock());
  if (!security.ok()) {
    std::cerr << "lhcr serve: " << security.status().message() << "\n";
    (*store)->Close();
    return 2;
  }
  ao.security = security->capability_security;
  api::FhirApi api(interactions, ao, [&] { return Metrics(server_ptr, **store); });
  // Feeds: HTTP (/ingest, /sources, /quarantine) and MLLP, written through
  // the same interactions.
  ingest::Ingestor ingestor(interactions, *registry ? &**registry : nullptr, journal->get());
  ingestor.SetLinker(&match);  // each new Patient linked to a Person as it is written
  ingestor.SetTerminology(term->get(), terminology::Ucum::Embedded().get());
  api::IngestApi ingest_api(ingestor);
  mpi::LinkManager link_manager(interactions, *registry ? &**registry : nullptr);
  api::MpiApi mpi_api(link_manager);

  // Block the stop signals in every thread; this one waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  api::HttpServerOptions ho;
  ho.host = listen->first;
  ho.port = listen->second;
  ho.io_threads = args.io_threads;
  ho.worker_threads = args.workers;
  ApplyTls(args.security, ho);
  api::AuditMiddleware audit_requests(**audit_log);
  auto server = api::HttpServer::Start(
      ho,
      [&](const api::HttpRequest& r) {
        return audit_requests.Handle(r, [&](const api::HttpRequest& r) {
        api::AuthGate::Admission in = security->gate->Admit(r);
        if (in.response) return std::move(*in.response);
        const auth::Principal* who = in.principal ? &*in.principal : nullptr;
        if (who != nullptr) api::AuditMiddleware::NameCaller(*who);  // the audited caller
        if (api::IngestApi::Serves(r.Path())) return ingest_api.Handle(r);
        if (api::MpiApi::Serves(r.Path())) return mpi_api.Handle(r, who);
        return api.Handle(r, who);
        });
      },
      [](const api::HttpRequest& r) { return api::FhirApi::IsCheap(r); });
  if (!server.ok()) {
    std::cerr << "lhcr serve: " << server.status().ToString() << "\n";
    return 1;
  }
  server_ptr = server->get();
  std::string host =
      listen->first.find(':') != std::string::npos ? "[" + listen->first + "]" : listen->first;
  std::string base = args.base_url.empty()
                         ? (security->tls ? "https://" : "http://") + host + ":" +
                               std::to_string((*server)->port()) + "/fhir"
                         : args.base_url;
  // Where the data is, with no password in it (this line goes to logs).
  std::string where = "data in " + args.data;
  if (!args.store.empty()) where = "store " + store::RedactPostgresUrl(args.store);
  if (!args.read_store.empty()) {
    where += ", reads from " + store::RedactPostgresUrl(args.read_store);
  }
  std::cout << "lhcr serving " << base << " (" << where << ")" << std::endl;

  std::unique_ptr<api::MllpServer> mllp;
  if (mllp_listen) {
    api::MllpServerOptions mo;
    mo.host = mllp_listen->first;
    mo.port = mllp_listen->second;
    mo.io_threads = args.io_threads;
    mo.worker_threads = args.workers;
    auto started = api::MllpServer::Start(mo, [&](std::string_view message, const api::MllpPeer&) {
      return ingestor.HandleHl7(message);
    });
    if (!started.ok()) {
      std::cerr << "lhcr serve: --mllp: " << started.status().ToString() << "\n";
      (*server)->Stop();
      (*store)->Close();
      return 1;
    }
    mllp = std::move(*started);
    std::string mhost = mllp_listen->first.find(':') != std::string::npos
                            ? "[" + mllp_listen->first + "]"
                            : mllp_listen->first;
    std::cout << "lhcr mllp listening on " << mhost << ":" << mllp->port() << std::endl;
  }
  if (security->dev_issuer) {
    std::cout << "lhcr dev issuer on: a token with `lhcr token --data " << args.data
              << " --system` (or --professional USER --org ODS --role CODE, or --patient "
                 "NHS_NUMBER)"
              << std::endl;
  } else if (!security->verifier) {
    std::cout << "lhcr security off (--no-auth): no token needed" << std::endl;
  }

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::cout << "lhcr: stopping on signal " << sig << std::endl;
  if (mllp) mllp->Stop();  // in-flight messages are written and ACKed first
  (*server)->Stop();       // finishes in-flight requests; their writes are committed
  audited.Close();         // the audit queue and a last checkpoint, then the store
  std::cout << "lhcr: stopped cleanly" << std::endl;
  return 0;
}

// lhcr ingest (app/ingest_command.h): opens the store as serve would and
// writes through the same interactions.
int Ingest(const IngestArgs& args) {
  auto registry = PrepareIngest(args);
  if (!registry.ok()) {
    std::cerr << "lhcr ingest: " << registry.status().message() << "\n";
    return 2;
  }
  ServeArgs sa;
  sa.data = args.data;
  sa.store = args.store;
  sa.fsync = args.fsync;
  auto store = OpenStore(sa);
  if (!store.ok()) {
    std::cerr << "lhcr ingest: " << store.status().ToString() << "\n";
    return 1;
  }
  std::cout << "lhcr ingest into "
            << (args.store.empty() ? "data in " + args.data
                                   : "store " + store::RedactPostgresUrl(args.store))
            << std::endl;
  int code;
  {
    interaction::Interactions interactions(**store, fhir::SearchParamRegistry::R4(),
                                           fhir::Validator::R4(), SystemClock(), UuidGenerator());
    code = RunIngest(args, *registry, interactions);
  }
  (*store)->Close();
  return code;
}

// lhcr mpi relink: the whole region matched again; Persons and review Tasks
// written (mpi/relink.h).
int MpiRelink(const ServeArgs& args) {
  auto registry = LoadRegistry(args.sources, args.data);
  if (!registry.ok()) {
    std::cerr << "lhcr mpi relink: --sources: " << registry.status().message() << "\n";
    return 2;
  }
  auto store = OpenStore(args);
  if (!store.ok()) {
    std::cerr << "lhcr mpi relink: " << store.status().ToString() << "\n";
    return 1;
  }
  Progress bar("relink", "thousand", 1000.0);
  mpi::RelinkOptions options;
  options.progress = [&](const std::string& stage, size_t done, size_t total) {
    if (total > 0) bar.Update(static_cast<int64_t>(done), static_cast<int64_t>(total), stage);
  };
  const auto start = std::chrono::steady_clock::now();
  Result<mpi::RelinkReport> r = Status::Fault("not run");
  {
    interaction::Interactions interactions(**store, fhir::SearchParamRegistry::R4(),
                                           fhir::Validator::R4(), SystemClock(), UuidGenerator());
    r = mpi::Relink(interactions, *registry ? &**registry : nullptr, SystemClock(), options);
  }
  (*store)->Close();
  if (!r.ok()) {
    std::cerr << "lhcr mpi relink: " << r.status().ToString() << "\n";
    return 1;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "relink: %zu patients (%zu matched), %zu persons (%zu with several records), %zu review "
      "pairs (%zu not queued), %zu refused merges, %zu persons retired, %lld resources written, "
      "%lld unchanged in %.1f s\n",
      r->patients, r->matched, r->persons, r->multi_record_persons, r->review_pairs,
      r->review_not_queued, r->refused_merges, r->retired_persons, static_cast<long long>(r->written),
      static_cast<long long>(r->unchanged), secs);
  return 0;
}

// lhcr synth: a deterministic multi-source synthetic region (docs/SYNTH.md).
// Progress: a bar on a terminal, a line every 10% otherwise.
int Synth(synth::SynthOptions opts, std::string codelists) {
  std::shared_ptr<const synth::CodeBook> codes = synth::CodeBook::BuiltIn();
  std::string where = "built-in codes";
  if (!codelists.empty()) {
    auto loaded = synth::CodeBook::Load(codelists);
    if (loaded.ok()) {
      codes = *loaded;
      where = codelists;
    } else {
      std::cerr << "lhcr synth: " << loaded.status().message() << "; using built-in codes\n";
    }
  }
  Progress bar("synth", "thousand people", 1000.0);
  auto progress = [&](int64_t done, int64_t total) { bar.Update(done, total); };
  auto r = synth::Synthesise(opts, *codes, progress);
  if (!r.ok()) {
    std::cerr << "lhcr synth: " << r.status().ToString() << "\n";
    return r.status().code() == StatusCode::kIncorrect ? 2 : 1;
  }
  const synth::RenderStats& st = r->stats;
  std::printf("synth: %lld people (%lld deceased) in %.2f s, seed %llu, noise %.2f, codes from %s\n",
              static_cast<long long>(r->people), static_cast<long long>(r->deceased), r->seconds,
              static_cast<unsigned long long>(opts.seed), opts.noise, where.c_str());
  const char* names[synth::kSourceCount] = {"gp-y90001", "gp-y90002", "gp-y90003", "gp-y90004",
                                            "gp-y90005", "gp-y90006", "gp-y90007", "gp-y90008",
                                            "gp-y90009", "gp-y90010", "gp-y90011", "gp-y90012",
                                            "acute-r9a", "community-r9c", "mh-r9m", "la-x99"};
  for (int i = 0; i < synth::kSourceCount; ++i) {
    std::printf("  %-14s %lld records\n", names[i], static_cast<long long>(st.records[i]));
  }
  std::printf("  FHIR bundles %lld (%lld resources), HL7 v2 messages %lld, CSV rows %lld\n",
              static_cast<long long>(st.bundles), static_cast<long long>(st.resources),
              static_cast<long long>(st.messages), static_cast<long long>(st.csv_rows));
  std::printf("  noisy source records %lld; %.1f MB written to %s\n",
              static_cast<long long>(st.noisy_records), r->bytes / 1e6, opts.out.c_str());
  return 0;
}

}  // namespace
}  // namespace lhcr

int main(int argc, char** argv) {
  CLI::App app{"lhcr: a regional shared health and care record"};
  app.require_subcommand(1);
  lhcr::ServeArgs serve;
  CLI::App* s = app.add_subcommand("serve", "Serve the FHIR API over HTTP");
  s->add_option("--data", serve.data, "Data directory (created if missing)")->capture_default_str();
  s->add_option("--store", serve.store,
                "Store URL: postgres://USER@HOST:PORT/DB (or postgresql://); "
                "default: SQLite in --data");
  s->add_option("--read-store", serve.read_store,
                "Serve reads (read, vread, search, history) from this PostgreSQL hot standby "
                "of --store: postgres://USER@HOST:PORT/DB; writes still go to --store");
  s->add_option("--listen", serve.listen, "HOST:PORT to listen on (port 0 = any free port)")
      ->capture_default_str();
  s->add_option("--base-url", serve.base_url, "Public base URL of the FHIR API");
  s->add_option("--mllp", serve.mllp,
                "HOST:PORT to take HL7 v2 feeds on over MLLP (port 0 = any free port)");
  s->add_option("--sources", serve.sources,
                "Source registry (sources.json, docs/SYNTH.md); unknown MLLP senders get AR");
  s->add_option("--terminology", serve.terminology,
                "Terminology folder (fhir/, snomed/ RF2, dmd/ XML; docs/TERMINOLOGY.md); "
                "default: the shipped subset");
  s->add_option("--io-threads", serve.io_threads, "HTTP I/O threads")->capture_default_str();
  s->add_option("--workers", serve.workers, "Worker threads for writes and searches")
      ->capture_default_str();
  s->add_flag("!--no-fsync", serve.fsync,
              "Do not fsync each commit (faster; a power cut may lose the last commits)");
  lhcr::AddSecurityOptions(*s, serve.security);
  // mpi eval: the matching core against ground truth (docs/MATCHING.md).
  lhcr::identity::MpiEvalArgs mpi_eval;
  lhcr::identity::MatcherOptions mpi_options;
  CLI::App* mpi = app.add_subcommand("mpi", "Master patient index tools");
  mpi->require_subcommand(1);
  CLI::App* mpi_e = mpi->add_subcommand(
      "eval", "Match a labelled file unsupervised; print precision, recall and F1 (last line)");
  mpi_e->add_option("--febrl", mpi_eval.febrl, "FEBRL CSV to deduplicate (or side A of --link)");
  mpi_e->add_option("--link", mpi_eval.link, "FEBRL CSV to link against --febrl");
  mpi_e->add_option("--splink", mpi_eval.splink, "Splink fake_1000-style CSV (cluster column)");
  mpi_e->add_option("--truth", mpi_eval.truth,
                    "A region written by lhcr synth: match its feeds, compare with truth.csv");
  mpi_e->add_flag("--show-model", mpi_eval.show_model, "Print the estimated m and u");
  mpi_e->add_flag("--show-false-links", mpi_eval.show_false_links,
                  "Print each falsely linked pair with its per-field levels and weights");
  mpi_e->add_option("--auto-link", mpi_options.auto_link_probability,
                    "Auto-link match probability (for exploration; default is the fixed setting)")
      ->capture_default_str();
  mpi_e->add_option("--review", mpi_options.review_probability, "Review match probability")
      ->capture_default_str();
  mpi_e->add_option("--cluster-cross", mpi_options.cluster_cross_probability,
                    "Least match probability of every cross pair for two clusters to merge")
      ->capture_default_str();
  mpi_e->add_flag("!--no-twins-rule", mpi_options.twins_to_review,
                  "Let 'same birth date, different given name, no identifier agrees' auto-link "
                  "(for exploration)");
  lhcr::ServeArgs relink_args;
  CLI::App* mpi_r = mpi->add_subcommand(
      "relink", "Match every stored Patient again; write Persons (links, grades) and review Tasks");
  mpi_r->add_option("--data", relink_args.data, "Data directory")->capture_default_str();
  mpi_r->add_option("--store", relink_args.store, "Store URL (postgres://...); default SQLite");
  mpi_r->add_option("--sources", relink_args.sources,
                    "Source registry for identity trust (default: DATA/sources.json)");
  mpi_r->add_flag("!--no-fsync", relink_args.fsync, "Do not fsync each commit");
  lhcr::synth::SynthOptions synth_opts;
  std::string synth_codelists = "../shared/data/codelists";  // from the repository root
  CLI::App* syn = app.add_subcommand("synth", "Write a synthetic multi-source region + truth");
  syn->add_option("--people", synth_opts.people, "People to generate")->capture_default_str();
  syn->add_option("--seed", synth_opts.seed, "Random seed")->capture_default_str();
  syn->add_option("--out", synth_opts.out, "Output directory")->required();
  syn->add_option("--noise", synth_opts.noise, "Identity noise level 0..1")->capture_default_str();
  syn->add_option("--threads", synth_opts.threads, "Generator threads")->capture_default_str();
  syn->add_option("--codelists", synth_codelists,
                  "SNOMED code list folder (built-in codes when absent)")
      ->capture_default_str();
  lhcr::IngestArgs ingest_args;
  CLI::App* ing = app.add_subcommand(
      "ingest", "Ingest feeds from files: a region written by lhcr synth, or one source's files");
  ing->add_option("--data", ingest_args.data, "Data directory (created if missing)")
      ->capture_default_str();
  ing->add_option("--store", ingest_args.store, "Store URL (postgres://...); default SQLite");
  ing->add_option("--sources", ingest_args.sources,
                  "Source registry (default: DATA/sources.json)");
  ing->add_option("--source", ingest_args.source, "The files are this registered source's");
  ing->add_option("--threads", ingest_args.threads, "Items written concurrently")
      ->capture_default_str();
  ing->add_flag("!--no-fsync", ingest_args.fsync, "Do not fsync each commit");
  ing->add_flag("--replay", ingest_args.replay, "Replay every held quarantined item");
  ing->add_flag("!--no-link", ingest_args.link,
                "Do not link Patients to Persons at ingest (run lhcr mpi relink later)");
  ing->add_option("--terminology", ingest_args.terminology,
                  "Terminology folder (docs/TERMINOLOGY.md); default: the shipped subset");
  ing->add_flag("!--no-translate", ingest_args.translate,
                "Write items as mapped: no code translation, no UCUM units");
  ing->add_option("paths", ingest_args.paths, "REGION_DIR, or FILE... with --source");
  lhcr::RecordCommandArgs record_args;
  CLI::App* record_report = lhcr::AddRecordCommand(app, record_args);
  lhcr::AuditArgs audit_args;
  CLI::App* audit_verify = lhcr::AddAuditCommand(app, audit_args);
  lhcr::TokenArgs token_args;
  CLI::App* tok = lhcr::AddTokenCommand(app, token_args);
  CLI11_PARSE(app, argc, argv);
  if (audit_verify->parsed()) return lhcr::RunAuditVerify(audit_args);
  if (ing->parsed()) return lhcr::Ingest(ingest_args);
  if (record_report->parsed()) return lhcr::RunRecordCommand(record_args);
  if (mpi_r->parsed()) return lhcr::MpiRelink(relink_args);
  if (s->parsed()) return lhcr::Serve(serve);
  if (syn->parsed()) return lhcr::Synth(synth_opts, synth_codelists);
  if (tok->parsed()) return lhcr::RunToken(token_args);
  if (mpi_e->parsed()) {
    lhcr::Status st = mpi_eval.truth.empty()
                          ? lhcr::identity::RunMpiEval(mpi_eval, mpi_options, std::cout)
                          : lhcr::mpi::RunRegionMpiEval(mpi_eval, mpi_options, std::cout);
    if (!st.ok()) {
      std::cerr << "lhcr mpi eval: " << st.ToString() << "\n";
      return st.code() == lhcr::StatusCode::kIncorrect ? 2 : 1;
    }
    return 0;
  }
  return 0;
}
