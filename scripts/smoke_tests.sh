#!/usr/bin/env bash
# The launch checklist's smoke tests against ANY deployment (production included):
#   scripts/smoke_tests.sh https://mycrypto.example.com [--accounts var/smoke-accounts.env] [--market BTC-USDT]
# One verdict line per step (PASS / FAIL / SKIP), exit 0 only if no step failed. A dead URL fails at
# once with the reason. Smoke accounts come from `mycrypto smoke provision` (or SMOKE_EMAIL_A,
# SMOKE_PASSWORD_A, SMOKE_EMAIL_B, SMOKE_PASSWORD_B); against `mycrypto up` they are created on the fly
# with the development mailbox and faucet. Details: docs/operations.md#smoke-tests
set -euo pipefail
if [ $# -lt 1 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  echo "usage: $0 BASE_URL [mycrypto smoke options...]" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -x "$here/.venv/bin/mycrypto" ]; then
  exec "$here/.venv/bin/mycrypto" smoke "$@"
elif command -v mycrypto >/dev/null 2>&1; then
  exec mycrypto smoke "$@"
fi
echo "error: the mycrypto command is not installed (run scripts/bootstrap, or use the container image)" >&2
exit 2
