"""Project-wide rules that code review alone would let slip."""
import ast
import re
from pathlib import Path

from mycrypto.config import Settings

ROOT = Path(__file__).resolve().parents[3]
SRC = ROOT / "src" / "mycrypto"
PURE_OUTSIDE_DOMAIN = ("common/markets.py",)   # shared rules that live outside a domain/ package
FORBIDDEN_IN_DOMAIN = {"asyncpg", "fastapi", "starlette", "pydantic", "pydantic_settings", "sqlalchemy",
                       "httpx", "redis", "aio_pika", "aiosmtplib", "uvicorn", "socket", "requests"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_domain_packages_do_no_io():
    offenders = {}
    for path in [*SRC.rglob("domain/*.py"), *(SRC / p for p in PURE_OUTSIDE_DOMAIN)]:
        bad = _imports(path) & FORBIDDEN_IN_DOMAIN
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert not offenders, f"domain modules must stay pure: {offenders}"


def test_every_module_has_a_docstring():
    missing = [str(p.relative_to(ROOT)) for p in SRC.rglob("*.py")
               if p.stat().st_size and ast.get_docstring(ast.parse(p.read_text())) is None]
    assert not missing, f"modules without a top docstring: {missing}"


def test_env_example_documents_every_setting():
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    aliases = {field.alias for field in Settings.model_fields.values() if field.alias}
    assert aliases - documented == set(), "add these to .env.example"


def test_no_float_money_in_source():
    pattern = re.compile(r"(amount|price|qty|quantity|balance|fee)[a-z_]*\s*:\s*float|float\((amount|price|qty|quantity|balance)")
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in SRC.rglob("*.py")
            for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not hits, f"money must never be float: {hits}"
