"""A low-overhead HTTP/1.1 load driver: raw asyncio keep-alive connections, pre-built requests.

Used by the benchmarks (bench/e2e, bench/load) and by `mycrypto preflight`'s short load run, so the
numbers an operator sees and the ones in docs/PERFORMANCE.md come from the same driver.

Two modes, both bounded by time (and the request pool by count):
    closed(n_conns, duration)     every connection sends its next request as soon as the previous
                                  answer arrived: the server's sustained throughput
    open(rate, duration)          requests are *scheduled* at a fixed rate across the connections and
                                  latency is measured from the scheduled time (no coordinated omission):
                                  a slow server shows up as latency, not as a lower send rate

Requests are either a list of raw requests (`bytes`, all labelled with the phase's name) or a
`RequestSource`: a function i -> (label, raw request), so one phase can mix endpoints (each
sample keeps its label) or build requests that expire (signed API-key requests carry a timestamp).
Every measured sample keeps its label, status and completion time, so a run can be summarised per
endpoint and over time (ops/loadstats.py). Responses are parsed just enough (status line,
Content-Length) to count statuses and time them. Only 127.0.0.1-style targets are meant: the driver
has no TLS.
"""
from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

RequestSource = Callable[[int], tuple[str, bytes]]
Requests = Union[Sequence[bytes], RequestSource]


def source_of(requests: Requests, label: str) -> RequestSource:
    """A request list (cycled, every request labelled `label`) or an existing source, as a source."""
    if callable(requests):
        return requests
    pool = list(requests)
    n = len(pool)
    return lambda i: (label, pool[i % n])


def mix(entries: Sequence[tuple[str, bytes, int]]) -> RequestSource:
    """A source cycling through labelled requests in proportion to their integer weights."""
    order = [(label, raw) for label, raw, weight in entries for _ in range(weight)]
    random.Random(1).shuffle(order)   # interleaved: a short run sees every endpoint
    n = len(order)
    return lambda i: order[i % n]


@dataclass
class Result:
    name: str
    duration: float
    latencies: list[float] = field(default_factory=list)   # seconds
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0
    # per measured answer, parallel to `latencies`: label, HTTP status and completion time in seconds
    # since the measured window opened; measured requests that got no answer: (end, label)
    labels: list[str] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    failed: list[tuple[float, str]] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)

    @property
    def rps(self) -> float:
        return self.ok / self.duration if self.duration else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] * 1000

    def row(self) -> dict:
        return {"name": self.name, "ok_per_s": round(self.rps, 1), "requests": sum(self.statuses.values()),
                "p50_ms": round(self.pct(50), 2), "p95_ms": round(self.pct(95), 2), "p99_ms": round(self.pct(99), 2),
                "statuses": dict(self.statuses), "errors": self.errors, "seconds": round(self.duration, 2)}

    def record(self, label: str, status: int, latency: float, end: float) -> None:
        self.statuses[status] += 1
        self.latencies.append(latency)
        self.labels.append(label)
        self.codes.append(status)
        self.ends.append(end)

    def record_error(self, label: str, end: float, measured: bool) -> None:
        """A connection error or timeout: counted, and kept as a sample (status 0) when measured."""
        self.errors += 1
        if measured:
            self.failed.append((end, label))

    def samples(self) -> list[tuple[float, str, int, float]]:
        """(end_s, label, status, latency_ms) for every measured request (status 0: no answer)."""
        out = [(e, lab, c, lat * 1000) for e, lab, c, lat in zip(self.ends, self.labels, self.codes,
                                                                 self.latencies)]
        return out + [(e, lab, 0, float("nan")) for e, lab in self.failed]


class _Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._try()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def _try(self) -> None:
        if self.waiter is None or self.waiter.done():
            return
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buf[:end])
        status = int(head[9:12])
        length = 0
        lower = head.lower()
        i = lower.find(b"content-length:")
        if i >= 0:
            j = lower.find(b"\r\n", i)
            length = int(lower[i + 15:j if j >= 0 else len(lower)])
        total = end + 4 + length
        if len(buf) < total:
            return
        body = bytes(buf[end + 4:total])
        del buf[:total]
        self.waiter.set_result((status, body))

    async def request(self, raw: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
        """One request/response; a response that does not come within `timeout` closes the connection
        (the driver is bounded in time whatever the server does)."""
        if self.closed:
            raise ConnectionError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(raw)
        try:
            return await asyncio.wait_for(self.waiter, timeout)
        except TimeoutError:
            self.closed = True
            self.transport.close()
            raise ConnectionError("response timeout") from None


async def connect(host: str, port: int) -> _Conn:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(_Conn, host, port)
    return proto


def build_request(method: str, path: str, host: str, headers: dict[str, str] | None = None,
                  body: bytes = b"", content_type: str = "application/json") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def closed_loop(name: str, host: str, port: int, requests: Requests, n_conns: int,
                      duration: float, warmup: float = 1.0, timeout: float = 30.0) -> Result:
    conns = [await connect(host, port) for _ in range(n_conns)]
    source = source_of(requests, name)
    result = Result(name, duration)
    counter = [0]
    t_start = time.perf_counter()
    t_measure = t_start + warmup
    t_end = t_measure + duration

    async def worker(c: _Conn) -> None:
        while True:
            t0 = time.perf_counter()
            if t0 >= t_end:
                return
            label, raw = source(counter[0])
            counter[0] += 1
            try:
                status, _ = await c.request(raw, timeout)
            except ConnectionError:
                result.record_error(label, time.perf_counter() - t_measure, t0 >= t_measure)
                try:
                    c = await connect(host, port)
                except OSError:
                    return
                continue
            t1 = time.perf_counter()
            if t0 >= t_measure:
                result.record(label, status, t1 - t0, t1 - t_measure)

    await asyncio.gather(*[worker(c) for c in conns])
    for c in conns:
        if c.transport is not None:
            c.transport.close()
    return result


async def open_loop(name: str, host: str, port: int, requests: Requests, rate: float, duration: float,
                    n_conns: int = 64, warmup: float = 1.0, timeout: float = 30.0) -> Result:
    """Send `rate` requests/s for `duration` s; latency from each request's scheduled time."""
    conns = [await connect(host, port) for _ in range(n_conns)]
    free: asyncio.Queue[_Conn] = asyncio.Queue()
    for c in conns:
        free.put_nowait(c)
    source = source_of(requests, name)
    result = Result(name, duration)
    loop = asyncio.get_running_loop()
    interval = 1.0 / rate
    t0 = time.perf_counter() + 0.05
    t_measure = t0 + warmup
    total = int((duration + warmup) * rate)
    tasks: list[Any] = []

    async def one(i: int, scheduled: float) -> None:
        label, raw = source(i)
        c = await free.get()
        try:
            status, _ = await c.request(raw, timeout)
        except ConnectionError:
            result.record_error(label, time.perf_counter() - t_measure, scheduled >= t_measure)
            try:
                free.put_nowait(await connect(host, port))
            except OSError:
                pass
            return
        done = time.perf_counter()
        free.put_nowait(c)
        if scheduled >= t_measure:
            result.record(label, status, done - scheduled, done - t_measure)

    for i in range(total):
        scheduled = t0 + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(i, scheduled)))
        if len(tasks) > 5000:
            tasks = [t for t in tasks if not t.done()]
    await asyncio.gather(*tasks)
    for c in conns:
        if c.transport is not None:
            c.transport.close()
    return result
