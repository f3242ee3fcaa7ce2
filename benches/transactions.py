#!/usr/bin/env python3
"""A seeded transaction log for the sales reader: one row per sale line.

Writes OUT/sales.csv (product_id,date,units: 0 to 16 lines per product and day, 1 to 3 units
each, the day's lines shuffled), OUT/products.csv and a one-listing OUT/catalog.csv, so that
`detect` runs on it end to end and the sales reader's time and memory show:

    python3 benches/transactions.py --products 5000 --days 365 --out /tmp/tx
    /usr/bin/time -v target/release/examples/detect --sales /tmp/tx/sales.csv \
        --products /tmp/tx/products.csv --catalog /tmp/tx/catalog.csv --out /tmp/tx/out

Python 3 standard library only; the same arguments write the same files.
"""
import argparse
import datetime
import os
import random


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=5000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--out", default="/tmp/tx")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    start = datetime.date(2024, 1, 1)
    with open(os.path.join(a.out, "products.csv"), "w") as f:
        f.write("product_id,title\n")
        for p in range(a.products):
            f.write(f"p{p},product number {p} widget\n")
    with open(os.path.join(a.out, "catalog.csv"), "w") as f:
        f.write("listing_id,title,listed_at,seller_id\n")
        f.write("f1,product number 1 widget,2024-06-01,s1\n")
    rows = 0
    with open(os.path.join(a.out, "sales.csv"), "w") as f:
        f.write("product_id,date,units\n")
        for d in range(a.days):
            day = (start + datetime.timedelta(days=d)).isoformat()
            lines = []
            for p in range(a.products):
                for _ in range(rng.randint(0, 16)):
                    lines.append(f"p{p},{day},{rng.randint(1, 3)}\n")
            rng.shuffle(lines)
            f.writelines(lines)
            rows += len(lines)
    print(f"{rows} sale lines, {a.products} products, {a.days} days in {a.out}")


if __name__ == "__main__":
    main()
