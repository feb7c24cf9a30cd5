"""Route dispatch that does not try every route on every request.

Starlette's router walks its whole route list in order, running each route's regex (2-4 µs each);
with ~125 routes that was most of a request's cost. `IndexedDispatch` indexes routes by the literal
path segments before their first parameter and tries only the routes whose literal prefix fits the
request path, in the original order, so priority, 405 (partial matches) and OpenAPI are unchanged.
Anything it cannot place (no match: redirects, 404) falls back to the router's own full scan.
"""
from __future__ import annotations

from typing import Any

from starlette.routing import Match

INDEX_DEPTH = 3  # literal segments used as the key, e.g. ("api", "v1", "wallet")
MAX_CACHED_KEYS = 4096  # distinct request prefixes remembered (bounded: keys come from clients)


def literal_prefix(path: str) -> tuple[str, ...]:
    """("api", "v1", "orderbook") for "/api/v1/orderbook/{symbol}" (at most INDEX_DEPTH segments)."""
    out = []
    for segment in path.split("/")[1:INDEX_DEPTH + 1]:
        if "{" in segment:
            break
        out.append(segment)
    return tuple(out)


class IndexedDispatch:
    """An ASGI app standing in for `router.app` (installed as the router's middleware_stack)."""

    def __init__(self, router: Any) -> None:
        self.router = router
        self._indexed_count = -1
        self._prefixes: list[tuple[Any, tuple[str, ...] | None]] = []
        self._candidates: dict[tuple[str, ...], list[Any]] = {}

    def _reindex(self) -> None:
        self._prefixes = [(route, literal_prefix(route.path) if isinstance(getattr(route, "path", None), str)
                           else None) for route in self.router.routes]
        self._candidates.clear()
        self._indexed_count = len(self.router.routes)

    def candidates(self, path: str) -> list[Any]:
        if self._indexed_count != len(self.router.routes):
            self._reindex()
        key = tuple(path.split("/")[1:INDEX_DEPTH + 1])
        found = self._candidates.get(key)
        if found is None:
            # a route is possible only if its literal prefix is a prefix of the request's segments
            found = [route for route, prefix in self._prefixes
                     if prefix is None or key[:len(prefix)] == prefix]
            if len(self._candidates) >= MAX_CACHED_KEYS:
                self._candidates.clear()
            self._candidates[key] = found
        return found

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" and scope["type"] != "websocket":
            await self.router.app(scope, receive, send)
            return
        if "router" not in scope:
            scope["router"] = self.router
        partial = partial_scope = None
        for route in self.candidates(scope["path"]):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial, partial_scope = route, child_scope
        if partial is not None:
            scope["route"] = partial
            scope.update(partial_scope)
            await partial.handle(scope, receive, send)
            return
        await self.router.app(scope, receive, send)  # redirect_slashes and 404, exactly as Starlette does
