from __future__ import annotations

import mltrail as m


def test_round_trip(store: m.MetadataStore) -> None:
    at = store.put_artifact_type(
        m.ArtifactType(name="Data", properties={"rows": m.PropertyType.INT})
    )
    [aid] = store.put_artifacts([m.Artifact(type_id=at, uri="/d", properties={"rows": 3})])
    [got] = store.get_artifacts_by_id([aid])
    assert got.properties == {"rows": 3}
    assert got.type == "Data"
