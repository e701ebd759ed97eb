"""The HTTP exchange with one Prometheus-compatible API: instant queries, streamed series
listings, label names and values, over one aiohttp session.

Owns: building requests (GET, or POST as a form when configured or when the URL would be
too long), auth headers and TLS, time limits derived from the caller's deadline, and turning
every failure into the tree in `errors`. Decoding lives in `results` (instant queries) and
`series` (the streamed listing); what the numbers mean is the providers' business.

Deadlines are absolute `asyncio` loop times (`loop.time() + seconds`), the form a caller
that is itself answering under a deadline already has. The remaining time is sent to
Prometheus as the `timeout` parameter, so it stops evaluating a query nobody waits for, and
bounds the HTTP exchange on our side. Upstream computed this with the sign inverted (PR
#710): here it is always positive, and a deadline already past fails before any request.

Differences from upstream's `pkg/client/api.go`, all deliberate: POST is chosen
automatically for long queries (upstream fails with 414 on thousands of pod names, #668,
crane #907); errors are classified instead of one generic type; series bodies are
streamed instead of held whole (#221).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import ssl
import tempfile
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from types import TracebackType
from typing import Any, Final, Self

import aiohttp
import orjson
from multidict import CIMultiDict
from yarl import URL

from adapter.prometheus import auth, errors, results
from adapter.prometheus.errors import (
    PrometheusConfigError,
    PrometheusError,
    PrometheusQueryError,
    PrometheusResponseError,
    PrometheusServerError,
    PrometheusTimeout,
    PrometheusUnreachable,
)
from adapter.prometheus.outcomes import CallOutcomes
from adapter.prometheus.results import QueryResult
from adapter.prometheus.series import SeriesDecodeError, SeriesEnvelope, SeriesStreamDecoder
from adapter.prometheus.settings import PrometheusSettings

__all__ = ["PrometheusClient"]

QUERY_PATH: Final = "/api/v1/query"
SERIES_PATH: Final = "/api/v1/series"
LABELS_PATH: Final = "/api/v1/labels"

# Error bodies are small JSON objects; read no more than this of one.
_ERROR_BODY_LIMIT: Final = 64 << 10
_CHUNK_BYTES: Final = 1 << 18
_FORM_TYPE: Final = "application/x-www-form-urlencoded"

log = logging.getLogger(__name__)


def _format_time(seconds: float) -> str:
    """Unix seconds with millisecond precision, Prometheus' own resolution."""
    return f"{seconds:.3f}"


def _format_timeout(seconds: float) -> str:
    # Never "0" nor negative: Prometheus answers timeout=0 with an immediate timeout error
    # and rejects negative durations (upstream PR #710).
    return f"{max(seconds, 0.001):.3f}"


class PrometheusClient:
    """Async client for one Prometheus; `async with` opens and closes its HTTP session."""

    def __init__(self, settings: PrometheusSettings) -> None:
        self._settings = settings
        base = URL(settings.url)
        self._base = base.with_query(None).with_fragment(None)
        self._session: aiohttp.ClientSession | None = None
        self._token_file: auth.TokenFile | None = None
        """A kubeconfig's or the service account's token file, re-read as it rotates."""
        self._header_authorization = False
        self._server_hostname: str | None = None
        self._in_flight: dict[str, asyncio.Future[QueryResult]] = {}
        """Queries for "now" being answered, by PromQL text: callers asking the same
        query meanwhile share the answer instead of asking Prometheus again."""
        self.outcomes = CallOutcomes()
        """Every finished call's outcome, for readiness (`adapter.prometheus.outcomes`)."""

    @property
    def settings(self) -> PrometheusSettings:
        return self._settings

    async def __aenter__(self) -> Self:
        s = self._settings
        credentials = self._credentials()
        headers: CIMultiDict[str] = CIMultiDict()
        if credentials is not None:
            if credentials.token_file is not None:
                self._token_file = auth.TokenFile(credentials.token_file)
            elif credentials.token is not None:
                headers["Authorization"] = f"Bearer {credentials.token}"
            elif credentials.username is not None or credentials.password is not None:
                pair = f"{credentials.username or ''}:{credentials.password or ''}"
                # As Go's SetBasicAuth: base64 of the UTF-8 bytes.
                basic = base64.b64encode(pair.encode("utf-8")).decode("ascii")
                headers["Authorization"] = f"Basic {basic}"
        if s.token_file is not None:  # wins over the kubeconfig's credentials, as upstream
            self._token_file = None
            try:
                with open(s.token_file, encoding="utf-8") as f:
                    token = f.read().strip()
            except OSError as exc:
                raise PrometheusConfigError(
                    f"failed to read Prometheus token file {s.token_file}: {exc}"
                ) from exc
            headers["Authorization"] = f"Bearer {token}"
        # --prometheus-header lines are set last: an Authorization among them wins.
        for key in {key for key, _ in s.headers}:
            headers.popall(key, None)
        headers.extend(s.headers)
        self._header_authorization = "Authorization" in headers
        ssl_context = self._ssl_context(credentials) if self._base.scheme == "https" else None
        self._server_hostname = credentials.tls_server_name if credentials else None
        connector = aiohttp.TCPConnector(ssl=ssl_context if ssl_context is not None else True)
        self._session = aiohttp.ClientSession(
            headers=headers,
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
        )
        return self

    def _credentials(self) -> auth.Credentials | None:
        """The kubeconfig's or service account's credentials, or None.

        As upstream (`makePromClient`), `--prometheus-ca-file` selects the CA-file client
        and the auth kubeconfig is then not read at all: say so rather than drop it
        silently."""
        s = self._settings
        if not (s.auth_config or s.auth_incluster):
            return None
        if s.ca_file is not None:
            log.warning(
                "--prometheus-ca-file is set: the credentials of %s are not used "
                "(as prometheus-adapter does)",
                "--prometheus-auth-config" if s.auth_config else "--prometheus-auth-incluster",
            )
            return None
        if s.auth_config:
            return auth.from_kubeconfig(s.auth_config)
        return auth.in_cluster()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _ssl_context(self, credentials: auth.Credentials | None) -> ssl.SSLContext:
        s = self._settings
        c = credentials
        ca_file = s.ca_file if c is None else c.ca_file
        cert_file = s.client_cert_file if c is None else c.client_cert_file
        key_file = s.client_key_file if c is None else c.client_key_file
        try:
            context = ssl.create_default_context(
                cafile=ca_file,
                cadata=c.ca_data.decode("ascii") if c is not None and c.ca_data else None,
            )
            if cert_file is not None:
                context.load_cert_chain(cert_file, key_file)
            elif c is not None and (c.client_cert_data or c.client_key_data):
                _load_cert_chain_data(context, c)
        except (OSError, ssl.SSLError, UnicodeDecodeError) as exc:
            source = f" from {c.source}" if c is not None else ""
            raise PrometheusConfigError(
                f"failed to load Prometheus TLS files{source} (ca {ca_file}, "
                f"cert {cert_file}, key {key_file}): {exc}"
            ) from exc
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if s.insecure_skip_verify or (c is not None and c.insecure_skip_verify):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    # -- public calls ------------------------------------------------------------------

    async def query(
        self, promql: str, *, at: float | None = None, deadline: float | None = None
    ) -> QueryResult:
        """Evaluate `promql` at `at` (unix seconds, default now) via `/api/v1/query`.

        `deadline` is an absolute event-loop time; without one the call may take
        `settings.timeout` seconds.

        Queries for now are coalesced: while one is in flight, the same PromQL asked again
        waits for that answer (within its own deadline) rather than sending a second one.
        Many HPAs and clients asking for one metric at once then cost Prometheus one
        evaluation; the shared answer is at most one query's duration older.
        """
        if at is not None:
            return await self._query(promql, at, deadline)
        remaining = self._remaining(QUERY_PATH, deadline)
        shared = self._in_flight.get(promql)
        if shared is None:
            shared = asyncio.ensure_future(self._query(promql, None, deadline))
            self._in_flight[promql] = shared
            shared.add_done_callback(lambda done: self._forget(promql, done))
        try:
            return await asyncio.wait_for(asyncio.shield(shared), remaining)
        except PrometheusError:
            raise  # the shared call's own failure (a PrometheusTimeout among them)
        except TimeoutError as exc:
            path = self._path(QUERY_PATH)
            raise PrometheusTimeout(
                f"{path}: no complete answer within {remaining:.3f}s", path=path
            ) from exc

    def _forget(self, promql: str, done: asyncio.Future[QueryResult]) -> None:
        if self._in_flight.get(promql) is done:
            del self._in_flight[promql]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter may have gone already

    async def _query(self, promql: str, at: float | None, deadline: float | None) -> QueryResult:
        loop = asyncio.get_running_loop()
        started = loop.time()
        remaining = self._remaining(QUERY_PATH, deadline)
        log.debug("query (timeout %.3fs): %s", remaining, promql)
        params = [
            ("query", promql),
            ("time", _format_time(time.time() if at is None else at)),
            ("timeout", _format_timeout(remaining)),
        ]
        with self._observed():
            async with self._call(QUERY_PATH, params, remaining) as (response, path):
                if response.status // 100 != 2:
                    await self._raise_for_answer(response, path)
                body = await response.read()
            envelope = self._envelope(body, path, response.status)
            return results.decode_query_data(
                envelope.get("data"),
                tuple(envelope.get("warnings") or ()),
                loop.time() - started,
                path,
                response.status,
            )

    async def series(
        self,
        match: str,
        *,
        start: float,
        end: float | None = None,
        deadline: float | None = None,
    ) -> AsyncGenerator[list[dict[str, str]], None]:
        """Label sets of the series matching `match` between `start` and `end` (unix
        seconds; no `end` means now, as upstream's discovery asks), in batches as they
        are decoded from the body.

        The body is never held whole: memory stays at one chunk plus the batch the
        caller holds. Errors can surface after batches were yielded (a cut connection,
        a truncated body, `status: error` after the data): a caller building a registry
        must discard what it got. The deadline (or `settings.timeout`) covers the whole
        listing, including the time the caller spends between batches. A caller that may
        stop early wraps the call in `contextlib.aclosing` so the connection is released
        at once rather than when the generator is collected."""
        remaining = self._remaining(SERIES_PATH, deadline)
        params = [("match[]", match), ("start", _format_time(start))]
        if end is not None:
            params.append(("end", _format_time(end)))
        with self._observed():
            async with self._call(SERIES_PATH, params, remaining) as (response, path):
                if response.status // 100 != 2:
                    await self._raise_for_answer(response, path)
                decoder = SeriesStreamDecoder()
                try:
                    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
                        for batch in decoder.feed(chunk):
                            yield batch
                    tail, envelope = decoder.finish()
                except SeriesDecodeError as exc:
                    raise PrometheusResponseError(
                        f"{path}: {exc}", path=path, status=response.status
                    ) from exc
                self._check_series_envelope(envelope, path, response.status)
                for batch in tail:
                    yield batch

    async def labels(
        self,
        *,
        match: str | None = None,
        start: float | None = None,
        end: float | None = None,
        deadline: float | None = None,
    ) -> list[str]:
        """Label names (`/api/v1/labels`), optionally of the series matching `match`."""
        params = self._range_params(match, start, end)
        return await self._string_list(LABELS_PATH, params, deadline)

    async def label_values(
        self,
        label: str,
        *,
        match: str | None = None,
        start: float | None = None,
        end: float | None = None,
        deadline: float | None = None,
    ) -> list[str]:
        """Values of one label (`/api/v1/label/<name>/values`)."""
        params = self._range_params(match, start, end)
        path = f"/api/v1/label/{label}/values"
        return await self._string_list(path, params, deadline)

    # -- machinery ---------------------------------------------------------------------

    @staticmethod
    def _range_params(
        match: str | None, start: float | None, end: float | None
    ) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = []
        if match is not None:
            params.append(("match[]", match))
        if start is not None:
            params.append(("start", _format_time(start)))
        if end is not None:
            params.append(("end", _format_time(end)))
        return params

    async def _string_list(
        self, endpoint: str, params: list[tuple[str, str]], deadline: float | None
    ) -> list[str]:
        remaining = self._remaining(endpoint, deadline)
        with self._observed():
            async with self._call(endpoint, params, remaining) as (response, path):
                if response.status // 100 != 2:
                    await self._raise_for_answer(response, path)
                body = await response.read()
            data = self._envelope(body, path, response.status).get("data")
        if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
            raise PrometheusResponseError(
                f"{path}: data is not a list of strings: {data!r:.200}",
                path=path,
                status=response.status,
            )
        return [str(v) for v in data]

    @contextmanager
    def _observed(self) -> Iterator[None]:
        """Record how the call made in the block ended: an answer, or a failure. A
        caller that stops reading early (a closed series generator) records nothing."""
        try:
            yield
        except PrometheusError as exc:
            self.outcomes.failed(exc)
            raise
        self.outcomes.succeeded()

    def _remaining(self, endpoint: str, deadline: float | None) -> float:
        """Seconds left for a call; raises before any request once the deadline passed."""
        if deadline is None:
            return self._settings.timeout
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            path = self._path(endpoint)
            raise PrometheusTimeout(
                f"{path}: deadline passed {-remaining:.3f}s before the request was sent",
                path=path,
            )
        return remaining

    def _path(self, endpoint: str) -> str:
        return self._base.path.rstrip("/") + endpoint

    @asynccontextmanager
    async def _call(
        self, endpoint: str, params: list[tuple[str, str]], remaining: float
    ) -> AsyncIterator[tuple[aiohttp.ClientResponse, str]]:
        """One HTTP exchange; transport failures inside the block become our errors.

        The block reads the body, so a connection cut or a timeout while reading is
        classified here too."""
        if self._session is None:
            raise RuntimeError("PrometheusClient used outside `async with`")
        path = self._path(endpoint)
        url = self._base.with_path(path)
        # yarl's encoder: the same form (it round-trips through Go's ParseQuery), ~10x
        # faster than urlencode on a 1,000-name matcher.
        encoded = URL.build(query=params).raw_query_string
        use_post = (
            self._settings.verb == "POST"
            or len(str(url)) + 1 + len(encoded) > self._settings.max_get_url_length
        )
        timeout = aiohttp.ClientTimeout(total=remaining)
        headers: dict[str, str] = {}
        if self._token_file is not None and not self._header_authorization:
            headers["Authorization"] = f"Bearer {self._token_file.token()}"
        extra: dict[str, Any] = {}
        if self._server_hostname is not None:
            extra["server_hostname"] = self._server_hostname
        try:
            if use_post:
                headers["Content-Type"] = _FORM_TYPE
                request = self._session.post(
                    url, data=encoded.encode("ascii"), headers=headers, timeout=timeout, **extra
                )
            else:
                request = self._session.get(
                    URL(f"{url}?{encoded}", encoded=True) if encoded else url,
                    headers=headers,
                    timeout=timeout,
                    **extra,
                )
            async with request as response:
                yield response, path
        except PrometheusError:
            raise
        except TimeoutError as exc:
            raise PrometheusTimeout(
                f"{path}: no complete answer within {remaining:.3f}s", path=path
            ) from exc
        except aiohttp.ClientPayloadError as exc:
            raise PrometheusUnreachable(
                f"{path}: connection broke while reading the answer: {exc}", path=path
            ) from exc
        except (aiohttp.ClientConnectionError, OSError) as exc:
            raise PrometheusUnreachable(
                f"{path}: cannot reach Prometheus at {self._base.host}:{self._base.port}: "
                f"{exc or type(exc).__name__}",
                path=path,
            ) from exc
        except aiohttp.ClientResponseError as exc:
            raise PrometheusResponseError(
                f"{path}: malformed HTTP answer: {exc}", path=path, status=exc.status
            ) from exc
        except aiohttp.ClientError as exc:
            raise PrometheusResponseError(f"{path}: HTTP client error: {exc}", path=path) from exc

    @staticmethod
    def _envelope(body: bytes, path: str, status: int) -> dict[str, Any]:
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise PrometheusResponseError(
                f"{path}: response body is not JSON ({exc}): {errors.body_text(body)}",
                path=path,
                status=status,
            ) from exc
        if not isinstance(decoded, dict):
            raise PrometheusResponseError(
                f"{path}: response body is not a JSON object: {errors.body_text(body)}",
                path=path,
                status=status,
            )
        envelope: dict[str, Any] = decoded
        if envelope.get("status") != "success":
            _raise_api_error(
                path, status, envelope.get("errorType"), envelope.get("error"), body[:200]
            )
        return envelope

    @staticmethod
    def _check_series_envelope(envelope: SeriesEnvelope, path: str, status: int) -> None:
        if envelope.status != "success":
            _raise_api_error(path, status, envelope.error_type, envelope.error, b"")
        if envelope.data_null or not envelope.data_seen:
            raise PrometheusResponseError(
                f"{path}: response has data: null", path=path, status=status
            )

    @staticmethod
    async def _raise_for_answer(response: aiohttp.ClientResponse, path: str) -> None:
        """Turn a non-2xx answer into the matching error; always raises."""
        status = response.status
        body = await response.content.read(_ERROR_BODY_LIMIT)
        error_type: Any = None
        message: Any = None
        with suppress(orjson.JSONDecodeError):
            decoded = orjson.loads(body)
            if isinstance(decoded, dict):
                error_type, message = decoded.get("errorType"), decoded.get("error")
        if status in (400, 422) or status // 100 == 5:
            _raise_api_error(path, status, error_type, message, body[:200])
        if status in (401, 403):
            refused = "Unauthorized" if status == 401 else "Forbidden"
            raise PrometheusResponseError(
                f"{path}: Prometheus refused the request: HTTP {status} {refused} "
                "(check the credentials given by --prometheus-auth-config, "
                "--prometheus-auth-incluster, --prometheus-token-file or --prometheus-header)",
                path=path,
                status=status,
            )
        raise PrometheusResponseError(
            f"{path}: unexpected HTTP status {status}: {errors.body_text(body)}",
            path=path,
            status=status,
        )


def _load_cert_chain_data(context: ssl.SSLContext, credentials: auth.Credentials) -> None:
    """A client certificate given inline (`client-certificate-data`): `ssl` loads chains
    only from files, so they go through a private temporary directory that is removed
    at once."""
    with tempfile.TemporaryDirectory(prefix="prometheus-client-cert-") as directory:
        cert = os.path.join(directory, "cert.pem")
        key = os.path.join(directory, "key.pem")
        for path, data in (
            (cert, credentials.client_cert_data),
            (key, credentials.client_key_data),
        ):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data or b"")
        context.load_cert_chain(cert, key)


def _raise_api_error(path: str, status: int, error_type: Any, message: Any, snippet: bytes) -> None:
    """Raise the error class for a Prometheus error answer (status + errorType)."""
    error_type = error_type if isinstance(error_type, str) else None
    text = message if isinstance(message, str) else errors.body_text(snippet)
    what = f"{path}: HTTP {status}" + (f" {error_type}" if error_type else "") + f": {text}"
    kwargs: dict[str, Any] = {"path": path, "status": status, "error_type": error_type}
    if error_type == "timeout":
        raise PrometheusTimeout(what, **kwargs)
    if status in (400, 422) or (status // 100 == 2 and error_type in ("bad_data", "execution")):
        raise PrometheusQueryError(what, **kwargs)
    if status // 100 == 5 or status // 100 == 2:
        raise PrometheusServerError(what, **kwargs)
    raise PrometheusResponseError(what, **kwargs)
