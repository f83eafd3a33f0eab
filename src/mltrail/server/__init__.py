"""The mltrail server: the REST API over one or more projects' stores.

``create_app(store, settings=...)`` builds it (a FastAPI application, to serve with any ASGI
server or to call in-process); ``mltrail serve`` runs it with uvicorn. Needs the ``server``
extra: ``pip install 'mltrail[server]'``.
"""

from mltrail.server.app import create_app
from mltrail.server.settings import Settings

__all__ = ["Settings", "create_app"]
