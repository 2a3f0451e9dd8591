// NHS Dictionary of Medicines and Devices (dm+d) XML, as NHSBSA publishes it
// on TRUD: f_vtm2_*.xml (VIRTUAL_THERAPEUTIC_MOIETIES / VTM: VTMID, NM,
// INVALID), f_vmp2_*.xml (VIRTUAL_MED_PRODUCTS / VMPS / VMP: VPID, VTMID, NM,
// INVALID) and f_amp2_*.xml (ACTUAL_MEDICINAL_PRODUCTS / AMPS / AMP: APID,
// VPID, NM, DESC, INVALID) — dm+d Data Model R2 v3 and the XML schema
// (f_vtm2, f_vmp2, f_amp2). Parsed with libxml2 (no network, no entity
// expansion). Elements are found by name wherever they sit, so the other
// tables in the same files (VPI, AP_INGREDIENT, ...) are ignored.
//
// Thread-safe (libxml2 is initialised once).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lhcr::terminology {

class TerminologyBuilder;

struct DmdProduct {
  enum class Level { kVtm, kVmp, kAmp };
  Level level = Level::kVtm;
  std::string id;      // VTMID / VPID / APID (an SCTID)
  std::string name;    // NM
  std::string parent;  // VMP: its VTMID (may be empty); AMP: its VPID
  bool invalid = false;
  bool operator==(const DmdProduct&) const = default;
};

// The VTMs, VMPs and AMPs in one dm+d XML file, in document order.
// kIncorrect: not well-formed XML, or a product without its id or name.
Result<std::vector<DmdProduct>> ParseDmdXml(std::string_view xml);

// Adds the products as SNOMED CT concepts (display NM, property
// "dmd-level"; an AMP is-a its VPID, a VMP is-a its VTMID; an INVALID
// product is inactive).
void AddDmdProducts(const std::vector<DmdProduct>& products, TerminologyBuilder& builder);

}  // namespace lhcr::terminology
