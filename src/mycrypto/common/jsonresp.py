"""Fast JSON responses where Decimal amounts become strings, never floats.

FastAPI's default encoder turns `Decimal` into `float`; amounts must never take that path. Return
`json_response(...)` (or a pydantic schema whose amount fields are `str`) from endpoints.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import Response

from .money import fmt


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, default=_default, option=orjson.OPT_NON_STR_KEYS)


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def json_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(content), status_code=status_code, media_type="application/json", headers=headers)
