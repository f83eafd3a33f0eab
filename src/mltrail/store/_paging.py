"""``iter_artifacts`` and the like: every match of a listing, read one page per call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from mltrail.errors import InvalidArgumentError
from mltrail.model import ListOptions, ResultPage
from mltrail.store._listing import merge_options


def iterate(
    fetch: Callable[[ListOptions], ResultPage[Any]],
    label: str,
    list_options: ListOptions | None,
    kwargs: dict[str, Any],
    page_size: int,
) -> Iterator[Any]:
    """Every node of the listing ``fetch`` reads (one page per call), in its order.

    The first page is read now, so that bad options fail at the call, not at the first next().
    """
    options = merge_options(list_options, kwargs)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise InvalidArgumentError(f"page_size must be a positive integer, got {page_size!r}")
    if options.limit:
        raise InvalidArgumentError(
            f"iter_{label}s yields every match and takes no limit; give page_size for "
            f"the size of each page, or use get_{label}s(limit=...) for one page"
        )
    options.limit = page_size
    return _pages(fetch, options, fetch(options))


def _pages(
    fetch: Callable[[ListOptions], ResultPage[Any]], options: ListOptions, page: ResultPage[Any]
) -> Iterator[Any]:
    while True:
        yield from page
        if page.next_page_token is None:
            return
        options.page_token = page.next_page_token
        page = fetch(options)
