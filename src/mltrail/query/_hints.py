"""Filters that can never match, given the store's types: refused with a hint, not answered [].

A filter is compiled without looking at the store; this module decides afterwards, from the
types the store holds, whether some condition is certain to be false for every node, and whether
the whole filter is then certain to select nothing. Only certainties count:

* ``type = 'dataset'`` when no type of that kind is named 'dataset' and one differs only in case
  (a name that exists in no spelling is an honest empty answer, as in MLMD);
* ``properties.p`` (declared properties) when no type of the node's kind declares ``p``, or when
  every type declaring it declares a value type the literal (or the value slot) cannot match.
  Custom properties are never checked.

Types are never removed and their properties never dropped, so a view of the types that shows a
condition can match stays right; a view that shows it cannot may be stale, and the caller reads
the types again before refusing the query.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import lark

from mltrail.backends.sql.schema import TypeKind
from mltrail.errors import QuerySyntaxError
from mltrail.model import PropertyType
from mltrail.query._attributes import KINDS, NEIGHBOUR
from mltrail.query._parse import read_literal

# The declared properties of each type of each kind, by type name (all versions of a name).
TypeView = Mapping[TypeKind, Mapping[str, Sequence[Mapping[str, PropertyType]]]]

_NEIGHBOUR_KIND = {
    "contexts": TypeKind.CONTEXT,
    "parent_contexts": TypeKind.CONTEXT,
    "child_contexts": TypeKind.CONTEXT,
    "artifacts": TypeKind.ARTIFACT,
    "executions": TypeKind.EXECUTION,
    "events": None,
}
_KIND_WORD = {
    TypeKind.ARTIFACT: "artifact",
    TypeKind.EXECUTION: "execution",
    TypeKind.CONTEXT: "context",
}
# The property types whose values a short-form literal compares with, and the slot of each type.
_SHORT_FORM = {
    "number": (PropertyType.INT, PropertyType.DOUBLE),
    "string": (PropertyType.STRING,),
    "bool": (PropertyType.BOOLEAN,),
}
_SLOT_OF = {
    PropertyType.INT: "int_value",
    PropertyType.DOUBLE: "double_value",
    PropertyType.STRING: "string_value",
    PropertyType.BOOLEAN: "bool_value",
}
_LITERAL_OF = {
    PropertyType.INT: "an integer, e.g. = 3",
    PropertyType.DOUBLE: "a number, e.g. > 0.5",
    PropertyType.STRING: "a quoted string, e.g. = 'x'",
    PropertyType.BOOLEAN: "TRUE or FALSE",
}


@dataclass(frozen=True)
class TypeNameTest:
    """``type = 'x'`` / ``type IN (...)`` of a node kind (the node's or a neighbour's)."""

    kind: TypeKind
    names: tuple[str, ...]
    line: int
    column: int


@dataclass(frozen=True)
class PropertyTest:
    """A condition on a declared property; ``literal`` is None for IS NULL."""

    kind: TypeKind
    label: str
    name: str
    slot: str | None
    literal: str | None
    line: int
    column: int


Test = TypeNameTest | PropertyTest
# A formula over tests: a test (true where the condition holds), ("not", f), ("and"|"or", [f...]),
# or None for a condition about which nothing is known.
Formula = Any

NEVER, UNKNOWN, ALWAYS = -1, 0, 1


def formula(kind: TypeKind, tree: lark.Tree[Any]) -> Formula:
    """The tests of a compiled (so valid) filter's syntax tree, None if it has none."""
    found = _formula(kind, tree)
    return found if _has_tests(found) else None


def _has_tests(f: Formula) -> bool:
    if f is None:
        return False
    if isinstance(f, tuple):
        return any(_has_tests(child) for child in (f[1] if f[0] != "not" else [f[1]]))
    return True


def _formula(kind: TypeKind, tree: Any) -> Formula:
    rule = tree.data
    if rule == "start":
        return _formula(kind, tree.children[0])
    if rule == "negate":
        return ("not", _formula(kind, tree.children[1]))
    if rule in ("conjunction", "disjunction"):
        op = "and" if rule == "conjunction" else "or"
        return (op, [_formula(kind, child) for child in tree.children])
    test = _test(kind, tree)
    if test is None:
        return None
    if rule == "compare":
        negated = str(tree.children[1]) in ("!=", "<>")
    else:  # the NOT of NOT LIKE / NOT IN / NOT BETWEEN / IS NOT NULL
        negated = tree.children[1] is not None
    return ("not", test) if negated else test


def _test(kind: TypeKind, tree: Any) -> Test | None:
    attribute = tree.children[0]
    parts = [str(p)[1:-1] if str(p).startswith("`") else str(p) for p in attribute.children]
    owner: TypeKind | None = kind
    match = NEIGHBOUR.match(parts[0])
    if match and parts[0] not in KINDS[kind].columns:
        owner, parts = _NEIGHBOUR_KIND[match.group(1)], parts[1:]
    if owner is None:  # an event
        return None
    line, column = attribute.meta.line, attribute.meta.column
    if parts == ["type"]:
        if tree.data == "in_list" or (
            tree.data == "compare" and str(tree.children[1]) in ("=", "!=", "<>")
        ):
            names = tuple(str(read_literal(v).value) for v in tree.children[2:])
            return TypeNameTest(owner, names, line, column)
        return None
    if parts[0] != "properties" or len(parts) < 2:
        return None
    literal = None if tree.data == "is_null" else read_literal(tree.children[-1]).kind
    label = ".".join(str(p) for p in attribute.children)
    slot = parts[2] if len(parts) == 3 else None
    return PropertyTest(owner, label, parts[1], slot, literal, line, column)


def never_matches(f: Formula, view: TypeView, query: str) -> QuerySyntaxError | None:
    """The error to raise if, with these types, the filter can select no node."""
    verdict, reason = _evaluate(f, view, query)
    return reason if verdict == NEVER else None


def _evaluate(f: Formula, view: TypeView, query: str) -> tuple[int, QuerySyntaxError | None]:
    if f is None:
        return UNKNOWN, None
    if isinstance(f, tuple):
        if f[0] == "not":
            verdict, reason = _evaluate(f[1], view, query)
            return -verdict, reason
        results = [_evaluate(child, view, query) for child in f[1]]
        verdicts = [v for v, _ in results]
        reasons = [r for _, r in results if r is not None]
        first = reasons[0] if reasons else None
        if f[0] == "and":
            if NEVER in verdicts:
                return NEVER, next(r for v, r in results if v == NEVER)
            return (ALWAYS if all(v == ALWAYS for v in verdicts) else UNKNOWN), first
        if ALWAYS in verdicts:
            return ALWAYS, next(r for v, r in results if v == ALWAYS)
        return (NEVER if all(v == NEVER for v in verdicts) else UNKNOWN), first
    if isinstance(f, TypeNameTest):
        return _type_names(f, view.get(f.kind, {}), query)
    return _property(f, view.get(f.kind, {}), query)


def _type_names(
    test: TypeNameTest, types: Mapping[str, Any], query: str
) -> tuple[int, QuerySyntaxError | None]:
    if any(name in types for name in test.names):
        return UNKNOWN, None
    variants = {name: [t for t in types if t.lower() == name.lower()] for name in test.names}
    if not all(variants.values()):
        return UNKNOWN, None  # some name exists in no spelling: an honest empty answer
    name = test.names[0]
    word = _KIND_WORD[test.kind]
    error = QuerySyntaxError(
        f"no {word} type {name!r}; did you mean {variants[name][0]!r}? (type names are "
        "case-sensitive)",
        query=query,
        line=test.line,
        column=test.column,
        hint="write the type name as it was registered; the query would select nothing",
    )
    return NEVER, error


def _property(
    test: PropertyTest, types: Mapping[str, Sequence[Mapping[str, PropertyType]]], query: str
) -> tuple[int, QuerySyntaxError | None]:
    declared = {
        (type_name, props[test.name])
        for type_name, versions in types.items()
        for props in versions
        if test.name in props
    }
    word = _KIND_WORD[test.kind]
    if not declared:
        names = sorted({p for versions in types.values() for props in versions for p in props})
        close = difflib.get_close_matches(test.name, names, n=3)
        error = QuerySyntaxError(
            f"no {word} type declares a property {test.name!r}, so {test.label} holds no value "
            "for any node",
            query=query,
            line=test.line,
            column=test.column,
            hint=(f"did you mean {', '.join(repr(c) for c in close)}? " if close else "")
            + f"properties not declared by the type are custom_properties.{test.name}",
        )
        # IS NULL holds for every node; every comparison fails.
        return (ALWAYS if test.literal is None else NEVER), error
    if test.literal is None:
        return UNKNOWN, None
    if test.slot is not None:
        fits = [t for _, t in declared if _SLOT_OF.get(t) == test.slot]
    else:
        fits = [t for _, t in declared if t in _SHORT_FORM.get(test.literal, ())]
    if fits:
        return UNKNOWN, None
    kinds = sorted({t for _, t in declared}, key=lambda t: t.value)
    described = " or ".join(t.name for t in kinds)
    if test.slot is not None:
        slots = [_SLOT_OF[t] for t in kinds if t in _SLOT_OF]
        base = test.label.rsplit(".", 1)[0]
        hint = (
            f"its values are in {' or '.join(f'{base}.{s}' for s in slots)}"
            if slots
            else "struct values cannot be filtered"
        )
    else:
        literals = [_LITERAL_OF[t] for t in kinds if t in _LITERAL_OF]
        hint = (
            "compare it with " + " or ".join(literals)
            if literals
            else "struct values cannot be filtered"
        )
    error = QuerySyntaxError(
        f"{test.label} is declared {described} by every {word} type that has it, so "
        + (
            f"its {test.slot} is never set"
            if test.slot is not None
            else f"no comparison with {_LITERAL_WORD[test.literal]} holds"
        ),
        query=query,
        line=test.line,
        column=test.column,
        hint=hint,
    )
    return NEVER, error


_LITERAL_WORD = {"number": "a number", "string": "a string", "bool": "TRUE or FALSE"}
