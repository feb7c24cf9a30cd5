"""A minimal HTTP/1.1 listener for probes and metrics, outside the service's public app.

Used where there is no web app to hang `/health/*` and `/metrics` on (the notifier), and for
METRICS_PORT: a separate port for `/metrics` that the public ingress never routes to. It answers
GET only, one request per connection, with a handler per exact path; anything else is a 404. It is
deliberately tiny: no keep-alive, no bodies, a 2-second read timeout and an 8 KiB header limit.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("mycrypto.probe_server")

# path -> async handler returning (status, content type, body)
Handler = Callable[[], Awaitable[tuple[int, str, bytes]]]
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error",
            503: "Service Unavailable"}


class ProbeServer:
    def __init__(self, host: str, port: int, routes: dict[str, Handler]) -> None:
        self.host = host
        self.port = port
        self.routes = routes
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=8192)
        if self.port == 0:   # tests ask for any free port
            self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            path = target.split("?", 1)[0]
            handler = self.routes.get(path)
            if method not in ("GET", "HEAD"):
                status, ctype, body = 405, "application/json", b'{"status":"method_not_allowed"}'
            elif handler is None:
                status, ctype, body = 404, "application/json", b'{"status":"not_found"}'
            else:
                try:
                    status, ctype, body = await handler()
                except Exception:
                    log.exception("probe handler failed", extra={"path": path})
                    status, ctype, body = 500, "application/json", b'{"status":"error"}'
            head_out = (f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\nContent-Type: {ctype}\r\n"
                        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n")
            writer.write(head_out.encode("latin-1") + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError,
                ConnectionError):
            pass   # a scanner or a half-open probe: nothing to answer
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except Exception:
                pass
