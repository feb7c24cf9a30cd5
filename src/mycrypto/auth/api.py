"""Auth HTTP API under /api/v1/auth (registration, login, sessions, 2FA, API keys)."""
from __future__ import annotations

from fastapi import APIRouter

SERVICE = "auth"
router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
