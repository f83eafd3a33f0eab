"""A project for the command line's tests: a working tree whose default store holds a small
pipeline logged by the Tracker, and helpers that run ``mltrail`` in it through click's runner.

The pipeline (``seed``): ``toy`` with a ``prepare`` stage (raw.csv -> train.csv) and two runs of
``train`` on train.csv (lr 0.1 and 0.2, epochs 3), each writing a model, a ``metrics`` artifact
(accuracy, n_weights) and a ``loss`` step series of three steps. It is logged once per test
session and copied into each test's working tree. ``rerun`` adds one more train run to a
test's copy (a repeat of the first, a cache hit, or a failed run).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
from pathlib import Path

from click.testing import CliRunner, Result

import mltrail
from mltrail.cli import main

#: Terminal width the tables are drawn for (rich reads COLUMNS when stdout is not a terminal).
WIDTH = "120"


def seed(root: Path) -> None:
    """Log the toy pipeline into ``root``'s default store (``root`` is the current directory)."""
    data = root / "data"
    data.mkdir(exist_ok=True)
    rng = random.Random(0)
    rows = [(rng.random(), rng.random()) for _ in range(50)]
    (data / "raw.csv").write_text("".join(f"{x:.4f},{y:.4f}\n" for x, y in rows))
    tracker = mltrail.Tracker(pipeline="toy", store=str(root / ".mltrail" / "mltrail.db"))
    try:
        with tracker.stage("prepare").execution(parameters={"threshold": 0.5}) as run:
            run.log_dataset(data / "raw.csv")
            raw = [line.split(",") for line in (data / "raw.csv").read_text().splitlines()]
            labelled = [f"{x},{y},{int(float(x) + float(y) > 1)}\n" for x, y in raw]
            (data / "train.csv").write_text("".join(labelled))
            run.log_dataset(data / "train.csv", "output")
        for lr in (0.1, 0.2):
            _train(tracker, root, lr)
    finally:
        tracker.close()


def _train(tracker: mltrail.Tracker, root: Path, lr: float, *, fail: bool = False) -> int:
    """One run of the ``train`` stage; with ``fail``, it raises after reading its input (and
    is recorded FAILED). Returns the execution's id."""
    stage = tracker.stage("train")
    with (
        contextlib.suppress(_Interrupted),
        stage.execution(parameters={"lr": lr, "epochs": 3}) as run,
    ):
        run.log_dataset(root / "data" / "train.csv")
        if fail:
            raise _Interrupted("the run stops here")
        for epoch in range(3):
            run.log_metric("loss", round(1.0 / (epoch + 1 + lr), 4))
        model = root / f"model-{lr}.json"
        model.write_text(json.dumps({"weights": [lr, 2 * lr]}))
        run.log_model(model, framework="toy")
        run.log_metrics({"accuracy": 0.5 + lr / 2, "n_weights": 2})
    return int(run.execution.id or 0)


class _Interrupted(Exception):
    pass


def rerun(root: Path, lr: float = 0.1, *, fail: bool = False) -> int:
    """Train once more in ``root``'s seeded store (the current directory): with lr 0.1 on the
    unchanged data it is the work of the first train run again, a cache hit; ``fail`` records
    it FAILED. Returns the new execution's id."""
    tracker = mltrail.Tracker(pipeline="toy", store=str(root / ".mltrail" / "mltrail.db"))
    try:
        return _train(tracker, root, lr, fail=fail)
    finally:
        tracker.close()


def copy_project(template: Path, root: Path) -> None:
    """The seeded ``template`` tree copied to ``root`` (store, data files and models)."""
    shutil.copytree(template, root, dirs_exist_ok=True)


def run(*args: str, env: dict[str, str | None] | None = None, input: str | None = None) -> Result:
    """``mltrail ARGS`` in the current directory, tables drawn WIDTH columns wide."""
    merged: dict[str, str | None] = {"COLUMNS": WIDTH, "NO_COLOR": "1", **(env or {})}
    return CliRunner().invoke(main, list(args), env=merged, input=input)


def ok(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """``mltrail ARGS``, which must succeed."""
    result = run(*args, env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def failed(*args: str, env: dict[str, str | None] | None = None, code: int = 1) -> str:
    """The error of ``mltrail ARGS``, which must fail with ``code``: for 1, one line on stderr
    starting ``error:`` (a filter query's caret lines may follow), never a traceback."""
    result = run(*args, env=env)
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stderr
    if code == 1:
        assert result.stderr.startswith("error: "), result.stderr
        if "QuerySyntaxError" not in result.stderr:
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def clean_environment() -> dict[str, str]:
    """The variables a test's own child processes should not inherit."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MLTRAIL_")}
