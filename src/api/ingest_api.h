// IngestApi: the HTTP face of ingest (docs/INGEST.md).
//
//   POST /ingest/{source}             a body in the source's native format:
//                                     HL7 v2 (one or more messages) -> the
//                                     ACKs, one per message (200,
//                                     x-application/hl7-v2+er7); CSV or FHIR
//                                     (a transaction Bundle or NDJSON) -> a
//                                     JSON report (200 when every item was
//                                     taken, 422 when some were rejected and
//                                     quarantined)
//   GET  /sources                     the source registry with counts
//   GET  /sources/{id}                one source with counts
//   GET  /sources/{id}/quality        data-quality feedback: counts and
//                                     findings by code with examples (JSON),
//                                     or every finding as CSV (Accept:
//                                     text/csv or ?_format=csv)
//   GET  /quarantine[?source=&status=held|all]   held input, without bodies
//   GET  /quarantine/{id}             one item with its body
//   POST /quarantine/{id}/$replay     runs it again; 200 when taken
//
// Errors are OperationOutcomes with the status interaction::HttpStatusFor
// gives (unknown source 404, unknown format 415, ...).
//
// Thread-safe: Handle may be called from many threads at once.
#pragma once

#include <string_view>

#include "api/http.h"
#include "ingest/ingestor.h"

namespace lhcr::api {

class IngestApi {
 public:
  explicit IngestApi(ingest::Ingestor& ingestor) : ingestor_(ingestor) {}

  // Whether this API serves `path` (the rest is the FHIR API's).
  static bool Serves(std::string_view path);
  HttpResponse Handle(const HttpRequest& request);

 private:
  HttpResponse Ingest(const HttpRequest& request, const std::string& source_id);
  HttpResponse Sources(const std::string& id);
  HttpResponse Quality(const HttpRequest& request, const std::string& id);
  HttpResponse QuarantineList(const HttpRequest& request);
  HttpResponse QuarantineItem(const std::string& id);
  HttpResponse Replay(const std::string& id);

  ingest::Ingestor& ingestor_;
};

}  // namespace lhcr::api
