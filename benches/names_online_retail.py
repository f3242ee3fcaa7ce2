#!/usr/bin/env python3
"""Home titles for `synth --names` from the UCI Online Retail catalog (CC BY 4.0).

    python3 benches/names_online_retail.py SHARED_DIR/online_retail/CatalogItems.csv OUT.csv

Writes `category,name,price`: the distinct English gift-ware names of the retailer's items, one
category, prices in pounds times 20,000 (IDR scale, which the generator converts to the
foreign currencies). A world from them tests the detector on titles it was not built on:
another language, another marketplace, real sibling variants (`JUMBO BAG RED RETROSPOT`,
`JUMBO BAG PINK POLKADOT`).
"""
import csv
import sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    seen = set()
    rows = []
    with open(src, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            # Type 100 holds the retailer's items; the few others are a demo shop's.
            if r["CatalogTypeId"] != "100":
                continue
            name = " ".join(r["Name"].split())
            try:
                price = float(r["Price"])
            except ValueError:
                continue
            if not name or price <= 0 or name.lower() in seen:
                continue
            seen.add(name.lower())
            rows.append(("Home and Gifts", name, f"{price * 20000:.0f}"))
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["category", "name", "price"])
        w.writerows(rows)
    print(f"{len(rows)} names in {out}")


if __name__ == "__main__":
    main()
