"""Artifact bytes: a content-addressed local cache and remotes reached through fsspec.

Objects are named by their digest (:class:`Oid`), laid out as DVC 3 lays out its cache and
remotes (``files/<algorithm>/<hex[:2]>/<hex[2:]>``, ``.dir`` for directory manifests), so a DVC
remote reads as a remote here. The verbs:

- :func:`push` / :func:`pull`: a store's artifact bytes to / from a remote, through the cache;
- :func:`transfer`: objects between any two :class:`ObjectStore` instances, verified, in parallel;
- :func:`checkout`: an object of the :class:`Cache` materialized in the work tree;
- :func:`gc`: cache objects no artifact refers to, removed.

The functions ``transfer``, ``checkout`` and ``gc`` share their names with their modules: the
names here are the functions (the modules are ``sys.modules["mltrail.data.transfer"]``...).
fsspec is imported only when a store is opened.
"""

from mltrail.data._oid import Oid
from mltrail.data._verbs import pull, push
from mltrail.data.cache import AddReport, Cache, default_cache_dir
from mltrail.data.checkout import CheckoutReport, checkout
from mltrail.data.gc import GcReport, gc
from mltrail.data.odb import ObjectStore, open_remote
from mltrail.data.transfer import Progress, TransferReport, transfer

__all__ = [
    "AddReport",
    "Cache",
    "CheckoutReport",
    "GcReport",
    "ObjectStore",
    "Oid",
    "Progress",
    "TransferReport",
    "checkout",
    "default_cache_dir",
    "gc",
    "open_remote",
    "pull",
    "push",
    "transfer",
]
