#!/usr/bin/env python3
"""Reference values of the evaluation metrics from scikit-learn (an independent implementation),
for the Swift tests: AUC with and without tied scores, ROC points, and a confusion matrix.

    pip install scikit-learn && python3 Scripts/golden_metrics.py
It writes Tests/Fixtures/golden/metrics.json.
"""
import json
from pathlib import Path

import numpy as np
import sklearn
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

rng = np.random.default_rng(7)
cases = []
for name, n, rounding in [("continuous", 500, None), ("ties", 300, 1), ("few", 12, 2)]:
    labels = rng.integers(0, 2, n)
    labels[0], labels[1] = 0, 1  # both classes present
    scores = np.clip(rng.normal(0.35 + 0.3 * labels, 0.2), 0, 1)
    if rounding is not None:
        scores = np.round(scores, rounding)
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    tn, fp, fn, tp = confusion_matrix(labels, (scores >= 0.5).astype(int), labels=[0, 1]).ravel()
    cases.append({
        "name": name,
        "scores": [float(s) for s in scores],
        "labels": [int(l) for l in labels],
        "auc": float(roc_auc_score(labels, scores)),
        "rocFPR": [float(v) for v in fpr],
        "rocTPR": [float(v) for v in tpr],
        "confusionAtHalf": {"tp": int(tp), "fn": int(fn), "tn": int(tn), "fp": int(fp)},
    })

out = Path(__file__).resolve().parent.parent / "Tests/Fixtures/golden/metrics.json"
out.write_text(json.dumps({"sklearnVersion": sklearn.__version__, "cases": cases}, separators=(",", ":")) + "\n")
print("wrote", out.name, [c["auc"] for c in cases])
