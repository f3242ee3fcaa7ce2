#!/usr/bin/env python3
"""Home titles for `synth --names` from another marketplace's catalog in the shared datasets.

    python3 benches/names.py online-retail SHARED_DIR OUT.csv
    python3 benches/names.py abt-amazon SHARED_DIR OUT.csv

Writes `category,name,price` (price at IDR scale, which the generator converts to the foreign
currencies), distinct names in file order:

  online-retail  the UCI Online Retail catalog's items (`online_retail/CatalogItems.csv`, catalog
                 type 100; the few others are a demo shop's): 3,629 English gift-ware names, one
                 category, prices in pounds times 20,000 (names without a price left
                 out); real sibling variants (`JUMBO BAG RED RETROSPOT`, `JUMBO BAG PINK
                 POLKADOT`).
  abt-amazon     the Abt side of Abt-Buy (electronics, model codes) and the Amazon side of
                 Amazon-Google (software, editions and versions): 2,413 names in two
                 categories, prices in dollars times 15,000 ($50 where missing). One side of
                 each benchmark only, so no product appears twice under two titles.

A world from them tests the detector on titles it was not built on: English where its word
lists and lexicon were built on Indonesian, another marketplace's own variants.
"""
import csv
import os
import re
import sys


def online_retail(shared):
    with open(os.path.join(shared, "online_retail", "CatalogItems.csv"), newline="",
              encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["CatalogTypeId"] == "100":
                yield "Home and Gifts", r["Name"], r["Price"], 20000, None


def abt_amazon(shared):
    with open(os.path.join(shared, "abt_buy", "catalogs", "abt.csv"), newline="",
              encoding="utf-8", errors="replace") as f:
        for r in csv.DictReader(f, delimiter="|"):
            yield "Electronics", r["name"], r["price"], 15000, 50.0
    with open(os.path.join(shared, "amazon_google", "catalogs", "amazon.csv"), newline="",
              encoding="utf-8", errors="replace") as f:
        for r in csv.DictReader(f, delimiter="#"):
            yield "Software", r["title"], r["price"], 15000, 50.0


SOURCES = {"online-retail": online_retail, "abt-amazon": abt_amazon}


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in SOURCES:
        sys.exit(__doc__)
    source, shared, out = sys.argv[1:]
    seen, rows = set(), []
    # A name without a positive price takes the source's default, or is left out without one.
    for category, name, price, scale, default in SOURCES[source](shared):
        name = " ".join(name.split())
        try:
            value = float(re.sub(r"[^0-9.]", "", price))
        except ValueError:
            value = 0.0
        if value <= 0:
            value = default
        if value is None or not name or name.lower() in seen:
            continue
        seen.add(name.lower())
        rows.append((category, name, f"{value * scale:.0f}"))
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["category", "name", "price"])
        w.writerows(rows)
    print(f"{len(rows)} names in {out}")


if __name__ == "__main__":
    main()
