// The terminology lhcr serves and ingest translates with
// (docs/TERMINOLOGY.md): the folder given by --terminology (the
// data/terminology layout: fhir/, snomed/, dmd/), by default the repository's
// shipped subset; then each registered source's local code map.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "ingest/source_registry.h"
#include "terminology/terminology.h"

namespace lhcr {

// `dir` empty: the built-in default folder, skipped (with a note on stderr)
// when it does not exist; a `dir` given that is missing or does not load is
// an error. `registry` may be null.
Result<std::shared_ptr<const terminology::Terminology>> LoadTerminology(
    const std::string& dir, const ingest::SourceRegistry* registry);

}  // namespace lhcr
