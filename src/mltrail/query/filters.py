"""The filter query language: parse with the grammar in ``filter.lark``, compile to SQL.

Parsing, with the checks against :class:`FilterLimits` that run before it, is in ``_parse``;
what attribute paths name is in ``_attributes``; which conditions the store's types show can
never hold is in ``_hints``. This module compiles, and is where the public names live.

Semantics (see docs/filter-queries.md):

* Two-valued logic. Every condition is true or false for a node, never "unknown". A comparison
  with something missing (a property the node lacks, an unset state, no related context) is false;
  ``!=``, ``NOT LIKE``, ``NOT IN`` and ``NOT BETWEEN`` are the exact negations of their positive
  forms, so ``x != v`` and ``NOT x = v`` always select the same nodes (missing values included).
* A neighbour alias (``contexts_a``, ``events_0``...) stands for one related row: conditions on
  the same alias must hold for the same related row; different aliases are independent. A
  condition on an alias holds when at least one related row satisfies it.
* ``properties.p > 0.9`` (no value slot) compares whichever slot holds a value of the literal's
  kind: numbers match int and double values, strings string values, TRUE/FALSE bool values.
  ``properties.p IS NULL`` means the node has no property ``p``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import lark
from sqlalchemy import and_, case, false, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from mltrail._lru import SizedLRU
from mltrail.backends.sql.schema import TypeKind
from mltrail.query._attributes import (
    KINDS,
    NEIGHBOUR,
    NodeKind,
    Operand,
    Scope,
    ValueKind,
    alias,
    convert,
    part_text,
    query_error,
    resolve,
)
from mltrail.query._hints import Formula, formula
from mltrail.query._limits import DEFAULT_LIMITS, FilterLimits
from mltrail.query._parse import Literal, check_text, parse, read_literal

__all__ = [
    "DEFAULT_LIMITS",
    "KINDS",
    "CompiledFilter",
    "FilterLimits",
    "FilterShape",
    "NodeKind",
    "Operand",
    "ValueKind",
    "analyze",
    "compile_filter",
    "parse",
]

# ---------------------------------------------------------------------------------------- compiler

_NEGATED_COMPARATOR = {"!=": "=", "<>": "="}


def _compile(scope: Scope, tree: Any, negated: bool, top: bool = False) -> ColumnElement[bool]:
    """SQL for a subtree. ``top``: the subtree is the query or one of its top-level AND terms,
    so a node can only match if it holds."""
    rule = tree.data
    if rule == "start":
        return _compile(scope, tree.children[0], negated, top=True)
    if rule == "negate":
        return _compile(scope, tree.children[1], not negated)
    if rule in ("conjunction", "disjunction"):
        use_and = (rule == "conjunction") != negated  # De Morgan
        parts = [_compile(scope, child, negated, top=top and use_and) for child in tree.children]
        return and_(*parts) if use_and else or_(*parts)
    return _predicate(scope, tree, negated, top)


def _predicate(scope: Scope, tree: Any, negated: bool, top: bool) -> ColumnElement[bool]:
    rule = tree.data
    attribute = tree.children[0]
    if rule == "is_null":
        _count_condition(scope, tree, [])
        operand = resolve(scope, attribute, None)
        return _finish(operand.is_null(), negated != (tree.children[1] is not None), exact=True)
    if rule == "compare":
        op, value_trees = str(tree.children[1]), [tree.children[2]]
    elif rule == "like":
        op, value_trees = "like", [tree.children[2]]
        negated = negated != (tree.children[1] is not None)
    elif rule == "in_list":
        op, value_trees = "in", tree.children[2:]
        negated = negated != (tree.children[1] is not None)
    else:
        op, value_trees = "between", tree.children[2:]
        negated = negated != (tree.children[1] is not None)
    _count_condition(scope, tree, value_trees)
    literals = [read_literal(v) for v in value_trees]
    kinds = {lit.kind for lit in literals if lit.kind != "bare"}
    if len(kinds) > 1:
        raise query_error(
            scope,
            "the values of one condition must all be of one kind",
            tree.meta,
            "mix neither numbers and strings nor TRUE/FALSE in one IN list",
        )
    operand = resolve(scope, attribute, kinds.pop() if kinds else None)
    if op in _NEGATED_COMPARATOR:
        op, negated = _NEGATED_COMPARATOR[op], not negated
    if op == "like" and operand.kind not in (ValueKind.STRING, ValueKind.TYPE_NAME):
        raise query_error(
            scope, f"LIKE needs a string attribute; {operand.label} is not one", attribute.meta
        )
    if op in ("<", "<=", ">", ">=", "between") and operand.kind in (ValueKind.BOOL, ValueKind.ENUM):
        raise query_error(
            scope, f"{operand.label} cannot be ordered; compare it with = or IN", attribute.meta
        )
    converted = [convert(scope, operand, lit) for lit in literals]
    if op == "like":
        _check_pattern(scope, converted[0], literals[0])
    values = [scope.param(value) for value in converted]
    if top and not negated:
        # Every match has the related rows this condition reads: inner joins suffice.
        scope.required.update(operand.joins)
    return _finish(operand.positive(op, values), negated, exact=False)


def _check_pattern(scope: Scope, pattern: str, literal: Literal) -> None:
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    if trailing % 2:  # backends disagree on a pattern ending in its escape character
        raise query_error(
            scope,
            "the LIKE pattern ends with the escape character \\",
            literal,
            "escape a backslash as \\\\ in the pattern (written '\\\\\\\\' in the query)",
        )


def _count_condition(scope: Scope, tree: Any, value_trees: list[Any]) -> None:
    limits = scope.limits
    scope.conditions += 1
    if scope.conditions > limits.max_conditions:
        raise query_error(
            scope,
            f"the query has more than {limits.max_conditions} conditions (the condition limit)",
            tree.meta,
            "list alternatives with IN (a, b, c) rather than OR, or split the question into "
            "several listings",
        )
    if len(value_trees) > limits.max_in_values:
        raise query_error(
            scope,
            f"the IN list has {len(value_trees):,} values, more than the limit of "
            f"{limits.max_in_values:,}",
            value_trees[limits.max_in_values].meta,
            "select the nodes in batches of values",
        )
    if len(scope.params) + len(value_trees) > limits.max_values:
        crossing = value_trees[limits.max_values - len(scope.params)]
        raise query_error(
            scope,
            f"the query has more than {limits.max_values:,} values (the value limit)",
            crossing.meta,
            "select the nodes in batches of values",
        )


def _finish(condition: ColumnElement[bool], negated: bool, *, exact: bool) -> ColumnElement[bool]:
    """The condition, or its two-valued negation (a NULL positive counts as false)."""
    if not negated:
        return condition
    if exact:  # IS NULL tests are never NULL themselves
        return ~condition
    return case((condition, false()), else_=true())


@dataclass(frozen=True)
class FilterShape:
    """What compiled SQL depends on: a filter's text with its literal values left out.

    Held as a digest, so that caches keyed by shapes stay small; ``weight`` is the length of the
    text it was made from, about the size of the SQL it compiles to.
    """

    digest: str
    weight: int = field(compare=False)


@dataclass(frozen=True)
class CompiledFilter:
    """A filter as SQL: ``condition`` selects the matching rows of the kind's table.

    Literal values are parameters named ``<prefix><n>`` by position, held in ``params``; filters
    with the same ``shape`` (the text with its literals left out) compile to the same SQL.
    ``tests`` are its conditions that the store's types may show can never hold (see
    :mod:`mltrail.query._hints`), None if it has none.
    """

    condition: ColumnElement[bool]
    shape: FilterShape
    params: dict[str, Any]
    text: str = ""
    tests: Formula = None


# Compiled filters by (kind, text, prefix, limits), weighed by the text's length. A compiled
# filter takes about 200 bytes per character: 64k characters in all are about 12 MB.
_COMPILED: SizedLRU[tuple[TypeKind, str, str, FilterLimits], CompiledFilter] = SizedLRU(
    max_total=1 << 16, max_entry=4_096, max_count=1024
)


def analyze(
    kind: TypeKind, text: str, prefix: str = "fv", limits: FilterLimits = DEFAULT_LIMITS
) -> CompiledFilter:
    """Check and compile a filter query (raises QuerySyntaxError)."""
    if len(text) > limits.max_length:
        check_text(text, limits)  # refused before the text is hashed for the cache
    key = (kind, text, prefix, limits)
    found = _COMPILED.get(key)
    if found is None:
        found = _analyze(kind, text, prefix, limits)
        _COMPILED.put(key, found, len(text))
    return found


def _analyze(kind: TypeKind, text: str, prefix: str, limits: FilterLimits) -> CompiledFilter:
    node_kind = KINDS[kind]
    tree = parse(text, limits)
    # Filters on the node's own columns apply to its table directly, indexes and all; filters
    # on neighbours or properties need joins, made in a subquery over an alias of the table.
    # The condition is built once, on the base the query's attributes show it needs; should
    # the joins it made say otherwise, it is built again on the other.
    joined = _needs_joins(node_kind, tree)
    scope, condition = _build(node_kind, text, prefix, limits, tree, joined)
    if scope.joined != joined:
        scope, condition = _build(node_kind, text, prefix, limits, tree, scope.joined)
    if scope.joined:
        matching = select(scope.base.c.id).select_from(scope.from_).where(condition)
        condition = node_kind.table.c.id.in_(matching)
    digest = hashlib.sha256(repr((kind, prefix, _shape(tree))).encode()).hexdigest()
    return CompiledFilter(
        condition,
        FilterShape(digest, len(text)),
        dict(scope.params),
        text,
        formula(kind, tree),
    )


def _build(
    kind: NodeKind, text: str, prefix: str, limits: FilterLimits, tree: Any, joined: bool
) -> tuple[Scope, ColumnElement[bool]]:
    scope = Scope(kind, text, alias(kind.table, "n0") if joined else kind.table, prefix, limits)
    return scope, _compile(scope, tree, False)


def _needs_joins(kind: NodeKind, tree: Any) -> bool:
    """Whether an attribute of the query names a neighbour or a property (as ``resolve`` sees
    them), which the condition reaches by joins."""
    for attribute in tree.find_data("attribute"):
        parts = [part_text(p) for p in attribute.children]
        if NEIGHBOUR.match(parts[0]) and parts[0] not in kind.columns:
            return True
        if parts[0] in ("properties", "custom_properties") and len(parts) > 1:
            return True
    return False


_VALUE_TOKENS = frozenset({"STRING", "NUMBER", "TRUE", "FALSE"})


def _shape(node: Any) -> Any:
    """The tree with literal values left out: rules, attributes, operators and enum names."""
    if isinstance(node, lark.Tree):
        return (str(node.data), *(_shape(child) for child in node.children))
    if isinstance(node, lark.Token):
        if node.type == "NUMBER":  # an int and a float bind differently on some drivers
            return (node.type, "float" if any(c in node for c in ".eE") else "int")
        return (node.type, node.type if node.type in _VALUE_TOKENS else str(node))
    return node


def compile_filter(kind: TypeKind, text: str) -> ColumnElement[bool]:
    """A WHERE condition on the kind's table selecting the nodes that match ``text``."""
    return analyze(kind, text).condition
