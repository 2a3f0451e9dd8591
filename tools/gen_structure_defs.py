#!/usr/bin/env python3
"""Compacts the base FHIR R4 StructureDefinitions for structural validation.

Usage: gen_structure_defs.py PACKAGE_DIR OUT.json

Reads every StructureDefinition-*.json in the unpacked npm package
(hl7.fhir.r4.examples@4.0.1) and keeps only the base definitions: resources,
complex data types and primitive types whose derivation is "specialization"
or that have no base (Element, Resource). Profiles, constraints, extension
definitions and logical models are dropped.

Output (one JSON object, keys sorted for a reproducible build):
  {"fhirVersion": "4.0.1",
   "types": {
     "<Type>": {
       "kind": "resource" | "complex-type" | "primitive-type",
       "abstract": bool,
       "base": "<base type>" | null,
       "regex": "<value regex>",            # primitive types only, if defined
       "elements": [                        # snapshot, root element dropped
         {"path": "Patient.name", "min": 1, "max": "*",   # min omitted when 0,
          "types": ["HumanName"],           # max omitted when "1"; type codes
                                            # (absent with contentReference)
          "contentReference": "Questionnaire.item"}  # only when present
       ]}}}

Type codes of the form http://hl7.org/fhirpath/System.X are replaced by the
FHIR type named in their structuredefinition-fhir-type extension (Element.id
-> string, Extension.url -> uri). Resource.id and every resource's inherited
"<Type>.id" is "id": the R4 snapshots say System.String there, but the
specification (Resource.id, "Logical id of this artifact") has type id.
The ".value" element of a primitive type is not a JSON property and is dropped
(its regex moves to the type). Elements with max "0" are prohibited and dropped.
"""
import glob
import json
import os
import sys

FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
SD_PREFIX = "http://hl7.org/fhir/StructureDefinition/"


def ext_value(obj, url):
    for ext in obj.get("extension", []):
        if ext.get("url") == url:
            for key, value in ext.items():
                if key.startswith("value"):
                    return value
    return None


def type_code(t):
    code = t["code"]
    if code.startswith("http://hl7.org/fhirpath/System."):
        mapped = ext_value(t, FHIR_TYPE_EXT)
        if mapped:
            return mapped
        return "string"
    return code


def is_base_definition(sd):
    if sd.get("kind") not in ("resource", "complex-type", "primitive-type"):
        return False
    if sd.get("derivation") == "specialization":
        return True
    return not sd.get("baseDefinition")


def compact(sd):
    name = sd["type"]
    kind = sd["kind"]
    base = sd.get("baseDefinition")
    out = {
        "kind": kind,
        "abstract": bool(sd.get("abstract", False)),
        "base": base[len(SD_PREFIX):] if base and base.startswith(SD_PREFIX) else None,
    }
    elements = []
    for e in sd["snapshot"]["element"]:
        path = e["path"]
        if path == name or "sliceName" in e or e.get("max") == "0":
            continue
        if kind == "primitive-type" and path == name + ".value":
            for t in e.get("type", []):
                regex = ext_value(t, REGEX_EXT)
                if regex:
                    out["regex"] = regex
            continue
        el = {"path": path}
        if int(e.get("min", 0)) != 0:
            el["min"] = int(e["min"])
        if e.get("max", "1") != "1":
            el["max"] = e["max"]
        if e.get("isSummary") and path.count(".") == 1:
            el["summary"] = 1  # a top-level summary element (for _summary=true)
        if "contentReference" in e:
            el["contentReference"] = e["contentReference"].lstrip("#")
        else:
            types = []
            for t in e.get("type", []):
                code = type_code(t)
                if kind == "resource" and path == name + ".id":
                    code = "id"
                if code not in types:
                    types.append(code)
            el["types"] = types
        elements.append(el)
    out["elements"] = elements
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen_structure_defs.py PACKAGE_DIR OUT.json")
    package, out_path = sys.argv[1], sys.argv[2]
    types = {}
    for path in sorted(glob.glob(os.path.join(package, "StructureDefinition-*.json"))):
        with open(path, encoding="utf-8") as f:
            sd = json.load(f)
        if sd.get("resourceType") != "StructureDefinition" or not is_base_definition(sd):
            continue
        if "snapshot" not in sd:
            continue
        types[sd["type"]] = compact(sd)
    if "Patient" not in types or "string" not in types:
        sys.exit("gen_structure_defs.py: base definitions not found in " + package)
    # Every referenced type code must be defined, or validation would be blind.
    for name, t in types.items():
        for el in t["elements"]:
            for code in el.get("types", []):
                if code not in types:
                    sys.exit("gen_structure_defs.py: %s refers to unknown type %s" % (el["path"], code))
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"fhirVersion": "4.0.1", "types": types}, f, separators=(",", ":"), sort_keys=True)


if __name__ == "__main__":
    main()
