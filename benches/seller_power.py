#!/usr/bin/env python3
"""How much evidence the seller test has on a world, and what other timing statistics would give.

    python3 benches/seller_power.py OUT_DIR [--truth-sellers CSV] [--statistic NAME ...]
                                    [--draws N] [--top K] [--seed S]

Reads `detect`'s `report.json` and `bestsellers.csv` in OUT_DIR: every seller's bestseller
copies (alerts, pre-existing and outside-window copies), each copied product's stratum and the
onsets of each stratum. For every tested seller (at least `min_follow_listings` bestseller
copies) it draws onsets for the seller's copies from their strata and reports the Monte Carlo
p-value of a timing statistic, then Benjamini-Hochberg at the run's alpha, with each seller's
kind from the truth file when given.

Statistics, each a sum over the seller's copies of a score of the lag (days after onset):
  linear      the detector's: 1 - (lag - min_lag) / (max_lag - min_lag + 1) inside the window
  within:D    1 for a lag in min_lag..=D, else 0 (a follow counted only up to D days)
  linear:D    the linear score over min_lag..=D

Onsets are drawn independently for each copy (the detector draws distinct onsets per product
within a stratum), so `linear` reproduces the detector's p-values closely but not exactly.
Needs numpy.
"""
import argparse
import collections
import csv
import datetime
import json
import os
import sys

import numpy as np


def day(s):
    return datetime.date.fromisoformat(s).toordinal()


def score_fn(name, min_lag, max_lag):
    kind, _, arg = name.partition(":")
    end = int(arg) if arg else max_lag

    def inside(lag):
        return (lag >= min_lag) & (lag <= end)

    if kind == "linear":
        return lambda lag: np.where(inside(lag), 1.0 - (lag - min_lag) / (end - min_lag + 1), 0.0)
    if kind == "within":
        return lambda lag: np.where(inside(lag), 1.0, 0.0)
    sys.exit(f"unknown statistic {name}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--truth-sellers")
    ap.add_argument("--statistic", nargs="+", default=["linear"])
    ap.add_argument("--draws", type=int, default=20_000, help="draws per seller")
    ap.add_argument("--top", type=int, default=12, help="sellers shown, and redrawn 50x longer")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    report = json.load(open(os.path.join(a.out, "report.json")))
    leak = report["params"]["leak"]
    min_lag, max_lag, alpha = leak["min_lag_days"], leak["max_lag_days"], leak["alpha"]
    stratum = {c["product_id"]: c["stratum"] for c in report["controls"]}
    onset = {}
    with open(os.path.join(a.out, "bestsellers.csv")) as f:
        for row in csv.DictReader(f):
            onset[row["product_id"]] = day(row["onset"])
    pools = collections.defaultdict(list)
    for product, s in stratum.items():
        pools[s].append(onset[product])
    pools = {s: np.array(v) for s, v in pools.items()}
    copies = collections.defaultdict(list)
    for key in ("alerts", "pre_existing", "outside_window"):
        for c in report[key]:
            copies[c["seller_id"]].append((c["product_id"], day(c["listed_at"])))
    tested = sorted(s for s, c in copies.items() if len(c) >= max(1, leak["min_follow_listings"]))
    kind = {}
    if a.truth_sellers:
        with open(a.truth_sellers) as f:
            kind = {r["seller_id"]: r["kind"] for r in csv.DictReader(f)}
    rng = np.random.default_rng(a.seed)
    m = len(tested)
    print(f"{m} tested sellers, alpha {alpha}, window {min_lag}..={max_lag} days")

    for name in a.statistic:
        score = score_fn(name, min_lag, max_lag)

        def p_value(seller, draws):
            observed, total = 0.0, np.zeros(draws)
            for product, listed in copies[seller]:
                pool = score(listed - pools[stratum[product]])
                observed += float(score(np.array(listed - onset[product])))
                total += pool[rng.integers(0, len(pool), draws)]
            return (1 + int((total >= observed - 1e-9).sum())) / (1 + draws)

        p = {s: p_value(s, a.draws) for s in tested}
        for s in sorted(p, key=p.get)[: a.top]:
            p[s] = p_value(s, 50 * a.draws)
        order = sorted(tested, key=lambda s: (p[s], s))
        flagged = max((i + 1 for i, s in enumerate(order) if p[s] <= alpha * (i + 1) / m), default=0)
        by_kind = collections.Counter(kind.get(s, "?") for s in order[:flagged])
        print(f"\n{name}: {flagged} below the Benjamini-Hochberg line {dict(by_kind)}")
        print("rank  seller      kind        copies  p         line")
        for i, s in enumerate(order[: a.top]):
            print(f"{i + 1:>4}  {s:<10}  {kind.get(s, '?'):<10}  {len(copies[s]):>6}  "
                  f"{p[s]:.2e}  {alpha * (i + 1) / m:.2e}")
        if kind:
            organic = np.array([p[s] for s in tested if kind.get(s) == "organic"])
            if len(organic):
                print(f"organic sellers: {len(organic)}, share with p < 0.01: "
                      f"{(organic < 0.01).mean():.4f}, p < 0.05: {(organic < 0.05).mean():.4f}")


if __name__ == "__main__":
    main()
