"""Stage 1 (Prepare): split the posts into train and test TSV files.

    python src/parse.py artifacts/data.xml.gz artifacts/parsed

Ported from CMF's example-get-started by changing one import; everything else is CMF's API.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TextIO

from mltrail.compat.cmf import Cmf  # was: from cmflib.cmf import Cmf


def process_posts(
    input_lines: list[str], fd_out_train: TextIO, fd_out_test: TextIO, split: float, seed: int
) -> None:
    rng = random.Random(seed)
    for line in input_lines:
        line = line.strip()
        if not line.startswith("<row"):
            continue
        attr = ET.fromstring(line).attrib
        post_id = attr.get("Id", "")
        label = 1 if "<python>" in attr.get("Tags", "") else 0
        text = f"{attr.get('Title', '')} {attr.get('Body', '')}".replace("\t", " ")
        out = fd_out_test if rng.random() < split else fd_out_train
        out.write(f"{post_id}\t{label}\t{text}\n")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("usage: python src/parse.py data-file output-dir\n")
        sys.exit(1)
    params = json.loads(Path("params.json").read_text())["parse"]
    input_file, output_dir = Path(args[0]), Path(args[1])
    output_train, output_test = output_dir / "train.tsv", output_dir / "test.tsv"

    metawriter = Cmf(filepath="mlmd", pipeline_name="Test-env")
    metawriter.create_context(
        pipeline_stage="Prepare", custom_properties={"user-metadata1": "metadata_value"}
    )
    metawriter.create_execution(execution_type="Prepare", custom_properties=params)
    metawriter.log_dataset(
        str(input_file),
        "input",
        custom_properties={"user-metadata1": "metadata_value"},
        label="artifacts/labels.csv",
        label_properties={"user1": "xyz"},
    )

    output_dir.mkdir(parents=True, exist_ok=True)
    with gzip.open(input_file, "rt", encoding="utf-8") as fd_in:
        lines = fd_in.readlines()
    with (
        open(output_train, "w", encoding="utf-8") as train,
        open(output_test, "w", encoding="utf-8") as test,
    ):
        process_posts(lines, train, test, params["split"], params["seed"])

    metawriter.log_dataset(str(output_train), "output")
    metawriter.log_dataset(str(output_test), "output")
    metawriter.finalize()


if __name__ == "__main__":
    main()
