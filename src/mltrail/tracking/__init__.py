"""Tracking: record pipelines, stages, runs and their artifacts as they happen.

>>> import mltrail
>>> tracker = mltrail.Tracker(pipeline="demo", store=mltrail.connect())  # doctest: +SKIP
>>> with tracker.stage("train").execution(parameters={"lr": 0.1}) as run:  # doctest: +SKIP
...     run.log_dataset("data/train.csv")
...     run.log_metrics({"accuracy": 0.93})

Artifacts are identified by the digest of their content (``external_id = "sha256:<hex>"``);
executions by a UUID. See ``docs/tracking-tutorial.md``.
"""

from mltrail.tracking.environment import Environment, capture_environment
from mltrail.tracking.git import GitInfo, capture_git
from mltrail.tracking.hashing import ALGORITHMS, ContentDigest, Hasher
from mltrail.tracking.pipeline_runs import PipelineRun, pipeline_runs, sort_runs
from mltrail.tracking.run import Run
from mltrail.tracking.stale import close_stale_runs, find_stale_runs
from mltrail.tracking.tracker import Stage, Tracker

__all__ = [
    "ALGORITHMS",
    "ContentDigest",
    "Environment",
    "GitInfo",
    "Hasher",
    "PipelineRun",
    "Run",
    "Stage",
    "Tracker",
    "capture_environment",
    "capture_git",
    "close_stale_runs",
    "find_stale_runs",
    "pipeline_runs",
    "sort_runs",
]
