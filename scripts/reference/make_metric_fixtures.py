#!/usr/bin/env python3
"""Write Tests/Fixtures/glue/metrics.json: GLUE metric cases with reference values.

Reference implementations: scikit-learn (accuracy_score, f1_score binary and macro, matthews_corrcoef) and
scipy.stats (pearsonr, spearmanr). The Swift `GLUE.Metrics` functions must agree with every
value here within 1e-9 (tests in Tests/GLUETests/MetricFixtureTests.swift).

Degenerate cases follow scikit-learn where it defines a value (MCC of a constant prediction
is 0; F1 with no positive prediction or label is 0, sklearn's zero_division default). Where
scipy returns nan for a constant input (Pearson, Spearman), the Swift code returns 0 by
definition; the fixture then stores `"pearson": 0.0` and records scipy's own answer as
`"scipy_pearson": null` so the choice stays visible.

Run with a Python that has scikit-learn and scipy (the reference venv, scripts/reference/README.md):
    python scripts/reference/make_metric_fixtures.py
"""

import json
import math
import os
import sys
import warnings

import numpy as np
import scipy
import scipy.stats
import sklearn
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

SEED = 20240601
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "Tests", "Fixtures", "glue", "metrics.json")


def classification_case(name, labels, predictions, num_classes):
    labels = [int(v) for v in labels]
    predictions = [int(v) for v in predictions]
    case = {
        "name": name,
        "num_classes": num_classes,
        "labels": labels,
        "predictions": predictions,
        "accuracy": float(accuracy_score(labels, predictions)),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns on the degenerate cases on purpose
        case["matthews"] = float(matthews_corrcoef(labels, predictions))
        case["f1_macro"] = float(f1_score(labels, predictions, average="macro"))
        if num_classes == 2:
            # Default zero_division ("warn") yields 0.0, like the Swift implementation.
            case["f1"] = float(f1_score(labels, predictions, pos_label=1, average="binary"))
    for key in ("accuracy", "matthews", "f1", "f1_macro"):
        if key in case and not math.isfinite(case[key]):
            raise SystemExit(f"{name}: sklearn returned non-finite {key}")
    return case


def correlation_or_zero(fn, x, y):
    """(value used by Swift, scipy's own value or None when scipy gives nan)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConstantInputWarning
        r = float(fn(x, y).statistic)
    if math.isnan(r):
        return 0.0, None
    return r, r


def regression_case(name, labels, predictions):
    labels = [float(v) for v in labels]
    predictions = [float(v) for v in predictions]
    pearson, scipy_pearson = correlation_or_zero(scipy.stats.pearsonr, predictions, labels)
    spearman, scipy_spearman = correlation_or_zero(scipy.stats.spearmanr, predictions, labels)
    case = {
        "name": name,
        "labels": labels,
        "predictions": predictions,
        "pearson": pearson,
        "spearman": spearman,
    }
    if scipy_pearson is None:
        case["scipy_pearson"] = None
    if scipy_spearman is None:
        case["scipy_spearman"] = None
    return case


def main():
    rng = np.random.default_rng(SEED)
    cls = []
    reg = []

    # --- classification: random binary of many sizes and balances --------------------
    for n in (1, 2, 3, 5, 8, 13, 40, 100, 257, 1000, 1043):
        for p_pos in (0.5, 0.7, 0.1):
            labels = (rng.random(n) < p_pos).astype(int)
            # predictions agree with labels with probability q
            q = rng.uniform(0.3, 0.95)
            flip = rng.random(n) >= q
            preds = np.where(flip, 1 - labels, labels)
            cls.append(classification_case(f"binary n={n} p={p_pos} q={q:.2f}", labels, preds, 2))

    # --- classification: imbalanced and degenerate binary ------------------------------
    n = 200
    labels = (rng.random(n) < 0.03).astype(int)
    cls.append(classification_case("imbalanced, predict all 0", labels, np.zeros(n, int), 2))
    cls.append(classification_case("imbalanced, predict all 1", labels, np.ones(n, int), 2))
    cls.append(classification_case("imbalanced, random", labels, (rng.random(n) < 0.05).astype(int), 2))
    cls.append(classification_case("all labels 0, all predictions 0", np.zeros(10, int), np.zeros(10, int), 2))
    cls.append(classification_case("all labels 1, all predictions 1", np.ones(10, int), np.ones(10, int), 2))
    cls.append(classification_case("all labels 0, all predictions 1", np.zeros(10, int), np.ones(10, int), 2))
    cls.append(classification_case("all labels 1, all predictions 0", np.ones(10, int), np.zeros(10, int), 2))
    mixed = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    cls.append(classification_case("perfect", mixed, mixed, 2))
    cls.append(classification_case("perfectly wrong", mixed, 1 - mixed, 2))
    cls.append(classification_case("constant prediction 1, mixed labels", mixed, np.ones(8, int), 2))
    cls.append(classification_case("constant prediction 0, mixed labels", mixed, np.zeros(8, int), 2))
    cls.append(classification_case("constant labels 1, mixed predictions", np.ones(8, int), mixed, 2))
    cls.append(classification_case("constant labels 0, mixed predictions", np.zeros(8, int), mixed, 2))
    cls.append(classification_case("single sample correct", [1], [1], 2))
    cls.append(classification_case("single sample wrong", [0], [1], 2))

    # --- classification: three classes (MNLI-like) -------------------------------------
    for n in (3, 10, 97, 500, 2000):
        labels = rng.integers(0, 3, n)
        q = rng.uniform(0.2, 0.9)
        preds = np.where(rng.random(n) < q, labels, rng.integers(0, 3, n))
        cls.append(classification_case(f"3-class n={n} q={q:.2f}", labels, preds, 3))
    labels = rng.integers(0, 3, 60)
    cls.append(classification_case("3-class constant prediction", labels, np.full(60, 2), 3))
    cls.append(classification_case("3-class prediction misses a class", labels, rng.integers(0, 2, 60), 3))

    # --- regression: random of many sizes ----------------------------------------------
    for n in (2, 3, 4, 7, 20, 100, 500, 1500):
        x = rng.uniform(0, 5, n)
        y = 0.8 * x + rng.normal(0, rng.uniform(0.1, 3), n)
        reg.append(regression_case(f"continuous n={n}", y, x))
    # ties: STS-B-like scores on a 0.2 grid, predictions on a coarse grid
    for n in (10, 60, 400):
        labels = np.round(rng.uniform(0, 5, n) * 5) / 5
        preds = np.round(labels + rng.normal(0, 1, n))
        reg.append(regression_case(f"ties n={n}", labels, preds))
    labels = rng.integers(0, 3, 50).astype(float)
    reg.append(regression_case("heavy ties both sides", labels, rng.integers(0, 2, 50).astype(float)))
    x = rng.normal(0, 1, 30)
    reg.append(regression_case("perfect linear", 2 * x + 1, x))
    reg.append(regression_case("perfect negative linear", -3 * x + 0.25, x))
    reg.append(regression_case("monotone nonlinear", np.exp(x), x))
    reg.append(regression_case("large offset", 1e6 + rng.normal(0, 1, 40), 1e6 + rng.normal(0, 1, 40)))
    reg.append(regression_case("tiny scale", 1e-7 * rng.normal(0, 1, 40), 1e-7 * rng.normal(0, 1, 40)))
    # degenerate: constant vectors (scipy: nan; Swift: 0 by definition)
    reg.append(regression_case("constant predictions", rng.uniform(0, 5, 25), np.full(25, 2.5)))
    reg.append(regression_case("constant labels", np.full(25, 0.1), rng.uniform(0, 5, 25)))
    reg.append(regression_case("both constant", np.full(5, 3.0), np.full(5, 1.0)))
    reg.append(regression_case("constant 0.1 (mean not exact)", rng.uniform(0, 5, 3), np.full(3, 0.1)))
    reg.append(regression_case("two points", [0.0, 5.0], [1.5, 1.0]))

    fixture = {
        "generator": "scripts/reference/make_metric_fixtures.py",
        "seed": SEED,
        "versions": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "sklearn": sklearn.__version__,
        },
        "conventions": {
            "f1": "binary, positive class 1, sklearn f1_score default zero_division (0.0)",
            "matthews": "sklearn matthews_corrcoef (multiclass R_K); 0 when undefined",
            "pearson": "scipy.stats.pearsonr statistic; 0 where scipy returns nan (constant input)",
            "spearman": "scipy.stats.spearmanr statistic (average ranks); 0 where scipy returns nan",
        },
        "classification": cls,
        "regression": reg,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.normpath(OUT)}: {len(cls)} classification, {len(reg)} regression cases")


if __name__ == "__main__":
    main()
