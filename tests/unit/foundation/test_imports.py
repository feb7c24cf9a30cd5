"""The import structure of src/mycrypto, read statically (the picture and the rules: docs/architecture.md).

1. No import cycle between modules.
2. Packages import each other only in the directions the architecture allows (ALLOWED below).
3. Another package reaches auth, wallet or trading only through their public modules (PUBLIC below).

What counts as an edge from module A to module B: every `import` / `from ... import` statement in A that
names B - at module level AND inside functions (a late import still runs, and still ties A to B).
`from pkg import name` names `pkg.name` when that is a module, else `pkg`. Two things are not edges:
- imports inside `if TYPE_CHECKING:`, which never run; only container.py may have them (it names the
  service types of its attributes for annotations), and this test checks that;
- the implicit import of a module's parent packages: Python always initialises a package before its
  modules, so a package `__init__` that imports its own modules (to export them) is no cycle.
"""
import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src"
ROOT = "mycrypto"

# package -> the packages it may import (besides itself). "foundation" is config, db, common, container
# and the root package (its __version__); apps and cli assemble everything and may import anything.
FOUNDATION = {"mycrypto", "config", "db", "common", "container"}
ALLOWED = {
    "config": set(),
    "db": set(),
    "common": {"mycrypto", "config", "db"},
    "container": {"config", "db", "common"},
    "notify": FOUNDATION,
    "auth": FOUNDATION | {"notify"},
    "marketdata": FOUNDATION,
    "wallet": FOUNDATION | {"auth", "notify"},
    "trading": FOUNDATION | {"auth", "wallet", "marketdata"},
    "alerts": FOUNDATION | {"auth", "notify", "marketdata", "trading"},
    "streams": FOUNDATION | {"auth", "notify", "marketdata", "trading", "wallet"},
    "ops": FOUNDATION | {"auth", "wallet"},
    "compat": set(),   # the namespace package (compat/__init__.py)
    "compat.binance": FOUNDATION | {"auth", "wallet", "trading"},
    "web": FOUNDATION | {"auth", "wallet"},
}
# sim (the seeded simulation) assembles the services in process like apps.py, without HTTP
ASSEMBLERS = {"apps", "cli", "__main__", "sim"}
# services whose insides others must not reach: package -> modules (or module prefixes) other packages may
# import. apps/cli (the composition root) are exempt: they import the service apps and commands.
PUBLIC = {
    "auth": {"principal", "audit", "totp", "apikeys", "errors", "accounts"},
    "wallet": {"ledger", "errors", "domain.ledger", "chain"},
    "trading": {"service", "errors", "results", "schemas", "forwarding", "domain.rules", "domain.triggers",
                "domain.conditional"},
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / ROOT).rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(module: str, path: Path) -> tuple[set[str], set[str]]:
    """(modules it imports when it runs, modules it imports only for type checking), within mycrypto."""
    is_package = path.name == "__init__.py"
    runtime: set[str] = set()
    typing_only: set[str] = set()

    def targets(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        return [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in MODULES else prefix for a in node.names]

    def visit(node: ast.AST, typing: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, typing)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in targets(node):
                while target not in MODULES and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in MODULES and target != module:
                    (typing_only if typing else runtime).add(target)
        for child in ast.iter_child_nodes(node):
            visit(child, typing)

    visit(ast.parse(path.read_text(), filename=str(path)), False)
    return runtime, typing_only


EDGES = {m: _imports(m, p) for m, p in MODULES.items()}


def package_of(module: str) -> str:
    parts = module.split(".")[1:]
    if not parts:
        return ROOT
    if parts[0] == "compat" and len(parts) > 1:
        return "compat." + parts[1]
    return parts[0]


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_analysis_sees_the_imports():
    """Guards the test itself: known edges of each kind are found."""
    engine_runtime, _ = EDGES["mycrypto.trading.engine.commit"]
    assert "mycrypto.trading.repository" in engine_runtime            # from .. import repository as repo
    assert "mycrypto.db.database" in engine_runtime                   # from ...db.database import DB_DOWN
    _, container_typing = EDGES["mycrypto.container"]
    assert "mycrypto.trading.service" in container_typing             # under TYPE_CHECKING
    auth_api, _ = EDGES["mycrypto.auth.api"]
    assert "mycrypto.notify.worker" in auth_api                       # a function-level import
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_inside_mycrypto():
    cycles = _cycles({m: runtime for m, (runtime, _) in EDGES.items()})
    assert not cycles, f"import cycles (break them; see docs/architecture.md): {cycles}"


def test_only_the_container_has_type_checking_imports():
    offenders = {m: sorted(t) for m, (_, t) in EDGES.items() if t and m != "mycrypto.container"}
    assert not offenders, f"imports under TYPE_CHECKING outside container.py: {offenders}"


def _between_packages() -> list[tuple[str, str, str, str]]:
    """(module, imported module, its package, the imported module's package) for every run-time import
    from one package into another, except from the composition root."""
    out = []
    for module, (runtime, _) in EDGES.items():
        source = package_of(module)
        if source not in ASSEMBLERS:
            out.extend((module, t, source, package_of(t)) for t in runtime if package_of(t) != source)
    return out


def test_packages_import_each_other_only_in_the_allowed_directions():
    assert set(ALLOWED) | ASSEMBLERS | {ROOT} >= {package_of(m) for m in MODULES}, "a new package: add it to ALLOWED"
    wrong = [f"{m} -> {t}" for m, t, source, to in _between_packages() if to not in ALLOWED.get(source, set())]
    assert not wrong, f"imports against the allowed directions (docs/architecture.md): {sorted(wrong)}"


def test_other_packages_use_only_the_public_modules_of_auth_wallet_and_trading():
    wrong = []
    for module, target, _, to in _between_packages():
        if to in PUBLIC:
            inner = target.split(".", 2)[2] if target.count(".") >= 2 else ""
            if not any(inner == p or inner.startswith(p + ".") for p in PUBLIC[to]):
                wrong.append(f"{module} -> {target}")
    assert not wrong, f"imports of another service's internals: {sorted(wrong)}"
