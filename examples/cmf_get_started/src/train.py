"""Stage 3 (Train): logistic regression by gradient descent on the train features.

    python src/train.py artifacts/features artifacts/model

The standard library stands in for scikit-learn's RandomForestClassifier. The training loss of
every epoch is a step metric (``log_metric`` + ``commit_metrics``), as in CMF's example.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from mltrail.compat.cmf import Cmf  # was: from cmflib.cmf import Cmf


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def predict(weights: list[float], bias: float, features: dict[str, float]) -> float:
    return sigmoid(bias + sum(weights[int(i)] * x for i, x in features.items()))


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("usage: python src/train.py features model\n")
        sys.exit(1)
    params = json.loads(Path("params.json").read_text())["train"]
    input_file = Path(args[0]) / "train.json"
    output_dir = Path(args[1])
    output_file = output_dir / "model.json"

    metawriter = Cmf(filepath="mlmd", pipeline_name="Test-env")
    metawriter.create_context(pipeline_stage="Train")
    metawriter.create_execution(execution_type="Train-execution", custom_properties=params)
    metawriter.log_dataset(str(input_file), "input")

    data = json.loads(input_file.read_text(encoding="utf-8"))
    samples = data["samples"]
    weights = [0.0] * data["vocabulary_size"]
    bias = 0.0
    rate, l2 = params["learning_rate"], params["l2"]
    for _epoch in range(params["epochs"]):
        loss = 0.0
        for sample in samples:  # plain SGD in file order: the same bytes out on every run
            p = predict(weights, bias, sample["features"])
            y = sample["label"]
            loss -= math.log(max(p, 1e-12)) if y else math.log(max(1 - p, 1e-12))
            gradient = p - y
            bias -= rate * gradient
            for i, x in sample["features"].items():
                w = weights[int(i)]
                weights[int(i)] = w - rate * (gradient * x + l2 * w)
        metawriter.log_metric("training_metrics", {"train_loss": round(loss / len(samples), 6)})
    metawriter.commit_metrics("training_metrics")

    output_dir.mkdir(parents=True, exist_ok=True)
    model = {"bias": round(bias, 9), "weights": [round(w, 9) for w in weights]}
    output_file.write_text(json.dumps(model), encoding="utf-8")
    metawriter.log_model(
        path=str(output_file),
        event="output",
        model_framework="stdlib",
        model_type="LogisticRegression",
        model_name="LogisticRegression:default",
    )
    metawriter.finalize()


if __name__ == "__main__":
    main()
