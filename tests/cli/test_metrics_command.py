"""``mltrail metrics RUN`` on the seeded project (and a server): the Metrics values, the step
series joined from their parts with a sparkline that fits the terminal, JSON, and ``--plot``."""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import mltrail as m
from _cli import failed, ok, run
from _remote import RemoteServer
from mltrail.cli.metrics import BARS, sparkline


def table(text: str) -> list[list[str]]:
    """The body rows of every rich table in ``text``, cells stripped."""
    return [
        [c.strip() for c in line.strip("│").split("│")]
        for line in text.splitlines()
        if line.startswith("│")
    ]


def log_run(root: Path, *, steps: int = 0) -> int:
    """A train run with a series committed in two parts and a gap (NaN), a series of two keys,
    and, with ``steps``, a long series. Returns its execution id."""
    tracker = m.Tracker(pipeline="toy", store=str(root / ".mltrail" / "mltrail.db"))
    try:
        with tracker.stage("train").execution(parameters={"lr": 0.5, "epochs": 5}) as run:
            for value in (0.9, 0.7):
                run.log_metric("loss", value)
            run.commit_metrics("loss")
            for value in (math.nan, 0.4, 0.3):
                run.log_metric("loss", value)
            run.log_metric("eval", {"acc": 0.5, "f1": 0.25})
            run.log_metric("eval", {"acc": 0.75})
            for step in range(steps):
                run.log_metric("lr", 1.0 - step / max(steps, 1))
            run.log_metrics({"accuracy": 0.75, "n_weights": 2})
            run.log_metrics({"auc": 0.8}, name="test")
        return int(run.execution.id or 0)
    finally:
        tracker.close()


# -------------------------------------------------------------------------------- sparklines


def test_sparkline() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == BARS
    assert sparkline([7, 0]) == "█▁"
    assert sparkline([1.0, None, 3.0]) == "▁ █"
    assert sparkline([2, 2, 2]) == "▄▄▄"
    assert sparkline([None, None]) == "  "
    assert sparkline([]) == ""
    assert sparkline([0.9091, 0.4762, 0.3226]) == "█▃▁"


def test_a_sparkline_fits_its_width() -> None:
    rising = list(range(100))
    # Ten means of ten values each: 4.5, 14.5 ... 94.5, scaled onto the eight bars.
    assert sparkline(rising, 10) == "▁▂▃▃▄▅▆▆▇█"
    assert len(sparkline(rising, 7)) == 7
    assert sparkline(rising, 200) == sparkline(rising)  # never stretched
    assert len(sparkline(rising)) == 100
    # A run of gaps averaged stays a gap; a run with a value is that value.
    assert sparkline([0, None, None, None, 5, None], 3) == "▁ █"
    assert sparkline([1, 2, 3], 0) == ""


# -------------------------------------------------------------------------------- the command


def test_the_metrics_of_a_seeded_run(project: Path) -> None:
    result = ok("metrics", "2")
    rows = table(result.stdout)
    assert rows == [
        ["metrics", "accuracy", "0.55"],
        ["metrics", "n_weights", "2"],
        ["loss", "3", "0.9091", "0.3226", "0.9091", "0.3226", "█▃▁"],
    ]
    assert result.stderr == ""
    assert ok("metrics", "e:3").stdout != result.stdout
    assert table(ok("metrics", "3").stdout)[2] == [
        "loss",
        "3",
        "0.8333",
        "0.3125",
        "0.8333",
        "0.3125",
        "█▃▁",
    ]


def test_series_committed_in_parts_are_joined(project: Path) -> None:
    execution = log_run(project)
    rows = table(ok("metrics", str(execution)).stdout)
    assert rows[:3] == [
        ["metrics", "accuracy", "0.75"],
        ["metrics", "n_weights", "2"],
        ["test", "auc", "0.8"],
    ]
    assert rows[3:] == [
        ["eval/acc", "2", "0.5", "0.5", "0.75", "0.75", "▁█"],
        ["eval/f1", "2", "0.25", "0.25", "0.25", "0.25", "▄"],
        ["loss", "5", "0.9", "0.3", "0.9", "0.3", "█▆ ▂▁"],
    ]
    document = json.loads(ok("metrics", str(execution), "--json").stdout)
    assert list(document) == ["execution", "metrics", "series"]
    assert document["execution"] == execution
    assert document["metrics"][0]["values"] == {"accuracy": 0.75, "n_weights": 2}
    loss = document["series"][2]
    assert loss["label"] == "loss" and loss["steps"] == [0, 1, 2, 3, 4]
    assert loss["values"] == [0.9, 0.7, None, 0.4, 0.3]
    assert (loss["first"], loss["min"], loss["max"], loss["last"]) == (0.9, 0.3, 0.9, 0.3)
    assert len(loss["artifact_ids"]) == 2
    f1 = document["series"][1]
    assert (f1["name"], f1["key"], f1["values"]) == ("eval", "f1", [0.25, None])


@pytest.mark.parametrize("columns", ["80", "100", "160"])
def test_a_long_series_fits_the_terminal(project: Path, columns: str) -> None:
    execution = log_run(project, steps=400)
    result = ok("metrics", str(execution), env={"COLUMNS": columns})
    for line in result.stdout.splitlines():
        assert len(line) <= int(columns), line
    [lr] = [row for row in table(result.stdout) if row[0] == "lr"]
    trend = lr[-1]
    assert 8 <= len(trend) < 400
    assert trend[0] == "█" and trend[-1] == "▁"  # falling
    assert list(trend) == sorted(trend, reverse=True)
    if columns == "80":
        narrow = ok("metrics", str(execution), env={"COLUMNS": "50"}).stdout
        assert max(len(line) for line in narrow.splitlines()) <= 50  # cells fold instead


def test_plot(project: Path, tmp_path: Path) -> None:
    execution = log_run(project)
    target = tmp_path / "series.png"
    result = ok("metrics", str(execution), "--plot", str(target))
    assert result.stderr == f"wrote {target} (3 series)\n"
    assert len(table(result.stdout)) == 6  # the tables too
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0 and height > 0
    assert height > width / 2  # three panels, one above the other
    again = tmp_path / "json.png"
    assert json.loads(ok("metrics", "2", "--json", "--plot", str(again)).stdout)["execution"] == 2
    assert again.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    message = failed("metrics", "2", "--plot", "out.png")
    assert "pip install 'mltrail[plot]'" in message
    assert not Path("out.png").exists()


def test_metrics_errors_and_runs_without_metrics(project: Path) -> None:
    result = ok("metrics", "1")
    assert result.stdout == "" and result.stderr == "execution 1 output no metrics\n"
    assert json.loads(ok("metrics", "1", "--json").stdout) == {
        "execution": 1,
        "metrics": [],
        "series": [],
    }
    assert "nothing to plot" in failed("metrics", "1", "--plot", "x.png")
    assert "no execution named '99'" in failed("metrics", "99")
    assert "this command takes executions" in failed("metrics", "a:5")
    assert "Missing argument" in failed("metrics", code=2)


# -------------------------------------------------------------------------------- a server


def test_metrics_from_a_server(empty_tree: Path, seeded_server: RemoteServer) -> None:
    server = seeded_server.url
    rows = table(ok("metrics", "2", "--store", server).stdout)
    assert rows[-1] == ["loss", "3", "0.9091", "0.3226", "0.9091", "0.3226", "█▃▁"]
    document = json.loads(ok("--store", server, "metrics", "3", "--json").stdout)
    assert document["series"][0]["values"] == [0.8333, 0.4545, 0.3125]


def test_the_command_line_starts_without_metrics_or_plotting() -> None:
    code = (
        "import json, sys; import mltrail.cli.main; "
        "heavy = ('rich', 'matplotlib', 'mltrail.query.metrics', 'mltrail.store'); "
        "print(json.dumps([m in sys.modules for m in heavy]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [False] * 4
    assert "  metrics " in run("--help").stdout
