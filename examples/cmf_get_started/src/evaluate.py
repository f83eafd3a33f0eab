"""Stage 4 (Evaluate): score the model on the test features.

    python src/evaluate.py artifacts/model artifacts/features artifacts/test_results

Writes ``scores.json`` and logs average precision and ROC AUC as execution metrics, after
``finalize()`` as CMF's example does (mltrail still attaches them to the execution).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from mltrail.compat.cmf import Cmf  # was: from cmflib.cmf import Cmf


def score(model: dict[str, Any], features: dict[str, float]) -> float:
    z = model["bias"] + sum(model["weights"][int(i)] * x for i, x in features.items())
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def average_precision(labels: list[int], scores: list[float]) -> float:
    ranked = sorted(zip(scores, labels), key=lambda item: -item[0])
    positives, hits, total = sum(labels), 0, 0.0
    for rank, (_, label) in enumerate(ranked, start=1):
        if label:
            hits += 1
            total += hits / rank
    return total / positives if positives else 0.0


def roc_auc(labels: list[int], scores: list[float]) -> float:
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return 0.5
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        sys.stderr.write("usage: python src/evaluate.py model features output-dir\n")
        sys.exit(1)
    model_file = Path(args[0]) / "model.json"
    test_file = Path(args[1]) / "test.json"
    output_dir = Path(args[2])

    metawriter = Cmf(filepath="mlmd", pipeline_name="Test-env")
    metawriter.create_context(pipeline_stage="Evaluate")
    metawriter.create_execution(execution_type="Evaluate-execution")
    metawriter.log_model(
        path=str(model_file),
        event="input",
        model_framework="stdlib",
        model_type="LogisticRegression",
        model_name="LogisticRegression:default",
    )
    metawriter.log_dataset(str(test_file), "input")

    model = json.loads(model_file.read_text(encoding="utf-8"))
    samples = json.loads(test_file.read_text(encoding="utf-8"))["samples"]
    labels = [s["label"] for s in samples]
    scores = [score(model, s["features"]) for s in samples]
    metawriter.finalize()

    results = {
        "avg_prec": round(average_precision(labels, scores), 6),
        "roc_auc": round(roc_auc(labels, scores), 6),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "scores.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    metawriter.log_execution_metrics("metrics", results)


if __name__ == "__main__":
    main()
