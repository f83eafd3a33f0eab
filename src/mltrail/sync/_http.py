"""An mltrail server as one end of a transfer: :class:`HttpPeer` over its sync routes.

The server's routes (:mod:`mltrail.server.sync`) are shells over the same
:class:`~mltrail.sync._peers.StorePeer` a local transfer uses, so a push to a server merges
exactly like a push to a file. Batches travel as the bytes :mod:`mltrail.sync._check` makes,
checked again where they are applied.

Reading (the site, a position, changes, a subset) is retried when the connection drops or the
server is briefly unavailable. Applying a batch is never resent blindly: only when it cannot
have taken effect (the connection was never made, or the server rolled it back:
``AbortedError``), or, after a connection dropped mid-way (not timed out: the server may still
be at work), when the server's position, read again, shows it has not applied it. Otherwise
the error says the batch may have been applied, and the next transfer resumes from the
server's position.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx

from mltrail.errors import AbortedError, InvalidArgumentError, MltrailError, UnavailableError
from mltrail.remote._api import API_PREFIX
from mltrail.remote.client import DEFAULT_TIMEOUT, MAX_ATTEMPTS, TOKEN_VARIABLE, error_from
from mltrail.sync._apply import Applied
from mltrail.sync._check import decode
from mltrail.sync._peers import FROM_HEADER, TO_HEADER, Outgoing, Peer

T = TypeVar("T")

#: Transport errors raised before a request reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_APPLIED_FIELDS = tuple(f.name for f in dataclasses.fields(Applied))

#: Seconds before the first retry of a read; doubled for each further one.
FIRST_DELAY = 0.05


class HttpPeer(Peer):
    """The store of an mltrail server (``http://host:port``, or ``http://host:port/p/<project>``
    for a project), reached through its sync routes with one keep-alive client.

    ``token`` (default: the token of ``store`` when given, else ``$MLTRAIL_TOKEN``) is sent as a
    bearer token: reading needs a reader of the project, applying a writer. ``store`` is a
    :class:`~mltrail.remote.RemoteStore` of the same server, when the transfer was given one:
    the peer then uses its pooled connections, which stay open (for the store) when the peer
    is closed.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        store: Any = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.label = self.url
        self.store = store
        headers = {"accept": "application/json", "user-agent": "mltrail"}
        authorization = _authorization(token, store)
        if authorization:
            headers["authorization"] = authorization
        try:
            base = httpx.URL(self.url + API_PREFIX + "/sync/")
            if base.scheme not in ("http", "https") or not base.host:
                raise ValueError("it needs http:// or https:// and a host")
        except (httpx.InvalidURL, ValueError) as exc:
            raise InvalidArgumentError(
                f"cannot use {url!r} as an mltrail server URL: {exc}; expected "
                "http://host:port or http://host:port/p/<project>"
            ) from None
        # A remote store's end shares its connection pool (and leaves it open on close).
        self._borrowed = transport is None and store is not None and hasattr(store, "_transport")
        if self._borrowed:
            transport = store._transport
        elif transport is None:
            transport = httpx.HTTPTransport(verify=base.scheme == "https")
        self._http = httpx.Client(
            base_url=base, headers=headers, timeout=timeout, transport=transport
        )
        self._site: str | None = None

    def __repr__(self) -> str:
        return f"<HttpPeer {self.url}>"

    # ------------------------------------------------------------------------------- reading

    def site(self) -> str:
        if self._site is None:
            answer = self._read("site", lambda: self._http.get("site"))
            self._site = str(_field(answer, "site", self.url))
        return self._site

    def applied(self, site: str) -> int:
        if not site:
            return 0  # an end of no site (an empty bundle) has nothing applied anywhere
        answer = self._read("applied", lambda: self._http.get("applied", params={"site": site}))
        return int(_field(answer, "position", self.url))

    def changes(self, since: int, exclude: str | None, limit: int) -> Outgoing:
        body = {"since": since, "exclude": exclude, "limit": limit}
        response = self._read("changes", lambda: self._http.post("changes", json=body))
        try:  # the range comes in headers, so that the batch need not be decoded here
            start, end = int(response.headers[FROM_HEADER]), int(response.headers[TO_HEADER])
        except (KeyError, ValueError):
            batch = decode(response.content)
            start, end = batch["from"], batch["to"]
        return Outgoing(response.content, start, end)

    def subset(self, selection: dict[str, Any], limit: int) -> Iterator[bytes]:
        body = {"selection": selection, "limit": limit}
        response = self._read("subset", lambda: self._http.post("subset", json=body))
        return iter([line for line in response.content.splitlines() if line.strip()])

    # ------------------------------------------------------------------------------- writing

    def apply(self, data: bytes, origin: str | None = None) -> Applied:
        headers = {"content-type": "application/json"}
        delay = FIRST_DELAY
        for attempt in range(1, MAX_ATTEMPTS + 1):
            last = attempt == MAX_ATTEMPTS
            try:
                response = self._http.post("apply", content=data, headers=headers)
            except _NOT_SENT as exc:  # never reached the server: safe to send again
                if last:
                    raise self._unreachable(exc) from None
            except httpx.TransportError as exc:
                # The server may have applied it: send it again only if its position shows
                # that it has not (a resend of an applied batch would be refused as a replay).
                # After a timeout the server may still be applying it: never send it again.
                timeout = isinstance(exc, httpx.TimeoutException)
                if last or timeout or not self._unapplied(data):
                    raise UnavailableError(
                        f"the connection to {self.url} failed while it applied a batch "
                        f"({exc or type(exc).__name__}): the batch may have been applied; "
                        "transfer again: a transfer resumes from the position the server has "
                        "applied, so nothing is lost or applied twice"
                    ) from None
            else:
                try:
                    answer = self._answer(response, "apply").json()
                except AbortedError:  # the server rolled the batch back: safe to send again
                    if last:
                        raise
                else:
                    counts = _field(answer, "applied", self.url)
                    return Applied(**{k: int(counts.get(k, 0)) for k in _APPLIED_FIELDS})
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _unapplied(self, data: bytes) -> bool:
        """Whether the server's position shows that it has applied nothing of this feed batch
        (a subset batch moves no position, so nothing shows it)."""
        try:
            batch = json.loads(data)["batch"]
            site, start = batch["site"], batch["from"]
        except (ValueError, TypeError, KeyError):
            return False
        if start is None:
            return False
        try:
            return self.applied(site) == start
        except MltrailError:
            return False

    def close(self) -> None:
        if not self._borrowed:  # a borrowed pool is closed with its store
            self._http.close()

    # ------------------------------------------------------------------------------- helpers

    def _read(self, route: str, send: Callable[[], httpx.Response]) -> Any:
        """The answer of a read, sent again (with backoff) after a dropped connection or a
        briefly unavailable server. JSON routes give their decoded answer, the others the
        response."""
        delay = FIRST_DELAY
        for attempt in range(1, MAX_ATTEMPTS + 1):
            last = attempt == MAX_ATTEMPTS
            try:
                response = self._answer(send(), route)
            except httpx.TransportError as exc:
                if last:
                    raise self._unreachable(exc) from None
            except (AbortedError, UnavailableError):
                if last:
                    raise
            else:
                if route in ("changes", "subset"):
                    return response
                try:
                    return response.json()
                except ValueError:
                    raise self._not_mltrail(response) from None
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(self, response: httpx.Response, route: str) -> httpx.Response:
        if response.status_code == 200:
            return response
        try:
            payload = response.json()
        except ValueError:
            payload = None
        raise error_from(response.status_code, payload, f"{self.url} (sync/{route})")

    def _unreachable(self, exc: Exception) -> UnavailableError:
        return UnavailableError(
            f"cannot reach the mltrail server at {self.url}: {exc or type(exc).__name__}; check "
            "that it is running and that the URL is right"
        )

    def _not_mltrail(self, response: httpx.Response) -> InvalidArgumentError:
        return InvalidArgumentError(
            f"{self.url} answered {response.request.url.path} with something that is not "
            "mltrail's JSON; is the URL an mltrail server?"
        )


def _authorization(token: str | None, store: Any) -> str | None:
    if token is not None:
        return f"Bearer {token}" if token else None
    if store is not None:
        given = getattr(store, "_headers", {}).get("authorization")
        if given:
            return str(given)
    found = os.environ.get(TOKEN_VARIABLE) or None
    return f"Bearer {found}" if found else None


def _field(answer: Any, name: str, url: str) -> Any:
    if type(answer) is not dict or name not in answer:
        raise InvalidArgumentError(
            f"{url} answered without {name!r} ({json.dumps(answer)[:80]}); is the URL an "
            "mltrail server of this version?"
        )
    return answer[name]
