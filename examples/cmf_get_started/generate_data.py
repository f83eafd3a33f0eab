"""Generate the example's input data: StackOverflow-like posts and their labels.

    python generate_data.py [WORKDIR]

Writes ``artifacts/data.xml.gz`` (one ``<row Id=.. Tags=.. Title=.. Body=../>`` per post; about a
third are tagged ``<python>``) and ``artifacts/labels.csv`` under WORKDIR (default: the current
directory). The bytes depend only on the seed: generating twice gives identical files, so a
second pipeline run finds its inputs unchanged.
"""

from __future__ import annotations

import gzip
import io
import random
import sys
from pathlib import Path
from xml.sax.saxutils import quoteattr

ROWS = 400
SEED = 42
PYTHON_WORDS = ["python", "pandas", "numpy", "list", "dict", "import", "pip", "django", "def"]
OTHER_WORDS = ["java", "class", "maven", "spring", "javascript", "node", "css", "html", "sql"]
COMMON_WORDS = ["how", "to", "error", "when", "using", "file", "value", "function", "get", "data"]


def _sentence(rng: random.Random, topical: list[str], other: list[str], length: int) -> str:
    def word() -> str:
        roll = rng.random()
        return rng.choice(topical if roll < 0.4 else other if roll < 0.55 else COMMON_WORDS)

    return " ".join(word() for _ in range(length))


def generate(workdir: Path) -> tuple[Path, Path]:
    rng = random.Random(SEED)
    artifacts = workdir / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<posts>"]
    labels = ["id,is_python"]
    for post_id in range(1, ROWS + 1):
        is_python = rng.random() < 0.35
        topical, other = (PYTHON_WORDS, OTHER_WORDS) if is_python else (OTHER_WORDS, PYTHON_WORDS)
        tags = "<python><pandas>" if is_python else rng.choice(["<java>", "<javascript>", "<sql>"])
        title = _sentence(rng, topical, other, rng.randint(2, 5))
        body = _sentence(rng, topical, other, rng.randint(3, 10))
        lines.append(
            f"  <row Id={quoteattr(str(post_id))} Tags={quoteattr(tags)} "
            f"Title={quoteattr(title)} Body={quoteattr(body)} />"
        )
        labels.append(f"{post_id},{int(is_python)}")
    lines.append("</posts>")
    data = artifacts / "data.xml.gz"
    buffer = io.BytesIO()
    # mtime=0 keeps the gzip header, and so the file's digest, the same on every run.
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as stream:
        stream.write(("\n".join(lines) + "\n").encode("utf-8"))
    data.write_bytes(buffer.getvalue())
    label_file = artifacts / "labels.csv"
    label_file.write_text("\n".join(labels) + "\n", encoding="utf-8")
    return data, label_file


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
