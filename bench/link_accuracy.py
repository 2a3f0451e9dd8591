#!/usr/bin/env python3
# Pairwise precision/recall of the Persons a running lhcr holds (linked at ingest
# or by relink) against a synthetic region's truth.csv.
# usage: bench/link_accuracy.py TRUTH_CSV [BASE_URL]   (default http://127.0.0.1:8394/fhir)
import csv, itertools, json, sys, urllib.request
from collections import Counter

base = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:8394/fhir"
def all_of(t, extra=""):
    url = f"{base}/{t}?_count=1000{extra}"
    while url:
        b = json.load(urllib.request.urlopen(url))
        for e in b.get("entry", []):
            r = e["resource"]
            if r.get("resourceType") == t: yield r
        url = next((l["url"] for l in b.get("link", []) if l["relation"] == "next"), None)
truth = {}
for row in csv.DictReader(open(sys.argv[1])):
    truth[(row["source_id"], row["record_id"])] = row["person_id"]
pt = {}
for p in all_of("Patient"):
    src = p.get("meta", {}).get("source", "").split("#")[0]
    for i in p.get("identifier", []):
        if i.get("system") != "https://fhir.nhs.uk/Id/nhs-number" and (src, i.get("value")) in truth:
            pt["Patient/" + p["id"]] = truth[(src, i["value"])]
pred = 0; correct = 0; persons = 0; linked = set()
for per in all_of("Person"):
    refs = [l["target"]["reference"] for l in per.get("link", [])]
    if not refs: continue
    persons += 1
    linked.update(refs)
    for a, b in itertools.combinations(refs, 2):
        pred += 1
        correct += pt.get(a) is not None and pt.get(a) == pt.get(b)
c = Counter(pt.values())
true_pairs = sum(n * (n - 1) // 2 for n in c.values())
print(f"patients {len(pt)} linked {len(linked & set(pt))} persons {persons} predicted pairs {pred} correct {correct} true pairs {true_pairs}")
print(f"precision {correct / max(pred,1):.4f} recall {correct / max(true_pairs,1):.4f}")
