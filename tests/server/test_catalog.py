"""The remote client's catalog of store calls is the store's, and needs no store to load."""

from __future__ import annotations

import subprocess
import sys

from mltrail.remote import _api


def test_the_catalog_is_written_from_the_store_as_it_is() -> None:
    assert _api.CATALOG.read_text(encoding="utf-8") == _api.catalog_source(), (
        "the store's methods changed: regenerate the catalog with python -m mltrail.remote._api"
    )


def test_the_catalog_gives_the_same_calls_as_the_store() -> None:
    live, listed = _api.calls(), _api.client_calls()
    assert list(listed) == list(live)
    for name, call in live.items():
        other = listed[name]
        assert (other.hints, other.returns, other.extra, other.read) == (
            call.hints,
            call.returns,
            call.extra,
            call.read,
        ), name
        assert other.doc == call.doc, name
        given = [(p.name, p.kind, p.default) for p in call.signature.parameters.values()]
        assert [(p.name, p.kind, p.default) for p in other.signature.parameters.values()] == given


def test_a_remote_store_opens_without_sqlalchemy() -> None:
    code = (
        "import sys, mltrail\n"
        "store = mltrail.connect('http://127.0.0.1:1')\n"
        "assert hasattr(store, 'put_execution') and hasattr(store, 'get_provenance')\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'lark') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
