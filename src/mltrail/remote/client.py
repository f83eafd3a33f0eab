"""``RemoteStore``: the :class:`~mltrail.store.MetadataStore` API of an mltrail server.

Every method is one HTTP request (``POST <url>/api/v1/store/<method>``) over a pooled keep-alive
connection; arguments, answers and errors are the SQL store's (see :mod:`mltrail.remote._wire`).
Calls that only read are retried when the connection drops or the server is briefly unavailable;
a write is retried only when it cannot have taken effect (the connection was never made, or the
server answered :class:`~mltrail.errors.AbortedError`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from mltrail import errors
from mltrail.errors import (
    AbortedError,
    FailedPreconditionError,
    InvalidArgumentError,
    MltrailError,
    UnavailableError,
)
from mltrail.model import ListOptions, ResultPage
from mltrail.remote._api import API_PREFIX, Call, client_calls

#: How many times a call is sent when retrying is safe.
MAX_ATTEMPTS = 4
#: Seconds to wait for the server: to connect, and for an answer.
DEFAULT_TIMEOUT = 60.0
#: The environment variable holding the bearer token when ``token`` is not given.
TOKEN_VARIABLE = "MLTRAIL_TOKEN"
#: The page size of iter_artifacts and the like, as MetadataStore's (not imported from there:
#: that would load SQLAlchemy).
DEFAULT_PAGE_SIZE = 1000


class RemoteStore:
    """The store of an mltrail server (one project of it), with the whole store API.

    Build one with ``mltrail.connect("http://host:port")`` (the default project) or
    ``mltrail.connect("http://host:port/p/<project>")``; ``token=`` (or ``$MLTRAIL_TOKEN``) is
    sent as a bearer token. Safe to share between threads.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise InvalidArgumentError(
                f"unknown option(s) {sorted(unknown)} for an mltrail server; it takes token= "
                "and timeout="
            )
        self.url = url.rstrip("/")
        token = token if token is not None else os.environ.get(TOKEN_VARIABLE) or None
        # Every request is a JSON POST: its headers are the client's, not merged per call.
        headers = {
            "accept": "application/json",
            "content-type": "application/json",
            "user-agent": "mltrail",
        }
        if token:
            headers["authorization"] = f"Bearer {token}"
        try:
            self._base = httpx.URL(self.url + API_PREFIX)
            if self._base.scheme not in ("http", "https") or not self._base.host:
                raise ValueError("it needs http:// or https:// and a host")
        except (httpx.InvalidURL, ValueError) as exc:
            raise InvalidArgumentError(
                f"cannot use {url!r} as an mltrail server URL: {exc}; expected "
                "http://host:port or http://host:port/p/<project>"
            ) from None
        self._headers = httpx.Headers(headers)
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        # Requests go straight to the pooled keep-alive transport: the client layer of httpx
        # (redirects, cookies, auth flows, merging per-call options) cost ~0.3 ms of CPU a call
        # and gives this API nothing.
        if transport is None:
            # A plain-HTTP server needs no certificates: loading them costs ~40 ms at start.
            transport = httpx.HTTPTransport(verify=self._base.scheme == "https")
        self._transport = transport
        #: Each call's absolute URL, parsed once.
        self._urls: dict[str, httpx.URL] = {}

    def __repr__(self) -> str:
        return f"<RemoteStore {self.url}>"

    def __enter__(self) -> RemoteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections to the server."""
        self._transport.close()

    def transaction(self) -> Any:
        """Not for a server store: each of its calls is one transaction on the server (one
        request); put what must be atomic into one call (``put_execution``,
        ``put_lineage_subgraph``)."""
        raise FailedPreconditionError(
            f"{self.url} is a server store, where each call is one transaction of its own; "
            "several calls cannot be made one: put them into one put_lineage_subgraph or "
            "put_execution call"
        )

    # ------------------------------------------------------------------------------ calls

    def _call(self, call: Call, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        body = json.dumps(call.encode_arguments(args, kwargs), allow_nan=False)
        return call.decode_result(self._send(call, body.encode()))

    def _send(self, call: Call, body: bytes) -> Any:
        delay = 0.05
        for attempt in range(1, MAX_ATTEMPTS + 1):
            last = attempt == MAX_ATTEMPTS
            try:
                response = self._post(self._url(call), body)
            except httpx.ConnectError as exc:  # never reached the server: safe to resend
                if last:
                    raise self._unreachable(exc) from None
            except httpx.TransportError as exc:
                if last or not call.read:
                    raise self._unreachable(exc) from None
            else:
                try:
                    return self._answer(call, response)
                except (AbortedError, UnavailableError):
                    if last or not (call.read or response.status_code == 409):
                        raise
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _post(self, url: httpx.URL, body: bytes) -> httpx.Response:
        request = httpx.Request(
            "POST", url, headers=self._headers, content=body, extensions=self._extensions
        )
        response = self._transport.handle_request(request)
        try:
            response.read()
        finally:
            response.close()
        return response

    def _url(self, call: Call) -> httpx.URL:
        url = self._urls.get(call.name)
        if url is None:
            url = self._urls[call.name] = httpx.URL(str(self._base) + call.path)
        return url

    def _answer(self, call: Call, response: httpx.Response) -> Any:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code == 200 and type(payload) is dict and "result" in payload:
            return payload["result"]
        raise error_from(response.status_code, payload, f"{self.url} ({call.name})")

    def _unreachable(self, exc: Exception) -> UnavailableError:
        return UnavailableError(
            f"cannot reach the mltrail server at {self.url}: {exc or type(exc).__name__}; check "
            "that it is running and that the URL is right"
        )

    # ------------------------------------------------------------------------------ paging

    def _iterate(
        self,
        label: str,
        fetch: Callable[[ListOptions], ResultPage[Any]],
        list_options: ListOptions | None,
        kwargs: dict[str, Any],
        page_size: int,
    ) -> Iterator[Any]:
        from mltrail.store._paging import iterate

        return iterate(fetch, label, list_options, kwargs, page_size)

    def iter_artifacts(
        self,
        list_options: ListOptions | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        **options: Any,
    ) -> Iterator[Any]:
        """Every matching artifact, one request per page; see ``MetadataStore.iter_artifacts``."""
        fetch = self.get_artifacts  # type: ignore[attr-defined]
        return self._iterate("artifact", fetch, list_options, options, page_size)

    def iter_executions(
        self,
        list_options: ListOptions | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        **options: Any,
    ) -> Iterator[Any]:
        """Every matching execution, one request per page."""
        fetch = self.get_executions  # type: ignore[attr-defined]
        return self._iterate("execution", fetch, list_options, options, page_size)

    def iter_contexts(
        self,
        list_options: ListOptions | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        **options: Any,
    ) -> Iterator[Any]:
        """Every matching context, one request per page."""
        fetch = self.get_contexts  # type: ignore[attr-defined]
        return self._iterate("context", fetch, list_options, options, page_size)


def error_from(status: int, payload: Any, where: str) -> MltrailError:
    """The exception an error answer of the server stands for."""
    if type(payload) is dict and type(payload.get("error")) is str:
        name, message = payload["error"], str(payload.get("message", ""))
        cls = getattr(errors, name, None) if name in errors.__all__ else None
        if isinstance(cls, type) and issubclass(cls, MltrailError):
            # Built without its __init__, whose keywords differ per class: the message and the
            # data attributes are the server's, as they were raised there.
            exc = cls.__new__(cls)
            Exception.__init__(exc, message)
            exc.__dict__.update({k: v for k, v in payload.items() if k not in ("error", "message")})
            exc.message = message
            return exc
        return MltrailError(f"the server at {where} failed ({status} {name}): {message}")
    if status in (502, 503, 504):
        return UnavailableError(
            f"the server at {where} is not available (HTTP {status}); try again later"
        )
    return MltrailError(
        f"the server at {where} answered HTTP {status} without an mltrail error; is the URL an "
        "mltrail server?"
    )


def _method(call: Call) -> Callable[..., Any]:
    def method(self: RemoteStore, *args: Any, **kwargs: Any) -> Any:
        return self._call(call, args, kwargs)

    method.__name__ = method.__qualname__ = call.name
    method.__doc__ = call.doc
    method.__signature__ = call.signature  # type: ignore[attr-defined]
    return method


for _call_ in client_calls().values():
    setattr(RemoteStore, _call_.name, _method(_call_))
del _call_
