"""The error tree: one root, the documented parents and HTTP statuses, caret rendering."""

from __future__ import annotations

import inspect
import re

import pytest

from mltrail import errors

# class -> (documented parent, HTTP status)
TREE: dict[str, tuple[str, int]] = {
    "InvalidArgumentError": ("MltrailError", 400),
    "QuerySyntaxError": ("InvalidArgumentError", 400),
    "RequestTooLargeError": ("InvalidArgumentError", 413),
    "NotFoundError": ("MltrailError", 404),
    "AlreadyExistsError": ("MltrailError", 409),
    "FailedPreconditionError": ("MltrailError", 412),
    "SchemaVersionError": ("FailedPreconditionError", 412),
    "SyncConflictError": ("AlreadyExistsError", 409),
    "AbortedError": ("MltrailError", 409),
    "DeadlineExceededError": ("MltrailError", 504),
    "UnavailableError": ("MltrailError", 503),
    "UnauthenticatedError": ("MltrailError", 401),
    "PermissionDeniedError": ("MltrailError", 403),
}


def error_classes() -> dict[str, type[BaseException]]:
    return {
        name: value
        for name, value in vars(errors).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == errors.__name__
    }


def test_every_error_class_is_listed_exported_and_derives_from_the_root() -> None:
    classes = error_classes()
    assert set(classes) == {"MltrailError", *TREE}
    assert sorted(errors.__all__) == errors.__all__
    assert set(errors.__all__) == set(classes)
    for name, cls in classes.items():
        assert issubclass(cls, errors.MltrailError), name
    assert errors.MltrailError.__bases__ == (Exception,)


@pytest.mark.parametrize(("name", "parent", "status"), [(n, *v) for n, v in TREE.items()])
def test_each_error_has_its_documented_parent_and_status(
    name: str, parent: str, status: int
) -> None:
    cls = getattr(errors, name)
    assert cls.__bases__ == (getattr(errors, parent),)
    assert cls.http_status == status
    assert cls.__doc__, f"{name} has no docstring"


def test_the_tree_drawn_in_the_module_docstring_matches_the_classes() -> None:
    assert errors.__doc__ is not None
    drawn: dict[str, tuple[str, int]] = {}
    stack: list[tuple[int, str]] = []
    for line in errors.__doc__.splitlines():
        found = re.match(r"^([\s│├└─]*)(\w+Error)\b.*?(?:\((?:HTTP )?(\d{3})\))?\s*$", line)
        if not found:
            continue
        depth, name, status = len(found.group(1)), found.group(2), found.group(3)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            assert status is not None, f"no HTTP status drawn for {name}"
            drawn[name] = (stack[-1][1], int(status))
        stack.append((depth, name))
    assert drawn == TREE


def test_errors_carry_their_message() -> None:
    error = errors.NotFoundError("no artifact type 'X'; create it with put_artifact_type")
    assert error.message == str(error) == "no artifact type 'X'; create it with put_artifact_type"
    with pytest.raises(errors.MltrailError):
        raise error


def test_schema_version_error_carries_both_versions() -> None:
    error = errors.SchemaVersionError("too new", database_version=3, library_version=1)
    assert (error.database_version, error.library_version) == (3, 1)
    assert isinstance(error, errors.FailedPreconditionError)


def test_deadline_exceeded_error_carries_the_timeout() -> None:
    error = errors.DeadlineExceededError("too slow", timeout=0.5)
    assert error.timeout == 0.5
    assert error.http_status == 504
    assert not isinstance(error, errors.AbortedError)  # not retryable as it is
    assert errors.DeadlineExceededError("too slow").timeout is None


def test_query_syntax_error_renders_a_caret_under_the_column() -> None:
    query = "name = 'a' AND\nproperties.acc >> 0.9"
    error = errors.QuerySyntaxError(
        "unexpected '>'", query=query, line=2, column=17, hint="use > or >="
    )
    assert str(error) == (
        "unexpected '>' (line 2, column 17)\n"
        "  properties.acc >> 0.9\n"
        "                  ^\n"
        "use > or >="
    )
    assert (error.query, error.line, error.column, error.hint) == (query, 2, 17, "use > or >=")
    assert error.reason == "unexpected '>'"
    assert isinstance(error, errors.InvalidArgumentError)
    assert error.http_status == 400


def test_query_syntax_error_caret_at_the_first_column_and_without_hint() -> None:
    error = errors.QuerySyntaxError("unknown field 'nme'", query="nme = 'x'", line=1, column=1)
    lines = str(error).splitlines()
    assert lines == ["unknown field 'nme' (line 1, column 1)", "  nme = 'x'", "  ^"]
    caret_column = lines[2].index("^") - 2 + 1
    assert lines[1][caret_column + 1] == "n"
