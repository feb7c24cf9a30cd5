"""Guards the "pure core" rule of mycrypto.trading.domain.matching: stdlib-only imports, and none
of the stdlib modules that would bring I/O, clocks, randomness, floats-for-money or threads."""
import ast
import sys
from pathlib import Path

import mycrypto.trading.domain.matching as matching

SOURCE = Path(matching.__file__)
# stdlib, but not allowed in the core: I/O, time, randomness, Decimal, concurrency, logging
FORBIDDEN = {"os", "io", "sys", "time", "datetime", "random", "secrets", "decimal", "fractions",
             "socket", "asyncio", "threading", "multiprocessing", "subprocess", "logging",
             "pathlib", "shutil", "tempfile", "uuid", "pickle", "sqlite3", "json", "math"}


def imported_modules():
    tree = ast.parse(SOURCE.read_text(), filename=str(SOURCE))
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports: the core depends on nothing in the project"
            mods.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in ("__import__", "open", "eval", "exec", "float", "print",
                                        "input"), f"{node.func.id}() in the core"
    return mods


def test_matching_imports_only_allowed_stdlib():
    mods = imported_modules()
    assert mods, "parsed no imports at all?"
    not_stdlib = {m for m in mods if m not in sys.stdlib_module_names}
    assert not not_stdlib, f"non-stdlib imports in the matching core: {not_stdlib}"
    assert not mods & FORBIDDEN, f"forbidden stdlib imports in the matching core: {mods & FORBIDDEN}"
    assert mods <= {"bisect", "dataclasses"}, f"new import in the core, review it: {mods}"


def test_no_float_literals_in_core():
    tree = ast.parse(SOURCE.read_text())
    floats = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, float)]
    assert not floats, f"float literals at lines {floats}"
