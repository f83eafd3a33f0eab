"""The public surface of the ``mltrail`` package is exactly its sorted ``__all__``."""

from __future__ import annotations

import types

import mltrail

#: Modules deliberately part of the top-level surface (``mltrail.errors.NotFoundError``...).
PUBLIC_MODULES = {"errors"}


def test_all_is_sorted() -> None:
    assert mltrail.__all__ == sorted(mltrail.__all__)
    assert len(mltrail.__all__) == len(set(mltrail.__all__))


def test_all_is_exactly_the_public_surface() -> None:
    # dir(), not vars(): some names are imported on first use (mltrail.__getattr__).
    public = {
        name
        for name in dir(mltrail)
        if not name.startswith("_")
        and (not isinstance(getattr(mltrail, name), types.ModuleType) or name in PUBLIC_MODULES)
    }
    assert set(mltrail.__all__) == public | {"__version__"}


def test_every_exported_name_resolves() -> None:
    namespace: dict[str, object] = {}
    exec("from mltrail import *", namespace)
    assert set(mltrail.__all__) <= set(namespace)
    assert isinstance(mltrail.__version__, str)
    assert mltrail.__version__


def test_model_classes_are_exported_from_their_module_too() -> None:
    from mltrail import model

    for name in mltrail.__all__:
        value = getattr(mltrail, name)
        if isinstance(value, type) and value.__module__ == "mltrail.model":
            assert name in model.__all__, name


def test_tracking_is_exported() -> None:
    from mltrail import tracking

    assert mltrail.Tracker is tracking.Tracker
    assert tracking.__all__ == sorted(tracking.__all__)
    assert all(hasattr(tracking, name) for name in tracking.__all__)
