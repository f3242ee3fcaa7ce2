#!/usr/bin/env python3
"""Plays the analyst of the labelling loop on a synthetic world: labels the pairs of
OUT/review_pairs.csv from the world's truth_copies.csv and appends them to LABELS (created
when missing), which the next run reads as `match.labels`.

    python3 benches/label_from_truth.py WORLD_DIR OUT_DIR LABELS_CSV

Standard library only.
"""
import csv
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    world, out, labels = sys.argv[1:]
    with open(f"{world}/truth_copies.csv", newline="") as f:
        truth = {(r["listing_id"], r["product_id"]) for r in csv.DictReader(f)}
    with open(f"{out}/review_pairs.csv", newline="") as f:
        review = list(csv.DictReader(f))
    try:
        with open(labels, newline="") as f:
            kept = [(r["listing_id"], r["product_id"], r["label"]) for r in csv.DictReader(f)]
    except FileNotFoundError:
        kept = []
    new = [(r["listing_id"], r["product_id"], int((r["listing_id"], r["product_id"]) in truth))
           for r in review]
    with open(labels, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["listing_id", "product_id", "label"])
        w.writerows(kept + new)
    print(f"{len(new)} pairs labelled, {sum(n[2] for n in new)} of them copies; {len(kept) + len(new)} in {labels}")


if __name__ == "__main__":
    main()
