"""Calling sites' cron URLs: thousands at once on one event loop (aiohttp), each behind the SSRF guard.

One GET per URL with the farm's User-Agent and a time limit (FARM_CRON_URL_TIMEOUT) that starts
when the call gets its turn: at most FARM_CRON_URL_CONCURRENCY calls run at once in a process, and
at most FARM_CRON_URL_PER_HOST to one host (a host serving many farm sites is not flooded). The answer is
read up to FARM_CRON_URL_MAX_BYTES. Redirects are followed on the same host only (up to 5).

Host names are resolved by the guard's resolver: aiohttp connects to the addresses the guard
checked, and only to those (an IP address in the URL is checked before the call).
"""
import asyncio
import atexit
import concurrent.futures
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from urllib.parse import urljoin

import aiohttp
from aiohttp.abc import AbstractResolver

from farm.conf import farm_setting
from instances import url_guard

MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class CallResult:
    """How one call went. `retryable`: a 5xx, a time-out or a failed connection (worth another try)."""

    status_code: int | None = None
    bytes_read: int = 0
    truncated: bool = False
    duration_ms: int = 0
    error: str = ""
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return not self.error

    def as_dict(self) -> dict:
        """What the run history keeps (TaskRun.result)."""
        kept = {k: v for k, v in asdict(self).items() if k != "retryable" and v not in ("", None)}
        if not self.truncated:
            kept.pop("truncated")
        return kept


def user_agent() -> str:
    return f"farm-super-cron/1.0 (+http://{farm_setting('FARM_DOMAIN')}/; the site farm calling this site's cron)"


class _GuardedResolver(AbstractResolver):
    """aiohttp's resolver: one lookup per connection, and only addresses the guard allows."""

    async def resolve(self, host, port=0, family=socket.AF_UNSPEC):
        loop = asyncio.get_running_loop()
        addresses = await loop.run_in_executor(None, url_guard.addresses_check, host, port)
        return [{"hostname": host, "host": address, "port": port, "proto": 0, "flags": socket.AI_NUMERICHOST,
                 "family": socket.AF_INET6 if ":" in address else socket.AF_INET} for address in addresses]

    async def close(self):
        return None


class _Limits:
    """The calls running at once: in all, and per (scheme, host, port)."""

    def __init__(self):
        self.all = asyncio.Semaphore(farm_setting("FARM_CRON_URL_CONCURRENCY"))
        self.per_host: dict[tuple, asyncio.Semaphore] = {}

    def host(self, target: url_guard.Target) -> asyncio.Semaphore:
        key = (target.scheme, target.host, target.port)
        if key not in self.per_host:
            self.per_host[key] = asyncio.Semaphore(farm_setting("FARM_CRON_URL_PER_HOST"))
        return self.per_host[key]


def _refusal(exc: BaseException) -> str | None:
    """The guard's refusal inside aiohttp's connection error, if that is what it is."""
    while exc is not None:
        if isinstance(exc, (url_guard.AddressRefused, url_guard.UrlRefused)):
            return str(exc)
        exc = getattr(exc, "os_error", None) or exc.__cause__
    return None


async def _get(session, first: url_guard.Target, max_bytes: int) -> CallResult:
    """Follow same-host redirects; raise the guard's and aiohttp's errors to the caller."""
    target = first
    for _hop in range(MAX_REDIRECTS + 1):
        if target.is_address:  # aiohttp connects to an address without its resolver: check it here
            url_guard.addresses_check(target.host, target.port)
        async with session.get(target.url, allow_redirects=False, headers={"User-Agent": user_agent()}) as response:
            location = response.headers.get("Location")
            if response.status in REDIRECTS and location:
                try:
                    following = url_guard.url_parse(urljoin(target.url, location))
                except (ValueError, url_guard.UrlRefused):
                    following = None
                if following is None or following.host != first.host:
                    return CallResult(status_code=response.status, error=(
                        f"HTTP {response.status}: redirected to another host, not followed"))
                target = following
                continue
            read, truncated = 0, False
            while not response.content.at_eof():
                chunk = await response.content.read(max_bytes - read)
                read += len(chunk)
                if read >= max_bytes:
                    truncated = not response.content.at_eof()
                    break
            if response.status >= 400:
                return CallResult(status_code=response.status, bytes_read=read, truncated=truncated,
                                  error=f"HTTP {response.status} {response.reason or ''}".strip(),
                                  retryable=response.status >= 500)
            return CallResult(status_code=response.status, bytes_read=read, truncated=truncated)
    return CallResult(error=f"more than {MAX_REDIRECTS} redirects")


async def _call(session, limits: _Limits, url: str, *, timeout: float, max_bytes: int) -> CallResult:
    try:
        target = url_guard.url_parse(url)
    except url_guard.UrlRefused as exc:
        return CallResult(error=f"refused: {exc}")
    # NB: the host's turn first, then a slot of the process: a batch of many calls to one host must
    # not hold the process's slots while it waits for that host.
    async with limits.host(target), limits.all:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                result = await _get(session, target, max_bytes)
        except TimeoutError:
            result = CallResult(error=f"timed out after {timeout:g} s", retryable=True)
        except (url_guard.UrlRefused, url_guard.AddressRefused) as exc:
            result = CallResult(error=f"refused: {exc}")
        except (aiohttp.ClientError, OSError) as exc:
            refusal = _refusal(exc)
            result = CallResult(error=f"refused: {refusal}") if refusal else CallResult(
                error=f"connection failed: {exc}"[:500], retryable=True)
        except Exception as exc:  # whatever a site answers, its call fails alone, never the batch
            result = CallResult(error=f"the call failed: {exc.__class__.__name__}: {exc}"[:500])
        duration = int((time.perf_counter() - started) * 1000)
    return CallResult(**{**asdict(result), "duration_ms": duration})


class _Caller:
    """One event loop per process, in a thread of its own, with one HTTP session and one set of limits.

    Each runner task (a thread of the worker's pool) hands its batch to this loop and waits: the
    batches in flight share the per-host limit and the kept-alive connections, and a batch waiting
    on a slow site does not stop the others.
    """

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.session = None
        self.limits = None
        self.thread = threading.Thread(target=self.loop.run_forever, name="cron-calls", daemon=True)
        self.thread.start()
        atexit.register(self.close)

    def close(self) -> None:
        """Close the session's connections and stop the loop (at exit: nothing left half-open)."""
        async def closing():
            if self.session is not None:
                await self.session.close()

        if self.loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(closing(), self.loop).result(timeout=5)
            except (TimeoutError, RuntimeError):
                pass  # exiting anyway; the sockets close with the process
            self.loop.call_soon_threadsafe(self.loop.stop)

    async def _session(self):
        if self.session is None:
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, resolver=_GuardedResolver(),
                                             use_dns_cache=False)
            self.session = aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=False,
                                                 timeout=aiohttp.ClientTimeout(total=None))
            self.limits = _Limits()
        return self.session

    async def run(self, urls: dict) -> dict:
        session = await self._session()
        timeout = float(farm_setting("FARM_CRON_URL_TIMEOUT"))
        max_bytes = int(farm_setting("FARM_CRON_URL_MAX_BYTES"))
        keys = list(urls)
        results = await asyncio.gather(*(_call(session, self.limits, urls[k], timeout=timeout, max_bytes=max_bytes)
                                         for k in keys))
        return dict(zip(keys, results, strict=True))


_caller: tuple[int, _Caller] | None = None
_caller_lock = threading.Lock()


def _the_caller() -> _Caller:
    global _caller
    with _caller_lock:
        if _caller is None or _caller[0] != os.getpid():  # a forked child starts its own (threads do not fork)
            _caller = (os.getpid(), _Caller())
        return _caller[1]


def call_all(urls: dict, *, while_waiting=None, every: float = 20.0) -> dict:
    """Call every URL ({key: url}) concurrently; returns {key: CallResult}. Never raises for a call.

    `while_waiting()` is called every `every` seconds until the calls are done (in the caller's
    thread: a runner renews its leases with its own database connection).
    """
    if not urls:
        return {}
    caller = _the_caller()
    future = asyncio.run_coroutine_threadsafe(caller.run(urls), caller.loop)
    while True:
        try:
            return future.result(timeout=every)
        except concurrent.futures.TimeoutError:
            if while_waiting is not None:
                while_waiting()


def call(url: str) -> CallResult:
    """Call one URL from synchronous code (a worker's run, the CLI)."""
    return call_all({0: url})[0]
