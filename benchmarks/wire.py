"""The REST API's wire format (mltrail/remote/_wire.py): answers and requests to JSON and back.

What the client spends turning a server's answer into model objects, and the server a request
into arguments, without HTTP: benchmarks/lineage.py's answer of 1000 contexts (6 artifacts, 5
executions, 1000 contexts and attributions), a listing of 1,200 artifacts with two properties
each, and one pipeline step's ``put_execution`` request. Each value is checked to come back
equal to what was encoded before anything is timed. CPU time per call, medians of rounds.

    python benchmarks/wire.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import lineage  # benchmarks/lineage.py: its shared-source workload

import mltrail
from mltrail.remote import _api


def timed(fn: Callable[[], Any], rounds: int, calls: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            fn()
        times.append((time.process_time() - start) * 1000 / calls)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    calls = _api.calls()

    side = lineage.MltrailSide(None)
    final = lineage.record(side, 1000, 5, shared=True)[-1]
    answer = side.upstream(final, 10)
    store = side.store
    kind = store.put_artifact_type(
        mltrail.ArtifactType(
            name="Listed",
            properties={"rows": mltrail.PropertyType.INT, "acc": mltrail.PropertyType.DOUBLE},
        )
    )
    store.put_artifacts(
        [
            mltrail.Artifact(type_id=kind, uri=f"/l/{i}", properties={"rows": i, "acc": i / 3})
            for i in range(1200)
        ]
    )
    listing = store.get_artifacts_by_type("Listed")
    step_args = (
        mltrail.Execution(type_id=side.step, properties={"lr": 0.1}),
        [
            (
                mltrail.Artifact(
                    id=answer.artifacts[0].id, type_id=side.data, uri=answer.artifacts[0].uri
                ),
                mltrail.Event(type=mltrail.EventType.INPUT),
            ),
            (
                mltrail.Artifact(type_id=side.data, uri="/new", properties={"rows": 1}),
                mltrail.Event(type=mltrail.EventType.OUTPUT),
            ),
        ],
        [mltrail.Context(type_id=side.run, name="run-0")],
    )

    cases: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = []
    for name, call_name, value in (
        ("answer of 1000 contexts", "get_lineage_subgraph", answer),
        ("listing of 1,200 artifacts", "get_artifacts_by_type", listing),
    ):
        call = calls[call_name]
        text = json.dumps(call.encode_result(value))
        decoded = call.decode_result(json.loads(text))
        assert decoded == value and type(decoded) is type(value), name
        cases.append(
            (
                name,
                lambda call=call, value=value: json.dumps(call.encode_result(value)),
                lambda call=call, text=text: call.decode_result(json.loads(text)),
            )
        )
    put = calls["put_execution"]
    body = json.dumps(put.encode_arguments(step_args, {}))
    got = put.decode_arguments(json.loads(body))
    assert list(got.values())[:3] == list(step_args), got
    cases.append(
        (
            "one step's put_execution request",
            lambda: json.dumps(put.encode_arguments(step_args, {})),
            lambda: put.decode_arguments(json.loads(body)),
        )
    )
    for name, encode, decode in cases:
        many = 5 if "request" not in name else 500
        print(
            f"{name:<36} encode {timed(encode, args.rounds, many):8.3f} ms   "
            f"decode {timed(decode, args.rounds, many):8.3f} ms"
        )
    print(f"command: python {' '.join(sys.argv)} (Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
