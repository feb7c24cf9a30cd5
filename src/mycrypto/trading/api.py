"""Trade HTTP API under /api/v1/trade plus the public order book at /api/v1/orderbook/{symbol}."""
from __future__ import annotations

from fastapi import APIRouter

SERVICE = "trade"
router = APIRouter(tags=["trade"])
