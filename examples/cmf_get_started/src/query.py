"""Ask the store what the pipeline recorded (CMF's query.py, with mltrail's own API).

    python src/query.py

Prints the stages of ``Test-env`` with their executions, then the provenance of the newest
metrics: everything they were derived from, down to the generated data.
"""

from __future__ import annotations

from mltrail.tracking import Tracker


def main() -> None:
    with Tracker(pipeline="Test-env", store="mlmd") as tracker:  # the scripts' Cmf(filepath)
        store = tracker.store
        pipeline = tracker.context
        assert pipeline.id is not None
        for stage in store.get_children_contexts_by_context(pipeline.id):
            assert stage.id is not None
            print(stage.name)
            for execution in store.get_executions_by_context(stage.id):
                state = execution.last_known_state.name if execution.last_known_state else "?"
                parameters = {
                    k: v
                    for k, v in execution.custom_properties.items()
                    if not k.startswith("mltrail.")
                }
                print(f"  {execution.type:<20} {state:<9} {parameters}")
        metrics = store.get_artifacts_by_type("Metrics", order_by="create_time", ascending=False)
        if metrics:
            newest = metrics[0]
            assert newest.id is not None
            print(f"\nprovenance of metrics {newest.custom_properties}:")
            graph = store.get_provenance(newest.id)
            for artifact in graph.artifacts:
                print(f"  {artifact.type:<12} {artifact.uri or artifact.external_id}")


if __name__ == "__main__":
    main()
