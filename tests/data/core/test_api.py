"""The public surface of mltrail.data: a sorted ``__all__``, every name resolving."""

from __future__ import annotations

import subprocess
import sys

import mltrail.data


def test_all_is_sorted_and_resolves() -> None:
    assert mltrail.data.__all__ == sorted(mltrail.data.__all__)
    namespace: dict[str, object] = {}
    exec("from mltrail.data import *", namespace)
    assert set(mltrail.data.__all__) <= set(namespace)
    assert mltrail.data.checkout.__module__ == "mltrail.data.checkout"  # the function
    assert mltrail.data.transfer.__module__ == "mltrail.data.transfer"


def test_fsspec_is_imported_when_a_store_is_opened() -> None:
    code = (
        "import sys, mltrail.tracking, mltrail.data; print('fsspec' in sys.modules); "
        "mltrail.data.Cache('unused'); print('fsspec' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
