"""Execution fingerprints: "has this already run on the same inputs?" and, if not, why not."""

from __future__ import annotations

from typing import Any

import pytest

import mltrail as m
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from mltrail.query.fingerprint import (
    DIGEST_PROPERTY,
    PARTS_PROPERTY,
    CacheExplanation,
    Difference,
    Fingerprint,
)

State = m.ExecutionState

BASE: dict[str, Any] = {
    "parameters": {"lr": 0.1, "epochs": 10, "layers": [64, 32], "opt": {"name": "adam", "b": 1}},
    "code_version": "git:abc123",
    "inputs": {"train": "sha256:aaa", "test": "sha256:bbb"},
}


def fp(execution_type: str = "Trainer", **changes: Any) -> Fingerprint:
    parts = {**BASE, **changes}
    return Fingerprint.of(execution_type, **parts)


# ------------------------------------------------------------------------------- the digest


def test_digest_is_deterministic_and_order_independent() -> None:
    first = fp()
    assert first.digest == fp().digest
    assert first.digest.startswith("sha256:")
    assert len(first.digest) == len("sha256:") + 64
    int(first.digest.removeprefix("sha256:"), 16)
    reordered = Fingerprint.of(
        "Trainer",
        parameters={"opt": {"b": 1, "name": "adam"}, "layers": [64, 32], "epochs": 10, "lr": 0.1},
        code_version="git:abc123",
        inputs={"test": "sha256:bbb", "train": "sha256:aaa"},
    )
    assert reordered.digest == first.digest
    assert reordered == first
    # Absent and empty are the same.
    bare = Fingerprint.of("Trainer")
    assert (
        bare.digest == Fingerprint.of("Trainer", parameters={}, inputs={}, code_version="").digest
    )
    assert bare.digest == Fingerprint.of("Trainer", type_version="").digest


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(lambda: fp("Evaluator"), id="type"),
        pytest.param(lambda: fp(type_version="2"), id="type_version"),
        pytest.param(lambda: fp(parameters={**BASE["parameters"], "lr": 0.2}), id="lr"),
        pytest.param(lambda: fp(parameters={**BASE["parameters"], "epochs": 11}), id="epochs"),
        pytest.param(lambda: fp(parameters={**BASE["parameters"], "epochs": 10.0}), id="10.0"),
        pytest.param(lambda: fp(parameters={**BASE["parameters"], "epochs": "10"}), id="'10'"),
        pytest.param(lambda: fp(parameters={**BASE["parameters"], "layers": [32, 64]}), id="list"),
        pytest.param(
            lambda: fp(parameters={**BASE["parameters"], "opt": {"name": "sgd", "b": 1}}),
            id="nested",
        ),
        pytest.param(lambda: fp(parameters={**BASE["parameters"], "seed": 0}), id="new parameter"),
        pytest.param(lambda: fp(parameters={"lr": 0.1, "epochs": 10}), id="removed parameters"),
        pytest.param(lambda: fp(code_version="git:abc124"), id="code_version"),
        pytest.param(lambda: fp(code_version=None), id="no code_version"),
        pytest.param(lambda: fp(inputs={"train": "sha256:aaa", "test": "sha256:ccc"}), id="input"),
        pytest.param(lambda: fp(inputs={"train": "sha256:aaa"}), id="removed input"),
        pytest.param(
            lambda: fp(inputs={"train": "sha256:aaa", "test": "sha256:bbb", "extra": "x"}),
            id="new input",
        ),
        pytest.param(
            lambda: fp(inputs={"train": "sha256:bbb", "test": "sha256:aaa"}), id="swapped inputs"
        ),
    ],
)
def test_digest_changes_with_every_part(other: Any) -> None:
    assert other().digest != fp().digest


def test_bad_fingerprint_parts() -> None:
    with pytest.raises(InvalidArgumentError):
        Fingerprint.of("")
    with pytest.raises(InvalidArgumentError):
        Fingerprint.of(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        Fingerprint.of("Trainer", parameters={"f": object()})
    with pytest.raises(InvalidArgumentError):
        Fingerprint.of("Trainer", parameters={"nan": float("nan")})


@pytest.mark.parametrize(
    ("parts", "match"),
    [
        ({"parameters": [1]}, "parameters must be a dict"),
        ({"parameters": "lr=1"}, "parameters must be a dict"),
        ({"parameters": {1: "x"}}, "the name 1 must be a string"),
        ({"parameters": {"p": b"x"}}, r"b'x' at p is not JSON-like"),
        ({"parameters": {"p": {"q": {3}}}}, r"at p\.q is not JSON-like"),
        ({"parameters": {"p": 2**64}}, "does not fit in a 64-bit integer"),
        ({"parameters": {"p": "\ud800"}}, "surrogate"),
        ({"inputs": [("x", "sha")]}, "inputs must be a dict"),
        ({"inputs": {"x": None}}, r"inputs\['x'\] must be a string"),
        ({"inputs": {"x": 5}}, r"inputs\['x'\] must be a string"),
        ({"inputs": {"x": "a\x00"}}, "NUL"),
        ({"code_version": 5}, "code_version must be a string or None"),
        ({"type_version": ["v"]}, "type_version must be a string or None"),
    ],
)
def test_fingerprint_parts_of_the_wrong_type_are_refused(parts: dict[str, Any], match: str) -> None:
    """``parameters=[1]`` used to raise a raw ValueError; ``inputs={"x": None}`` was taken as
    the string "None"."""
    with pytest.raises(InvalidArgumentError, match=match):
        Fingerprint.of("Trainer", **parts)
    constructor = {"parameters": {}, "code_version": None, "inputs": {}, **parts}
    with pytest.raises(InvalidArgumentError, match=match):
        Fingerprint("Trainer", **constructor)


def test_fingerprint_values_are_taken_as_plain_json() -> None:
    nested = fp(parameters={"layers": (64, 32), "opt": {"name": "adam"}})
    assert nested.digest == fp(parameters={"layers": [64, 32], "opt": {"name": "adam"}}).digest
    assert nested.parameters == {"layers": [64, 32], "opt": {"name": "adam"}}


def test_apply_records_the_fingerprint() -> None:
    f = fp()
    execution = m.Execution(type="Trainer", custom_properties={"mine": 1})
    assert f.apply(execution) is execution
    assert execution.custom_properties[DIGEST_PROPERTY] == f.digest
    assert execution.custom_properties["mine"] == 1
    parts = execution.custom_properties[PARTS_PROPERTY]
    assert isinstance(parts, dict)
    assert Fingerprint.from_parts(parts) == f


# ----------------------------------------------------------------- fingerprints from the store


def test_store_fingerprint_resolves_input_artifacts(store: m.MetadataStore) -> None:
    data = store.put_artifact_type(m.ArtifactType(name="Data"))
    tracked, by_uri, bare, unnamed = store.put_artifacts(
        [
            m.Artifact(type_id=data, name="train", uri="/d/train", external_id="sha256:aaa"),
            m.Artifact(type_id=data, name="test", uri="/d/test"),
            m.Artifact(type_id=data, name="vocab"),
            m.Artifact(type_id=data, uri="/d/unnamed"),
        ]
    )
    [nameless] = store.put_artifacts([m.Artifact(type_id=data)])
    f = store.fingerprint(
        "Trainer",
        parameters={"lr": 0.1},
        code_version="v1",
        input_artifact_ids=[tracked, by_uri, bare, unnamed, nameless],
        inputs={"extra": "sha256:eee"},
    )
    assert f.execution_type == "Trainer"
    assert dict(f.parameters) == {"lr": 0.1}
    assert f.code_version == "v1"
    assert set(f.inputs) == {
        "train",
        "test",
        "vocab",
        "/d/unnamed",
        f"artifact {nameless}",
        "extra",
    }
    assert f.inputs["train"] == "sha256:aaa"  # the external id: the content digest
    assert f.inputs["extra"] == "sha256:eee"
    assert "/d/test" in f.inputs["test"]  # no external id: the uri
    assert "/d/unnamed" in f.inputs["/d/unnamed"]
    assert str(bare) in f.inputs["vocab"]  # neither: the id
    assert str(nameless) in f.inputs[f"artifact {nameless}"]
    assert len(set(f.inputs.values())) == 6
    explicit = Fingerprint.of(
        "Trainer", parameters={"lr": 0.1}, code_version="v1", inputs=dict(f.inputs)
    )
    assert explicit.digest == f.digest
    # The order of the ids does not matter; the content (external id) does.
    again = store.fingerprint(
        "Trainer",
        parameters={"lr": 0.1},
        code_version="v1",
        input_artifact_ids=[nameless, unnamed, bare, by_uri, tracked],
        inputs={"extra": "sha256:eee"},
    )
    assert again.digest == f.digest
    [artifact] = store.get_artifacts_by_id([tracked])
    artifact.external_id = "sha256:a2"
    store.put_artifacts([artifact])
    changed = store.fingerprint(
        "Trainer",
        parameters={"lr": 0.1},
        code_version="v1",
        input_artifact_ids=[tracked, by_uri, bare, unnamed, nameless],
        inputs={"extra": "sha256:eee"},
    )
    assert changed.digest != f.digest
    assert changed.inputs["train"] == "sha256:a2"
    with pytest.raises(NotFoundError):
        store.fingerprint("Trainer", input_artifact_ids=[tracked, 999_999])
    with pytest.raises(InvalidArgumentError):
        store.fingerprint("Trainer", input_artifact_ids=["1"])  # type: ignore[list-item]


# ---------------------------------------------------------------------------------- the cache


class Runs:
    """Records executions of type Trainer (and others) with fingerprints, as a pipeline would."""

    def __init__(self, store: m.MetadataStore) -> None:
        self.store = store
        store.put_execution_type(m.ExecutionType(name="Trainer"))
        store.put_execution_type(m.ExecutionType(name="Trainer", version="2"))
        store.put_execution_type(m.ExecutionType(name="Evaluator"))
        data = store.put_artifact_type(m.ArtifactType(name="Data"))
        self.model_type = store.put_artifact_type(m.ArtifactType(name="Model"))
        [self.data] = store.put_artifacts([m.Artifact(type_id=data, name="data", uri="/d")])
        self.count = 0

    def run(
        self,
        f: Fingerprint | None,
        state: State = State.COMPLETE,
        outputs: int = 1,
        execution_type: str = "Trainer",
        type_version: str | None = None,
    ) -> tuple[int, list[int]]:
        """Record an execution (with fingerprint ``f``) reading data and writing models."""
        self.count += 1
        execution = m.Execution(
            type=execution_type, name=f"run-{self.count}", last_known_state=state
        )
        if type_version is not None:
            execution.type_id = self.store.get_execution_type(execution_type, type_version).id
            execution.type = None
        if f is not None:
            f.apply(execution)
        pairs: list[tuple[m.Artifact | None, m.Event]] = [
            (None, m.Event(artifact_id=self.data, type=m.EventType.INPUT))
        ]
        for i in range(outputs):
            model = m.Artifact(type_id=self.model_type, uri=f"/m/{self.count}/{i}")
            pairs.append((model, m.Event(type=m.EventType.OUTPUT)))
        execution_id, artifact_ids, _ = self.store.put_execution(execution, pairs, [])
        return execution_id, artifact_ids[1:]


@pytest.fixture
def runs(store: m.MetadataStore) -> Runs:
    return Runs(store)


def test_find_cached_execution(runs: Runs) -> None:
    s = runs.store
    f = fp()
    assert s.find_cached_execution(f) is None
    runs.run(f, State.RUNNING)
    runs.run(f, State.FAILED)
    runs.run(f, State.CANCELED)
    assert s.find_cached_execution(f) is None
    first, first_outputs = runs.run(f, State.COMPLETE)
    hit = s.find_cached_execution(f)
    assert hit is not None
    assert hit.execution.id == first
    assert hit.fingerprint == f.digest
    assert [a.id for a in hit.outputs] == first_outputs  # outputs only, not the input
    assert hit.execution.custom_properties[DIGEST_PROPERTY] == f.digest
    latest, latest_outputs = runs.run(f, State.COMPLETE, outputs=2)
    runs.run(f, State.FAILED)  # later, but failed
    runs.run(fp(code_version="other"), State.COMPLETE)  # later, another fingerprint
    runs.run(None, State.COMPLETE)  # later, no fingerprint
    hit = s.find_cached_execution(f)
    assert hit is not None
    assert hit.execution.id == latest
    assert sorted(a.id for a in hit.outputs) == sorted(latest_outputs)
    assert all(a.type == "Model" for a in hit.outputs)
    # Another fingerprint, another type: no hit.
    assert s.find_cached_execution(fp(parameters={"lr": 0.2})) is None
    assert s.find_cached_execution(fp("Evaluator")) is None
    _an_execution_that_completes_becomes_a_hit(runs)
    _digest_with_quotes_and_backslashes_in_a_filter(runs)


def _an_execution_that_completes_becomes_a_hit(runs: Runs) -> None:
    s = runs.store
    f = fp(code_version="completed later")
    running, _ = runs.run(f, State.RUNNING)
    assert s.find_cached_execution(f) is None
    [execution] = s.get_executions_by_id([running])
    execution.last_known_state = State.COMPLETE
    s.put_executions([execution])
    hit = s.find_cached_execution(f)
    assert hit is not None and hit.execution.id == running


def _digest_with_quotes_and_backslashes_in_a_filter(runs: Runs) -> None:
    """The digest is looked up through a filter: odd characters in it must not break it."""

    class Odd(Fingerprint):
        pass

    f = fp()
    odd = Odd(
        execution_type=f.execution_type,
        parameters=f.parameters,
        code_version=f.code_version,
        inputs=f.inputs,
    )
    object.__setattr__(odd, "digest", "it's a \\ digest")
    execution_id, _ = runs.run(odd)
    hit = runs.store.find_cached_execution(odd)
    assert hit is not None and hit.execution.id == execution_id


# --------------------------------------------------------------------------- explaining misses


def explain(runs: Runs, f: Fingerprint) -> CacheExplanation:
    return runs.store.explain_cache_miss(f)


def test_explain_when_the_type_never_ran_with_a_fingerprint(runs: Runs) -> None:
    runs.run(None, State.COMPLETE)  # a Trainer without fingerprint
    runs.run(fp("Evaluator"), State.COMPLETE, execution_type="Evaluator")  # another type
    runs.run(fp(type_version="2"), State.COMPLETE, type_version="2")  # another version
    explanation = explain(runs, fp())
    assert explanation.nearest is None
    assert explanation.cached is None
    assert explanation.differences == []
    assert explanation.fingerprint == fp().digest
    assert "no earlier execution" in str(explanation)


def test_explain_names_exactly_what_differs(runs: Runs) -> None:
    recorded, _ = runs.run(fp(), State.COMPLETE)
    cases: dict[str, tuple[Fingerprint, list[Difference], list[str]]] = {
        "parameter changed": (
            fp(parameters={**BASE["parameters"], "lr": 0.01}),
            [Difference("parameter", "lr", 0.1, 0.01)],
            ["parameter lr changed: 0.1 → 0.01"],
        ),
        "new parameter": (
            fp(parameters={**BASE["parameters"], "seed": 7}),
            [Difference("parameter", "seed", None, 7)],
            ["parameter seed is new (7)"],
        ),
        "removed parameter": (
            fp(parameters={k: v for k, v in BASE["parameters"].items() if k != "epochs"}),
            [Difference("parameter", "epochs", 10, None)],
            ["parameter epochs was removed (was 10)"],
        ),
        "nested parameter": (
            fp(parameters={**BASE["parameters"], "opt": {"name": "sgd", "b": 1}}),
            [Difference("parameter", "opt", {"name": "adam", "b": 1}, {"name": "sgd", "b": 1})],
            ['parameter opt changed: {"b": 1, "name": "adam"} → {"b": 1, "name": "sgd"}'],
        ),
        "input content changed": (
            fp(inputs={"train": "sha256:aaa", "test": "sha256:ccc"}),
            [Difference("input", "test", "sha256:bbb", "sha256:ccc")],
            ["input test changed content: sha256:bbb → sha256:ccc"],
        ),
        "new input": (
            fp(inputs={**BASE["inputs"], "vocab": "sha256:vvv"}),
            [Difference("input", "vocab", None, "sha256:vvv")],
            ["input vocab is new (sha256:vvv)"],
        ),
        "missing input": (
            fp(inputs={"train": "sha256:aaa"}),
            [Difference("input", "test", "sha256:bbb", None)],
            ["input test was removed (was sha256:bbb)"],
        ),
        "code version changed": (
            fp(code_version="git:def456"),
            [Difference("code_version", "", "git:abc123", "git:def456")],
            ["code_version changed: git:abc123 → git:def456"],
        ),
        "several": (
            fp(
                code_version="git:def456",
                parameters={**BASE["parameters"], "lr": 0.2, "epochs": 5},
                inputs={"train": "sha256:zzz", "test": "sha256:bbb"},
            ),
            [
                Difference("code_version", "", "git:abc123", "git:def456"),
                Difference("parameter", "epochs", 10, 5),
                Difference("parameter", "lr", 0.1, 0.2),
                Difference("input", "train", "sha256:aaa", "sha256:zzz"),
            ],
            [
                "code_version changed: git:abc123 → git:def456",
                "parameter epochs changed: 10 → 5",
                "parameter lr changed: 0.1 → 0.2",
                "input train changed content: sha256:aaa → sha256:zzz",
            ],
        ),
    }
    got = {}
    for label, (f, _, _) in cases.items():
        e = explain(runs, f)
        assert e.cached is None, label
        assert e.nearest is not None and e.nearest.id == recorded, label
        assert str(e) == f"compared with execution {recorded}: " + "; ".join(
            str(d) for d in e.differences
        )
        got[label] = (f, e.differences, [str(d) for d in e.differences])
    assert got == cases


def test_explain_reports_a_hit(runs: Runs) -> None:
    f = fp()
    runs.run(fp(parameters={"lr": 1}), State.COMPLETE)
    recorded, outputs = runs.run(f, State.COMPLETE)
    e = explain(runs, f)
    assert e.cached is not None
    assert e.cached.execution.id == recorded
    assert [a.id for a in e.cached.outputs] == outputs
    assert e.differences == []
    assert e.nearest is not None and e.nearest.id == recorded
    assert str(e) == f"execution {recorded} already ran with this fingerprint"
    _explain_same_fingerprint_that_did_not_complete(runs)


def _explain_same_fingerprint_that_did_not_complete(runs: Runs) -> None:
    f = fp(code_version="never completed")
    failed, _ = runs.run(f, State.FAILED)
    e = explain(runs, f)
    assert e.cached is None
    assert e.nearest is not None and e.nearest.id == failed
    assert e.differences == []
    assert "did not complete" in str(e) and "FAILED" in str(e)


def test_explain_picks_the_nearest_execution(runs: Runs) -> None:
    target = fp(parameters={"lr": 0.01, "epochs": 10})
    one_off, _ = runs.run(fp(parameters={"lr": 0.1, "epochs": 10}), State.COMPLETE)
    runs.run(fp(parameters={"lr": 0.5, "epochs": 20}), State.COMPLETE)  # later, two off
    runs.run(fp(parameters={"lr": 0.3, "epochs": 30}, code_version="x"), State.COMPLETE)
    e = explain(runs, target)
    assert e.nearest is not None and e.nearest.id == one_off
    assert e.differences == [Difference("parameter", "lr", 0.1, 0.01)]
    # On a tie, a complete execution is nearer than a failed one.
    runs.run(fp(parameters={"lr": 0.2, "epochs": 10}), State.FAILED)
    e = explain(runs, target)
    assert e.nearest is not None and e.nearest.id == one_off
    # Executions of another type or version are never compared, even with the same parameters.
    same = {"parameters": {"lr": 0.01, "epochs": 10}}
    runs.run(fp("Evaluator", **same), State.COMPLETE, execution_type="Evaluator")
    runs.run(fp(type_version="2", **same), State.COMPLETE, type_version="2")
    e = explain(runs, target)
    assert e.nearest is not None and e.nearest.id == one_off
    assert e.cached is None


def test_explain_with_a_type_version(runs: Runs) -> None:
    target = fp(type_version="2", parameters={"lr": 0.01})
    runs.run(fp(parameters={"lr": 0.01}), State.COMPLETE)  # unversioned Trainer: not compared
    v2, _ = runs.run(fp(type_version="2", parameters={"lr": 0.1}), State.COMPLETE, type_version="2")
    e = explain(runs, target)
    assert e.nearest is not None and e.nearest.id == v2
    assert e.differences == [Difference("parameter", "lr", 0.1, 0.01)]


def test_difference_text() -> None:
    assert str(Difference("type_version", "", "1", "2")) == "type_version changed: 1 → 2"
    assert str(Difference("code_version", "", None, "v2")) == "code_version is new (v2)"
    assert str(Difference("code_version", "", "v1", None)) == "code_version was removed (was v1)"
    assert (
        str(Difference("parameter", "flag", True, False)) == "parameter flag changed: true → false"
    )
    long = "x" * 100
    text = str(Difference("input", "big", long, "y"))
    assert text.startswith("input big changed content: xxx")
    assert "..." in text and len(text) < 100


# ------------------------------------------------------------------- an execution asked afterwards


def test_only_executions_recorded_before_one_count(runs: Runs) -> None:
    """Asked about an execution already recorded, the answer is an earlier one: the execution
    itself (and those after it) never count, whatever their state."""
    s = runs.store
    f = fp()
    first, first_outputs = runs.run(f, State.COMPLETE)
    failed, _ = runs.run(f, State.FAILED)
    second, _ = runs.run(f, State.COMPLETE)
    changed = fp(parameters={**BASE["parameters"], "lr": 0.2})
    other, _ = runs.run(changed, State.COMPLETE)
    latest = s.find_cached_execution(f)
    assert latest is not None and latest.execution.id == second
    for before, expected in ((second, first), (failed, first), (other, second)):
        hit = s.find_cached_execution(f, before_execution_id=before)
        assert hit is not None and hit.execution.id == expected, before
    hit = s.find_cached_execution(f, other)  # positional too
    assert hit is not None and hit.execution.id == second
    hit = s.find_cached_execution(f, before_execution_id=second)
    assert hit is not None and [a.id for a in hit.outputs] == first_outputs
    assert s.find_cached_execution(f, before_execution_id=first) is None

    # Explaining: only earlier executions are candidates, and a match among them is a hit.
    explained = s.explain_cache_miss(f, before_execution_id=second)
    assert explained.cached is not None and explained.cached.execution.id == first
    explained = s.explain_cache_miss(f, before_execution_id=first)
    assert explained.cached is None and explained.nearest is None
    assert str(explained) == "no earlier execution of this type was recorded with a fingerprint"
    explained = s.explain_cache_miss(changed, before_execution_id=other)
    assert explained.cached is None and explained.nearest is not None
    assert explained.nearest.id == second
    assert explained.differences == [Difference("parameter", "lr", 0.1, 0.2)]
    # Without the bound, the execution itself is the answer.
    assert s.explain_cache_miss(changed).cached is not None

    for bad in (True, 1.5, "3"):
        with pytest.raises(InvalidArgumentError, match="before_execution_id"):
            s.find_cached_execution(f, before_execution_id=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="before_execution_id"):
            s.explain_cache_miss(f, before_execution_id=bad)  # type: ignore[arg-type]
    for missing in (other + 100, 0, -1, 2**70):
        with pytest.raises(NotFoundError, match=f"no execution with id {missing}"):
            s.find_cached_execution(f, before_execution_id=missing)
        with pytest.raises(NotFoundError, match=f"no execution with id {missing}"):
            s.explain_cache_miss(f, before_execution_id=missing)


def test_the_fingerprint_recorded_on_an_execution(runs: Runs) -> None:
    f = fp()
    recorded, _ = runs.run(f)
    [execution] = runs.store.get_executions_by_id([recorded])
    again = Fingerprint.recorded_on(execution)
    assert again == f and again.digest == execution.custom_properties[DIGEST_PROPERTY]
    bare, _ = runs.run(None)
    [execution] = runs.store.get_executions_by_id([bare])
    with pytest.raises(FailedPreconditionError, match=f"execution {bare} has no recorded"):
        Fingerprint.recorded_on(execution)
    execution.custom_properties[PARTS_PROPERTY] = {"type": "", "parameters": 3}
    with pytest.raises(FailedPreconditionError, match="malformed"):
        Fingerprint.recorded_on(execution)
