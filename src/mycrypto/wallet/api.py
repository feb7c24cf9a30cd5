"""Wallet HTTP API under /api/v1/wallet (balances, deposits, withdrawals, history)."""
from __future__ import annotations

from fastapi import APIRouter

SERVICE = "wallet"
router = APIRouter(prefix="/api/v1/wallet", tags=["wallet"])
