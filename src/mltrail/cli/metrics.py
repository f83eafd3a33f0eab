"""``mltrail metrics RUN``: the Metrics values and the step series an execution output, as
tables with a sparkline per series, as JSON, or plotted into a PNG (with matplotlib, the
``plot`` extra). The reading is :func:`mltrail.query.metrics.run_metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from mltrail.cli import _common

if TYPE_CHECKING:
    from mltrail.query.metrics import RunMetrics, StepSeries

BARS = "▁▂▃▄▅▆▇█"
#: What a table of 7 columns takes besides its cells: a border and two spaces of padding
#: around each cell, plus a separator between cells.
_TABLE_FRAME = 3 * 7 + 1


def sparkline(values: Sequence[float | None], width: int | None = None) -> str:
    """``values`` as bars from ``▁`` (the smallest) to ``█`` (the largest), a space for a gap
    (None). With ``width``, at most that many characters: consecutive values are averaged (a
    run of gaps stays a gap). Equal values are mid-height bars."""
    points = list(values)
    if width is not None and len(points) > width:
        size = max(width, 0)
        resampled: list[float | None] = []
        for index in range(size):
            chunk = points[index * len(points) // size : (index + 1) * len(points) // size]
            present = [v for v in chunk if v is not None]
            resampled.append(sum(present) / len(present) if present else None)
        points = resampled
    present = [v for v in points if v is not None]
    if not present:
        return " " * len(points)
    low, high = min(present), max(present)
    top = len(BARS) - 1
    out = []
    for value in points:
        if value is None:
            out.append(" ")
        elif high == low:
            out.append(BARS[top // 2])
        else:
            out.append(BARS[round((value - low) / (high - low) * top)])
    return "".join(out)


@click.command()
@click.argument("run")
@click.option("--json", "as_json", is_flag=True, help="Print the values and series as JSON.")
@click.option(
    "--plot",
    metavar="PNG",
    type=click.Path(dir_okay=False),
    help="Also draw every step series into this PNG file (needs matplotlib: mltrail[plot]).",
)
@_common.store_option
def metrics(run: str, as_json: bool, plot: str | None, store: str | None) -> None:
    """The metrics of execution RUN (a bare id is one): its Metrics values and, per step
    series, the number of steps, the first, smallest, largest and last value and a sparkline."""
    from mltrail.query.metrics import run_metrics

    with _common.opened_store(store) as opened:
        found = _common.resolve(opened, run, default="execution", kinds=("execution",))
        answer = run_metrics(opened, int(found.node.id or 0))
    if plot:
        _plot(answer, plot)
    if as_json:
        _common.print_json(_document(answer))
        return
    if not answer.metrics and not answer.series:
        click.echo(f"execution {answer.execution_id} output no metrics", err=True)
        return
    if answer.metrics:
        rows = [(m.name, key, value) for m in answer.metrics for key, value in m.values.items()]
        _common.print_rows(["metrics", "key", "value"], rows, "table")
    if answer.series:
        _series_table(answer.series)


def _series_table(series: Sequence[StepSeries]) -> None:
    columns = ["series", "steps", "first", "min", "max", "last"]
    cells = [
        [s.label, str(len(s.steps)), *(_common.cell(v) for v in (s.first, s.min, s.max, s.last))]
        for s in series
    ]
    widths = [max(len(columns[i]), *(len(row[i]) for row in cells)) for i in range(len(columns))]
    room = _common.console().width - sum(widths) - _TABLE_FRAME
    longest = max(len(s.values) for s in series)
    width = max(min(room, longest), min(8, longest))
    rows = [[*row, sparkline(s.values, width)] for row, s in zip(cells, series)]
    _common.print_rows([*columns, "trend"], rows, "table")


def _document(answer: RunMetrics) -> dict[str, Any]:
    return {
        "execution": answer.execution_id,
        "metrics": [
            {"name": m.name, "artifact_id": m.artifact_id, "values": m.values}
            for m in answer.metrics
        ],
        "series": [
            {
                "label": s.label,
                "name": s.name,
                "key": s.key,
                "steps": s.steps,
                "values": s.values,
                "first": s.first,
                "min": s.min,
                "max": s.max,
                "last": s.last,
                "artifact_ids": s.artifact_ids,
            }
            for s in answer.series
        ],
    }


def _plot(answer: RunMetrics, path: str) -> None:
    from mltrail.errors import FailedPreconditionError, NotFoundError

    if not answer.series:
        raise NotFoundError(
            f"execution {answer.execution_id} output no step series: nothing to plot"
        )
    try:
        import matplotlib
    except ImportError:
        raise FailedPreconditionError(
            "--plot needs matplotlib: pip install 'mltrail[plot]'"
        ) from None
    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    count = len(answer.series)
    figure, axes = pyplot.subplots(count, 1, figsize=(8, 2.2 * count + 0.6), squeeze=False)
    try:
        for axis, series in zip(axes[:, 0], answer.series):
            values = [float("nan") if v is None else v for v in series.values]
            axis.plot(series.steps, values, marker="." if len(values) < 50 else None)
            axis.set_title(series.label, fontsize=10, loc="left")
            axis.grid(True, alpha=0.3)
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
            low, high = min(series.steps), max(series.steps)  # gaps too: the logged steps
            low, high = (low - 1, high + 1) if low == high else (low, high)
            axis.set_xlim(low - (high - low) * 0.03, high + (high - low) * 0.03)
        axes[-1, 0].set_xlabel("step")
        figure.suptitle(f"execution {answer.execution_id}", fontsize=11)
        figure.tight_layout()
        figure.savefig(path, format="png", dpi=100)
    finally:
        pyplot.close(figure)
    click.echo(f"wrote {path} ({count} series)", err=True)
