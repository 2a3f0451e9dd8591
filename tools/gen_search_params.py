#!/usr/bin/env python3
"""Compacts the R4 SearchParameters of an unpacked FHIR npm package.

Usage: gen_search_params.py PACKAGE_DIR OUT.json

Reads every SearchParameter-*.json in PACKAGE_DIR and writes one compact JSON
array of
  {url, code, type, base[], expression, target[], component[{definition, expression}]}
sorted by url, dropping the narrative and every other element. The result is
embedded into lhcr_fhir (see src/fhir/CMakeLists.txt) and parsed by
fhir::SearchParameterRegistry.

The package's own illustrative SearchParameters (ids "example",
"example-reference", "example-extension") are left out: they are examples, not
part of the R4 registry, and two of them collide with real parameters
(Resource._id, Condition.subject).
"""
import glob
import json
import os
import sys


def compact(sp):
    out = {
        "url": sp.get("url", ""),
        "code": sp.get("code", ""),
        "type": sp.get("type", ""),
        "base": list(sp.get("base") or []),
        "expression": sp.get("expression", ""),
        "target": list(sp.get("target") or []),
        "component": [
            {"definition": c.get("definition", ""), "expression": c.get("expression", "")}
            for c in (sp.get("component") or [])
        ],
    }
    return out


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: gen_search_params.py PACKAGE_DIR OUT.json\n")
        return 2
    package_dir, out_path = argv[1], argv[2]
    params = []
    for path in sorted(glob.glob(os.path.join(package_dir, "SearchParameter-*.json"))):
        with open(path, encoding="utf-8") as f:
            sp = json.load(f)
        if sp.get("resourceType") != "SearchParameter":
            continue
        if sp.get("id", "").startswith("example"):
            continue
        params.append(compact(sp))
    if not params:
        sys.stderr.write("no SearchParameter-*.json found in %s\n" % package_dir)
        return 1
    params.sort(key=lambda p: p["url"])
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(params, f, separators=(",", ":"), ensure_ascii=False)
    os.replace(tmp, out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
