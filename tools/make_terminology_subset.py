#!/usr/bin/env python3
"""Builds the small SNOMED CT / dm+d / FHIR terminology subset under
data/terminology/ from the shared code lists (../shared/data/codelists) and
the codes the synthesiser uses (src/synth/codes.cc, src/synth/render.cc).

The output has the file formats of the real releases, so that a region can
load its own licensed release the same way (docs/TERMINOLOGY.md):

  snomed/Snapshot/Terminology/sct2_Concept_Snapshot_LHCR_<date>.txt
  snomed/Snapshot/Terminology/sct2_Description_Snapshot-en_LHCR_<date>.txt
  snomed/Snapshot/Terminology/sct2_Relationship_Snapshot_LHCR_<date>.txt
  dmd/f_vtm2_3<ddmmyy>.xml, dmd/f_vmp2_3<ddmmyy>.xml, dmd/f_amp2_3<ddmmyy>.xml
  fhir/ValueSet-*.json, fhir/CodeSystem-loinc-subset.json

What is taken from where (nothing clinical is invented):
  - concepts and their terms: the code lists (code<TAB>term). A term ending
    in a semantic tag "(...)" is written as the fully specified name, any
    other as a synonym.
  - is-a edges: a code in a list is-a the list's canonical concept (the code
    synth uses for that list, or the one named in LIST_CANONICAL below);
    an edge that would close a cycle is left out.
  - dm+d layering, per synth medicine list: the VMP is synth's canonical code;
    the VTM is the list's "<Substance> product" entry; other VMPs of that VTM
    are the list's single-ingredient "Product containing precisely
    <substance> ..." entries; AMPs are UK drug extension codes (namespace
    1000001) whose term is exactly the VMP's name (generic AMPs carry the VMP
    name in dm+d).
  - description and relationship ids are generated (valid SCTIDs with
    check digits in partition 01/02), not the real release's ids.

Run: python3 tools/make_terminology_subset.py [codelists dir] [out dir]
"""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODELISTS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data", "codelists")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "data", "terminology")
EFFECTIVE = "20250401"
DMD_DATE = "010425"
CORE_MODULE = "900000000000207008"
IS_A = "116680003"
FSN = "900000000000003001"
SYNONYM = "900000000000013009"
CASE_INSENSITIVE = "900000000000448009"
INFERRED = "900000000000011006"
EXISTENTIAL = "900000000000451002"
PRIMITIVE = "900000000000074008"
BASE = "https://lhcr.example.org/fhir"

# Lists with a canonical concept that synth does not name. 73211009
# "Diabetes mellitus" is the parent of type 1 and type 2 diabetes.
LIST_CANONICAL = {
    "conditions/diabetes.snomed.txt": ("73211009", "Diabetes mellitus (disorder)"),
}
# Lists kept small: only the canonical code and the first N entries.
TRUNCATE = {"conditions/cancer.snomed.txt": 100}

# Verhoeff check digit (the SNOMED CT identifier check digit).
_D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
      [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
      [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
      [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
      [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
      [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
      [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
      [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]
_INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def verhoeff(num):
    c = 0
    for i, ch in enumerate(reversed(num)):
        c = _D[c][_P[(i + 1) % 8][int(ch)]]
    return str(_INV[c])


def sctid(item, partition):
    body = str(item) + partition
    return body + verhoeff(body)


def read_list(rel):
    path = os.path.join(CODELISTS, rel)
    out = []
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if "\t" not in line:
                continue
            code, term = line.split("\t", 1)
            if code.isdigit() and term:
                out.append((code, term.strip()))
    return out


def synth_defs():
    """(list file, canonical code, display) triples from src/synth/codes.cc."""
    text = open(os.path.join(ROOT, "src", "synth", "codes.cc"), encoding="utf-8").read()
    text = re.sub(r'"\s*\n\s*"', "", text)  # joined string literals
    return re.findall(r'\{"([a-z0-9/-]+\.snomed\.txt)",\s*"(\d+)",\s*"([^"]*)"\}', text)


def lab_defs():
    """(local, display, unit, loinc, snomed) from src/synth/render.cc kLabs."""
    text = open(os.path.join(ROOT, "src", "synth", "render.cc"), encoding="utf-8").read()
    return re.findall(r'\{"([A-Z0-9]+)", "([^"]*)", "([^"]*)", "([0-9-]+)", "(\d*)", \d\}', text)


# LOINC codes synth sends (render.cc), with their LOINC long common names.
LOINC = {
    "59261-8": "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol",
    "14647-2": "Cholesterol [Moles/volume] in Serum or Plasma",
    "14682-9": "Creatinine [Moles/volume] in Serum or Plasma",
    "62238-1": "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, "
               "Plasma or Blood by Creatinine-based formula (CKD-EPI)",
    "32294-1": "Albumin/Creatinine [Ratio] in Urine",
    "718-7": "Hemoglobin [Mass/volume] in Blood",
    "6690-2": "Leukocytes [#/volume] in Blood by Automated count",
    "777-3": "Platelets [#/volume] in Blood by Automated count",
    "8480-6": "Systolic blood pressure",
    "8462-4": "Diastolic blood pressure",
    "39156-5": "Body mass index (BMI) [Ratio]",
    "72166-2": "Tobacco smoking status",
    "48018-6": "Gene studied [ID]",
    "69548-6": "Genetic variant assessment",
    "48004-6": "DNA change (c.HGVS)",
}


def is_uk_drug_extension(code):
    # Long-format SCTID: ... <7-digit namespace><2-digit partition><check>.
    return len(code) > 10 and code[-10:-3] == "1000001"


def main():
    concepts = {}  # code -> list of terms (first kept order)
    edges = set()  # (child, parent)
    lists = {}  # rel -> entries

    def add(code, term):
        terms = concepts.setdefault(code, [])
        if term and term not in terms:
            terms.append(term)

    canon = {rel: (code, disp) for rel, code, disp in synth_defs()}
    canon.update(LIST_CANONICAL)
    for group in ("conditions", "efi", "care-processes"):
        folder = os.path.join(CODELISTS, group)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".snomed.txt"):
                continue
            rel = group + "/" + name
            entries = read_list(rel)
            if rel in TRUNCATE:
                keep = [e for e in entries if rel in canon and e[0] == canon[rel][0]]
                entries = keep + [e for e in entries[:TRUNCATE[rel]] if e not in keep]
            lists[rel] = entries
            for code, term in entries:
                add(code, term)
            if group != "care-processes" and rel in canon:
                parent, disp = canon[rel]
                add(parent, disp)
                for code, _ in entries:
                    if code != parent:
                        edges.add((code, parent))
    # Lab observables synth codes (render.cc) with their list terms.
    for local, display, unit, loinc, snomed in lab_defs():
        if snomed and snomed not in concepts:
            add(snomed, display)

    # Drop edges that would close a cycle (a code canonical in one list and
    # a member of another list headed by its own descendant).
    parents = {}
    kept = set()
    for child, parent in sorted(edges):
        stack, seen, cycle = [parent], set(), False
        while stack:
            n = stack.pop()
            if n == child:
                cycle = True
                break
            if n in seen:
                continue
            seen.add(n)
            stack.extend(parents.get(n, ()))
        if not cycle:
            parents.setdefault(child, set()).add(parent)
            kept.add((child, parent))

    sdir = os.path.join(OUT, "snomed", "Snapshot", "Terminology")
    os.makedirs(sdir, exist_ok=True)
    with open(os.path.join(sdir, f"sct2_Concept_Snapshot_LHCR_{EFFECTIVE}.txt"), "w", newline="") as f:
        f.write("id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId\r\n")
        for code in sorted(concepts, key=int):
            f.write(f"{code}\t{EFFECTIVE}\t1\t{CORE_MODULE}\t{PRIMITIVE}\r\n")
    n = 0
    with open(os.path.join(sdir, f"sct2_Description_Snapshot-en_LHCR_{EFFECTIVE}.txt"), "w",
              newline="") as f:
        f.write("id\teffectiveTime\tactive\tmoduleId\tconceptId\tlanguageCode\ttypeId\tterm\t"
                "caseSignificanceId\r\n")
        for code in sorted(concepts, key=int):
            have_fsn = False
            for term in concepts[code]:
                fsn = re.search(r"\([a-z /-]+\)$", term) is not None and not have_fsn
                have_fsn = have_fsn or fsn
                n += 1
                f.write(f"{sctid(800000000 + n, '01')}\t{EFFECTIVE}\t1\t{CORE_MODULE}\t{code}\ten\t"
                        f"{FSN if fsn else SYNONYM}\t{term}\t{CASE_INSENSITIVE}\r\n")
    n = 0
    with open(os.path.join(sdir, f"sct2_Relationship_Snapshot_LHCR_{EFFECTIVE}.txt"), "w",
              newline="") as f:
        f.write("id\teffectiveTime\tactive\tmoduleId\tsourceId\tdestinationId\trelationshipGroup\t"
                "typeId\tcharacteristicTypeId\tmodifierId\r\n")
        for child, parent in sorted(kept, key=lambda e: (int(e[0]), int(e[1]))):
            n += 1
            f.write(f"{sctid(800000000 + n, '02')}\t{EFFECTIVE}\t1\t{CORE_MODULE}\t{child}\t{parent}\t"
                    f"0\t{IS_A}\t{INFERRED}\t{EXISTENTIAL}\r\n")

    # dm+d: VTM / VMP / AMP of synth's medicines.
    vtms, vmps, amps = {}, {}, {}
    for rel, code, disp in synth_defs():
        if not rel.startswith("medications/"):
            continue
        entries = read_list(rel)
        terms = {c: t for c, t in entries}
        vmp_name = terms.get(code, disp)
        if vmp_name.startswith("Product containing"):
            vmp_name = disp  # the dm+d name synth uses, not the international FSN
        substance = vmp_name.split()[0].lower()
        vtm = next((c for c, t in entries if t.lower() == substance + " product"), None)
        if vtm:
            vtms[vtm] = terms[vtm][:-len(" product")]
        vmps[code] = (vmp_name, vtm)
        for c, t in entries:
            if (t.startswith("Product containing precisely " + substance + " ") and " and " not in t
                    and c != code and not is_uk_drug_extension(c)):
                vmps.setdefault(c, (re.sub(r" \(clinical drug\)$", "", t), vtm))
        for c, t in entries:
            if c != code and is_uk_drug_extension(c) and t == vmp_name and len(
                    [a for a in amps.values() if a[1] == code]) < 12:
                amps[c] = (t, code)
    ddir = os.path.join(OUT, "dmd")
    os.makedirs(ddir, exist_ok=True)
    xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'

    def esc(s):
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    with open(os.path.join(ddir, f"f_vtm2_3{DMD_DATE}.xml"), "w") as f:
        f.write(f'<?xml version="1.0" encoding="utf-8"?>\n<VIRTUAL_THERAPEUTIC_MOIETIES {xsi}>\n')
        for c in sorted(vtms, key=int):
            f.write(f"  <VTM>\n    <VTMID>{c}</VTMID>\n    <NM>{esc(vtms[c])}</NM>\n  </VTM>\n")
        f.write("</VIRTUAL_THERAPEUTIC_MOIETIES>\n")
    with open(os.path.join(ddir, f"f_vmp2_3{DMD_DATE}.xml"), "w") as f:
        f.write(f'<?xml version="1.0" encoding="utf-8"?>\n<VIRTUAL_MED_PRODUCTS {xsi}>\n  <VMPS>\n')
        for c in sorted(vmps, key=int):
            name, vtm = vmps[c]
            f.write(f"    <VMP>\n      <VPID>{c}</VPID>\n      <VPIDDT>2025-04-01</VPIDDT>\n")
            if vtm:
                f.write(f"      <VTMID>{vtm}</VTMID>\n")
            f.write(f"      <NM>{esc(name)}</NM>\n    </VMP>\n")
        f.write("  </VMPS>\n</VIRTUAL_MED_PRODUCTS>\n")
    with open(os.path.join(ddir, f"f_amp2_3{DMD_DATE}.xml"), "w") as f:
        f.write(f'<?xml version="1.0" encoding="utf-8"?>\n<ACTUAL_MEDICINAL_PRODUCTS {xsi}>\n  <AMPS>\n')
        for c in sorted(amps, key=int):
            name, vpid = amps[c]
            f.write(f"    <AMP>\n      <APID>{c}</APID>\n      <VPID>{vpid}</VPID>\n"
                    f"      <NM>{esc(name)}</NM>\n      <DESC>{esc(name)}</DESC>\n    </AMP>\n")
        f.write("  </AMPS>\n</ACTUAL_MEDICINAL_PRODUCTS>\n")

    # FHIR: one extensional ValueSet per list, an is-a ValueSet per list with
    # a canonical concept, and the LOINC codes synth sends.
    fdir = os.path.join(OUT, "fhir")
    os.makedirs(fdir, exist_ok=True)
    for old in os.listdir(fdir):
        if old.startswith("ValueSet-codelist-") or old.startswith("ValueSet-isa-"):
            os.remove(os.path.join(fdir, old))
    for rel, entries in sorted(lists.items()):
        name = rel.replace(".snomed.txt", "").replace("/", "-")
        vs = {
            "resourceType": "ValueSet", "id": "codelist-" + name,
            "url": f"{BASE}/ValueSet/codelist-{name}", "version": EFFECTIVE,
            "name": "Codelist_" + re.sub(r"[^A-Za-z0-9]", "_", name), "status": "active",
            "description": f"The GM SDE code list {rel} (SNOMED CT)",
            "compose": {"include": [{"system": "http://snomed.info/sct",
                                     "concept": [{"code": c} for c, _ in entries]}]},
        }
        with open(os.path.join(fdir, f"ValueSet-codelist-{name}.json"), "w") as f:
            json.dump(vs, f, indent=1)
            f.write("\n")
        if rel in canon and not rel.startswith("care-processes"):
            code, disp = canon[rel]
            vs = {
                "resourceType": "ValueSet", "id": "isa-" + name,
                "url": f"{BASE}/ValueSet/isa-{name}", "version": EFFECTIVE,
                "name": "IsA_" + re.sub(r"[^A-Za-z0-9]", "_", name), "status": "active",
                "description": f"{code} and its descendants in the loaded SNOMED CT",
                "compose": {"include": [{"system": "http://snomed.info/sct", "filter": [
                    {"property": "concept", "op": "is-a", "value": code}]}]},
            }
            with open(os.path.join(fdir, f"ValueSet-isa-{name}.json"), "w") as f:
                json.dump(vs, f, indent=1)
                f.write("\n")
    # dm+d: each level as a value set (property filter), and each VTM with
    # its products (is-a), for matching medicines by moiety.
    for old in os.listdir(fdir):
        if old.startswith("ValueSet-dmd-"):
            os.remove(os.path.join(fdir, old))
    for level in ("VTM", "VMP", "AMP"):
        vs = {
            "resourceType": "ValueSet", "id": "dmd-" + level.lower(),
            "url": f"{BASE}/ValueSet/dmd-{level.lower()}", "version": EFFECTIVE,
            "name": "Dmd_" + level, "status": "active",
            "description": f"Every loaded dm+d {level}",
            "compose": {"include": [{"system": "http://snomed.info/sct", "filter": [
                {"property": "dmd-level", "op": "=", "value": level}]}]},
        }
        with open(os.path.join(fdir, f"ValueSet-dmd-{level.lower()}.json"), "w") as f:
            json.dump(vs, f, indent=1)
            f.write("\n")
    for code, name in sorted(vtms.items()):
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        vs = {
            "resourceType": "ValueSet", "id": "dmd-vtm-" + slug,
            "url": f"{BASE}/ValueSet/dmd-vtm-{slug}", "version": EFFECTIVE,
            "name": "Dmd_vtm_" + re.sub(r"[^A-Za-z0-9]", "_", slug), "status": "active",
            "description": f"The dm+d VTM {code} |{name}| and its VMPs and AMPs",
            "compose": {"include": [{"system": "http://snomed.info/sct", "filter": [
                {"property": "concept", "op": "is-a", "value": code}]}]},
        }
        with open(os.path.join(fdir, f"ValueSet-dmd-vtm-{slug}.json"), "w") as f:
            json.dump(vs, f, indent=1)
            f.write("\n")
    cs = {
        "resourceType": "CodeSystem", "id": "loinc-subset", "url": "http://loinc.org",
        "version": "2.78", "name": "LOINC_subset", "status": "active", "content": "fragment",
        "description": "The LOINC codes the synthetic region sends. LOINC is copyright Regenstrief "
                       "Institute; a region loads its own LOINC CodeSystem the same way.",
        "concept": [{"code": c, "display": d} for c, d in LOINC.items()],
    }
    with open(os.path.join(fdir, "CodeSystem-loinc-subset.json"), "w") as f:
        json.dump(cs, f, indent=1)
        f.write("\n")
    print(f"{len(concepts)} SNOMED concepts, {len(kept)} is-a edges, {len(vtms)} VTMs, "
          f"{len(vmps)} VMPs, {len(amps)} AMPs, {len(lists)} code list ValueSets")


if __name__ == "__main__":
    main()
