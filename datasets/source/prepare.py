#!/usr/bin/env python3
"""Regenerate the small source files that `crossleak_eval::synth` embeds with `include_bytes!`.

Reads the public datasets under /work/shared/datasets (or the directory given as the first
argument) and writes, next to this script:

* tokopedia_products.csv.gz -- unique Tokopedia product names with category, price and
  number sold (PRDECT-ID, CC BY 4.0), in first-appearance order.
* cj_daily_curves.csv.gz -- ~400 stable daily demand curves from The Complete Journey 2.0
  (84.51 degrees, CC0), one row per product: `curve,product_id,department,units` where
  `units` holds 365 space-separated daily unit counts for 2017-01-01..2017-12-31.

Python 3 standard library only; the output is deterministic (gzip mtime fixed to 0).
"""

import csv
import datetime
import gzip
import io
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/datasets"

# Curve selection parameters.
N_CURVES = 400
DAYS = 365
START = datetime.date(2017, 1, 1)
MIN_SALE_DAYS = 183  # sales on more than half of the days of the year
WINDOW = 28
MAX_RISE = 2.0


def write_gz(name, text):
    path = os.path.join(HERE, name)
    raw = text.encode("utf-8")
    with open(path, "wb") as f:
        # mtime=0 and no file name keep the bytes identical across runs.
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as gz:
            gz.write(raw)
    print(f"wrote {path}: {os.path.getsize(path)} bytes")


def tokopedia():
    src = os.path.join(SHARED, "tokopedia_prdect_id", "PRDECT-ID_Dataset.csv")
    seen = {}
    with open(src, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            name = " ".join(row["Product Name"].split())
            if name and name not in seen:
                seen[name] = (row["Category"].strip(), row["Price"].strip(), row["Number Sold"].strip())
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["category", "name", "price", "number_sold"])
    for name, (cat, price, sold) in seen.items():
        w.writerow([cat, name, price, sold])
    write_gz("tokopedia_products.csv.gz", out.getvalue())
    print(f"  {len(seen)} unique names, {len({v[0] for v in seen.values()})} categories")


def rolling_means(xs, k):
    out = []
    s = sum(xs[:k])
    out.append(s / k)
    for i in range(k, len(xs)):
        s += xs[i] - xs[i - k]
        out.append(s / k)
    return out


def complete_journey():
    base = os.path.join(SHARED, "completejourney")
    excluded = set()
    dept = {}
    with gzip.open(os.path.join(base, "products.csv.gz"), "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            pid = row["product_id"]
            dept[pid] = row["department"]
            if row["product_type"] == "GASOLINE-REG UNLEADED" or row["department"] in ("FUEL", "KIOSK-GAS"):
                excluded.add(pid)
    series = {}
    with gzip.open(os.path.join(base, "product_daily_sales.csv.gz"), "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            pid = row["product_id"]
            if pid in excluded:
                continue
            day = (datetime.date.fromisoformat(row["date"]) - START).days
            if not 0 <= day < DAYS:
                continue
            units = float(row["units"])
            if units <= 0:
                continue
            series.setdefault(pid, [0.0] * DAYS)[day] += units
    # Selection rule (stable curves only):
    #   1. sales on at least MIN_SALE_DAYS of the 365 days, and
    #   2. no sustained multi-fold rise: the maximum over the year of the 28-day rolling MEAN is
    #      below MAX_RISE (2x) times the annual mean daily units, and the first and last
    #      quarter means are within 2x of each other. (A rolling median is too coarse for the
    #      low-count products, whose median is 0 or 1 units a day.)
    #   3. among those, the N_CURVES products with the most selling days (ties: most units,
    #      then product id), so the curves are the densest stable ones.
    cands = []
    for pid, xs in series.items():
        sale_days = sum(1 for x in xs if x > 0)
        if sale_days < MIN_SALE_DAYS:
            continue
        mean = sum(xs) / DAYS
        if max(rolling_means(xs, WINDOW)) >= MAX_RISE * mean:
            continue
        q1 = sum(xs[:91]) / 91
        q4 = sum(xs[-91:]) / 91
        if q1 <= 0 or q4 <= 0 or max(q1, q4) >= MAX_RISE * min(q1, q4):
            continue
        cands.append((-sale_days, -sum(xs), int(pid) if pid.isdigit() else pid, pid))
    cands.sort()
    chosen = cands[:N_CURVES]
    print(f"  {len(cands)} stable candidates, keeping {len(chosen)}")
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["curve", "product_id", "department", "units"])
    for i, (_, _, _, pid) in enumerate(chosen):
        xs = series[pid]
        cells = " ".join(str(int(x)) if x == int(x) else f"{x:g}" for x in xs)
        w.writerow([i, pid, dept.get(pid, ""), cells])
    write_gz("cj_daily_curves.csv.gz", out.getvalue())


if __name__ == "__main__":
    tokopedia()
    complete_journey()
