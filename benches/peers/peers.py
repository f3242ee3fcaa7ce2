"""Candidate generation by peer tools on the files of `gen_catalogs`, scored like crossleak.

Usage: peers.py TOOL --left left.csv --right right.csv --truth truth.csv [--k 10] [--threads 2]

TOOL is one of:
  sklearn_char    scikit-learn TfidfVectorizer, analyzer="char_wb", 3-grams, sublinear tf,
                  fitted on both catalogs' titles; sparse_dot_topn.sp_matmul_topn top-k.
  sklearn_mixed   the same scoring as crossleak: word TF-IDF and char_wb 3-gram TF-IDF, each
                  L2-normalised and weighted 1/sqrt(2), stacked, so a dot product is the mean of
                  the two cosines; sp_matmul_topn top-k.
  rapidfuzz       rapidfuzz.process.cdist(scorer=fuzz.token_sort_ratio, workers=THREADS) over
                  lower-cased titles, in blocks of rows; top-k per row by argpartition.
  datasketch      MinHash (128 permutations) of each title's char 3-gram set, MinHashLSH
                  (threshold 0.3) over the left titles; each right title's LSH candidates ranked
                  by estimated Jaccard, top-k kept. Single-threaded (datasketch has no workers).

The timed part is everything after the files are read: fitting/vectorising both sides, the
index and the top-k search. The last line printed is JSON: tool, seconds, peak_rss_mb (whole
process, ru_maxrss), recall_at_k, candidates.
"""

import argparse
import csv
import json
import resource
import sys
import time

import numpy as np


def read_titles(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["id"] for r in rows], [r["title"] for r in rows]


def read_truth(path):
    with open(path, newline="", encoding="utf-8") as f:
        rd = csv.reader(f)
        next(rd)
        return {(r[0], r[1]) for r in rd}


def topk_rows(c, k):
    """(right index, left index) pairs of a CSR matrix with at most k entries per row."""
    out = []
    indptr, indices = c.indptr, c.indices
    for q in range(c.shape[0]):
        for t in indices[indptr[q] : indptr[q + 1]][:k]:
            out.append((q, int(t)))
    return out


def sklearn_topk(left, right, k, threads, mixed):
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sparse_dot_topn import sp_matmul_topn

    both = left + right
    char = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 3), sublinear_tf=True, dtype=np.float32
    ).fit(both)
    if mixed:
        word = TfidfVectorizer(
            token_pattern=r"(?u)\b\w+\b", sublinear_tf=True, dtype=np.float32
        ).fit(both)
        s = np.float32(1 / np.sqrt(2))
        vec = lambda xs: hstack([word.transform(xs) * s, char.transform(xs) * s]).tocsr()
    else:
        vec = char.transform
    a = vec(right)
    b = vec(left)
    c = sp_matmul_topn(a, b.T, top_n=k, sort=True, n_threads=threads)
    return topk_rows(c, k)


def rapidfuzz_topk(left, right, k, threads):
    from rapidfuzz import fuzz, process, utils

    lp = [utils.default_process(t) for t in left]
    rp = [utils.default_process(t) for t in right]
    out = []
    block = max(1, 20_000_000 // max(1, len(lp)))
    for start in range(0, len(rp), block):
        m = process.cdist(
            rp[start : start + block],
            lp,
            scorer=fuzz.token_sort_ratio,
            dtype=np.uint8,
            workers=threads,
        )
        kk = min(k, m.shape[1])
        top = np.argpartition(-m.astype(np.int16), kk - 1, axis=1)[:, :kk]
        for i, row in enumerate(top):
            for t in row:
                out.append((start + i, int(t)))
    return out


def shingles(title):
    s = " " + " ".join(title.lower().split()) + " "
    return {s[i : i + 3].encode("utf-8") for i in range(max(1, len(s) - 2))}


def datasketch_topk(left, right, k):
    from datasketch import MinHash, MinHashLSH

    perm = 128
    lm = MinHash.bulk([shingles(t) for t in left], num_perm=perm)
    rm = MinHash.bulk([shingles(t) for t in right], num_perm=perm)
    lsh = MinHashLSH(threshold=0.3, num_perm=perm)
    with lsh.insertion_session() as session:
        for i, m in enumerate(lm):
            session.insert(i, m, check_duplication=False)
    out = []
    for q, m in enumerate(rm):
        cands = lsh.query(m)
        ranked = sorted(cands, key=lambda t: (-m.jaccard(lm[t]), t))[:k]
        out.extend((q, t) for t in ranked)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("tool")
    p.add_argument("--left", required=True)
    p.add_argument("--right", required=True)
    p.add_argument("--truth", required=True)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    lid, left = read_titles(a.left)
    rid, right = read_titles(a.right)
    truth = read_truth(a.truth)
    t0 = time.perf_counter()
    if a.tool == "sklearn_char":
        pairs = sklearn_topk(left, right, a.k, a.threads, mixed=False)
    elif a.tool == "sklearn_mixed":
        pairs = sklearn_topk(left, right, a.k, a.threads, mixed=True)
    elif a.tool == "rapidfuzz":
        pairs = rapidfuzz_topk(left, right, a.k, a.threads)
    elif a.tool == "datasketch":
        pairs = datasketch_topk(left, right, a.k)
    else:
        sys.exit(f"unknown tool {a.tool}")
    seconds = time.perf_counter() - t0
    found = {(lid[t], rid[q]) for q, t in pairs}
    recall = sum(1 for x in truth if x in found) / max(1, len(truth))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "tool": a.tool,
                "seconds": round(seconds, 3),
                "peak_rss_mb": round(rss),
                "recall_at_k": round(recall, 4),
                "candidates": len(pairs),
            }
        )
    )


if __name__ == "__main__":
    main()
