"""The packages' dependencies point one way (web → search → indexer), and each uses only the
public modules of the packages below it: a format or rule has one owner, imported through it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str) -> list[tuple[Path, str]]:
    """Every module name imported by a package's files (``from a import b`` gives ``a`` and ``a.b``)."""
    found: list[tuple[Path, str]] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(path, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.module))
                found += [(path, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _private(name: str, package: str) -> bool:
    parts = name.split(".")
    return parts[0] == package and any(p.startswith("_") for p in parts[1:])


@pytest.mark.parametrize("package, below", [("search", "indexer"), ("web", "indexer"), ("web", "search")])
def test_no_package_imports_private_modules_of_another(package: str, below: str) -> None:
    bad = [(p.name, name) for p, name in _imports(package) if _private(name, below)]
    assert not bad, bad


@pytest.mark.parametrize("package, above", [("indexer", "search"), ("indexer", "web"), ("search", "web")])
def test_dependencies_point_one_way(package: str, above: str) -> None:
    bad = [(p.name, name) for p, name in _imports(package) if name.split(".")[0] == above]
    assert not bad, bad


def test_web_never_imports_whoosh() -> None:
    bad = [(p.name, name) for p, name in _imports("web") if name.split(".")[0] == "whoosh"]
    assert not bad, bad


def test_the_checker_sees_private_imports(tmp_path: Path) -> None:
    assert _private("indexer._codec", "indexer") and _private("indexer._codec.Codec", "indexer")
    assert not _private("indexer.dense", "indexer") and not _private("indexer.schema.ID_FIELD", "indexer")
    assert any(name == "search._index.CACHE" for _p, name in _imports("search"))
