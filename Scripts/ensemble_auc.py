#!/usr/bin/env python3
"""AUC of each model's predictions and of their mean, on the same patches, with 95 % bootstrap
intervals (1,000 resamples, seed 1): whether a small ensemble pays for its inference cost, and
whether one run beats another by more than the patches' sampling noise.

    python3 Scripts/ensemble_auc.py A/predictions.csv B/predictions.csv [...]

For each file after the first, and for the mean, it also prints the paired difference
AUC − AUC(first), with its interval from the same resamples of patches (both models see the
same draw, so the patches' shared difficulty cancels).

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


def interval(scores, labels, baseline=None, resamples=1000, seed=1):
    """95 % bootstrap interval of the AUC, or of AUC(scores) − AUC(baseline) when a baseline is given."""
    rng = random.Random(seed); n = len(scores); values = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        ys = [labels[i] for i in idx]
        if 0 < sum(ys) < n:
            value = auc([scores[i] for i in idx], ys)
            if baseline is not None:
                value -= auc([baseline[i] for i in idx], ys)
            values.append(value)
    values.sort()
    return values[int(0.025 * len(values))], values[int(0.975 * len(values)) - 1]


runs = [{r["id"]: (int(r["label"]), float(r["probability"])) for r in csv.DictReader(open(p))} for p in sys.argv[1:]]
ids = sorted(runs[0])
assert all(sorted(r) == ids for r in runs), "the files must cover the same patches"
labels = [runs[0][i][0] for i in ids]
first = [runs[0][i][1] for i in ids]
for path, run in zip(sys.argv[1:], runs):
    s = [run[i][1] for i in ids]
    lo, hi = interval(s, labels)
    line = f"{path}: AUC {auc(s, labels):.4f} ({lo:.4f}–{hi:.4f})"
    if run is not runs[0]:
        lo, hi = interval(s, labels, baseline=first)
        line += f"; minus the first: {auc(s, labels) - auc(first, labels):+.4f} ({lo:+.4f} to {hi:+.4f})"
    print(line)
mean = [sum(r[i][1] for r in runs) / len(runs) for i in ids]
lo, hi = interval(mean, labels)
line = f"mean of {len(runs)}: AUC {auc(mean, labels):.4f} ({lo:.4f}–{hi:.4f}) on {len(ids)} patches"
if len(runs) > 1:
    lo, hi = interval(mean, labels, baseline=first)
    line += f"; minus the first: {auc(mean, labels) - auc(first, labels):+.4f} ({lo:+.4f} to {hi:+.4f})"
print(line)
