"""How much work one filter query may ask for, in one place (see docs/filter-queries.md#limits).

Every limit is checked before the query reaches the database, most before it is parsed, and a
query over one is refused with a :class:`~mltrail.errors.QuerySyntaxError` that names the limit
and points at where it was crossed. The values are generous for queries people write and small
enough to keep every backend fast: neighbour aliases multiply rows and make planners slow, and
each backend caps expression depth, joins and bound parameters of one statement.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FilterLimits:
    """Upper bounds on one filter query."""

    max_length: int = 10_000
    """Characters of the query text."""
    max_literal_length: int = 4_096
    """Characters of one string, number or quoted name."""
    max_depth: int = 16
    """Parentheses and NOTs around one condition."""
    max_conditions: int = 100
    """Conditions (comparisons, LIKE, IN, BETWEEN, IS NULL)."""
    max_in_values: int = 1_000
    """Values of one IN list."""
    max_values: int = 2_000
    """Values of the whole query (each one a bound parameter)."""
    max_aliases: int = 4
    """Distinct neighbour aliases (contexts_a, events_0...): each is two joins."""
    max_joins: int = 12
    """Joins: two per neighbour alias, one per distinct property."""


DEFAULT_LIMITS = FilterLimits()
