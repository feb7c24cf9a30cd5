"""wallet/domain is pure: importing it loads no database, web or validation library (architecture rule)."""
import pkgutil
import subprocess
import sys

import mycrypto.wallet.domain as domain

FORBIDDEN = ("asyncpg", "fastapi", "pydantic", "starlette", "httpx", "redis", "aio_pika")


def test_domain_modules_import_no_io_libraries():
    modules = [f"mycrypto.wallet.domain.{m.name}" for m in pkgutil.iter_modules(domain.__path__)]
    assert len(modules) >= 7
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\nprint(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"domain imports {out.stdout.strip()}"
