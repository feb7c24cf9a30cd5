"""Cross-service hooks the auth package installs into any container (`services[...]`).

- `api_key_resolver`: lets every `current_principal` endpoint accept signed API-key requests.
- `session_check`: refuses access tokens of revoked sessions (logout, revoke, password change/reset).
`current_principal` installs them on first use, so a service deployed without the auth router
(e.g. `mycrypto serve trade`) still honours API keys and revoked sessions. Already-present hooks
(a test or another service may set its own) are left alone.
"""
from __future__ import annotations

from typing import Any

from .principal import check_session


def install(container: Any) -> None:
    from .apikeys import resolve_api_key  # late: apikeys imports principal, which calls install()

    services = container.services
    services.setdefault("api_key_resolver", resolve_api_key)

    async def session_check(claims: Any) -> None:
        await check_session(container, claims.user_id, claims.session_id)

    services.setdefault("session_check", session_check)
    services["auth_hooks_installed"] = True
