#!/usr/bin/env python3
"""AUC of each model's predictions and of their mean, on the same patches, with 95 % bootstrap
intervals (1,000 resamples, seed 1): whether a small ensemble pays for its inference cost.

    python3 Scripts/ensemble_auc.py A/predictions.csv B/predictions.csv [...]

Each file is `histoscreen evaluate`'s predictions.csv (id,label,probability,predicted) for the
same patches.
"""
import csv, random, sys


def auc(scores, labels):
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(labels); neg = len(labels) - pos
    return (sum(r for r, y in zip(ranks, labels) if y) - pos * (pos + 1) / 2) / (pos * neg)


def interval(scores, labels, resamples=1000, seed=1):
    rng = random.Random(seed); n = len(scores); values = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        ys = [labels[i] for i in idx]
        if 0 < sum(ys) < n:
            values.append(auc([scores[i] for i in idx], ys))
    values.sort()
    return values[int(0.025 * len(values))], values[int(0.975 * len(values)) - 1]


runs = [{r["id"]: (int(r["label"]), float(r["probability"])) for r in csv.DictReader(open(p))} for p in sys.argv[1:]]
ids = sorted(runs[0])
assert all(sorted(r) == ids for r in runs), "the files must cover the same patches"
labels = [runs[0][i][0] for i in ids]
for path, run in zip(sys.argv[1:], runs):
    s = [run[i][1] for i in ids]
    lo, hi = interval(s, labels)
    print(f"{path}: AUC {auc(s, labels):.4f} ({lo:.4f}–{hi:.4f})")
mean = [sum(r[i][1] for r in runs) / len(runs) for i in ids]
lo, hi = interval(mean, labels)
print(f"mean of {len(runs)}: AUC {auc(mean, labels):.4f} ({lo:.4f}–{hi:.4f}) on {len(ids)} patches")
