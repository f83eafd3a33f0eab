"""Stage 2 (Featurize): bag-of-words counts over a vocabulary learned on the train split.

    python src/featurize.py artifacts/parsed artifacts/features

The standard library stands in for scikit-learn's CountVectorizer + TF-IDF: features are word
(and bigram) counts, written as JSON so their bytes are the same on every run.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from mltrail.compat.cmf import Cmf  # was: from cmflib.cmf import Cmf


def read_tsv(path: Path) -> list[tuple[str, int, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        post_id, label, text = line.split("\t", 2)
        rows.append((post_id, int(label), text))
    return rows


def tokens(text: str, ngrams: int) -> list[str]:
    words = text.lower().split()
    out = list(words)
    for n in range(2, ngrams + 1):
        out += [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    return out


def featurize(
    rows: list[tuple[str, int, str]], vocabulary: dict[str, int], ngrams: int
) -> dict[str, Any]:
    samples = []
    for post_id, label, text in rows:
        counts = Counter(t for t in tokens(text, ngrams) if t in vocabulary)
        norm = math.sqrt(sum(c * c for c in counts.values())) or 1.0
        features = {str(vocabulary[t]): round(c / norm, 6) for t, c in sorted(counts.items())}
        samples.append({"id": post_id, "label": label, "features": features})
    return {"vocabulary_size": len(vocabulary), "samples": samples}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("usage: python src/featurize.py data-dir-path features-dir-path\n")
        sys.exit(1)
    params = json.loads(Path("params.json").read_text())["featurize"]
    in_dir, out_dir = Path(args[0]), Path(args[1])
    train_input, test_input = in_dir / "train.tsv", in_dir / "test.tsv"
    train_output, test_output = out_dir / "train.json", out_dir / "test.json"

    metawriter = Cmf(filepath="mlmd", pipeline_name="Test-env")
    metawriter.create_context(pipeline_stage="Featurize")
    metawriter.create_execution(execution_type="Featurize-execution", custom_properties=params)
    metawriter.log_dataset(str(train_input), "input")
    metawriter.log_dataset(str(test_input), "input")

    train_rows, test_rows = read_tsv(train_input), read_tsv(test_input)
    counts = Counter(t for _, _, text in train_rows for t in set(tokens(text, params["ngrams"])))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    vocabulary = {t: i for i, (t, _) in enumerate(ranked[: params["max_features"]])}

    out_dir.mkdir(parents=True, exist_ok=True)
    for rows, output in ((train_rows, train_output), (test_rows, test_output)):
        data = featurize(rows, vocabulary, params["ngrams"])
        output.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")

    metawriter.log_dataset(str(train_output), "output")
    metawriter.log_dataset(str(test_output), "output")
    metawriter.finalize()


if __name__ == "__main__":
    main()
