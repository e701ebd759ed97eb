"""The layer rule, checked on every module's imports (module level and inside functions).

Packages depend downward only:

    __main__ -> cli -> serving -> sandbox, tools, backtest -> server, hpa -> documents
        -> providers, settings -> rules, prometheus, cluster -> k8s, supervision, selfmetrics

A module may import its own package freely and any package in a lower layer; importing
a package of the same layer (sideways) or of a higher one (upward, a cycle in waiting)
fails here with the module and the import named. ARCHITECTURE.md explains each layer.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "adapter"

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"__main__"}),
    frozenset({"cli"}),
    frozenset({"serving"}),
    frozenset({"sandbox", "tools", "backtest"}),
    frozenset({"server", "hpa"}),
    frozenset({"documents"}),
    frozenset({"providers", "settings"}),
    frozenset({"rules", "prometheus", "cluster"}),
    frozenset({"k8s", "supervision", "selfmetrics"}),
)
"""Top to bottom. A name is a package or top-level module under `adapter`."""


def _layer_of(part: str) -> int:
    for index, layer in enumerate(LAYERS):
        if part in layer:
            return index
    raise AssertionError(f"adapter.{part} is in no layer: add it to LAYERS and ARCHITECTURE.md")


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _imports(module: str, path: Path) -> Iterator[tuple[int, str]]:
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            if target == "adapter":  # `from adapter import serving` imports a package
                for alias in node.names:
                    yield node.lineno, f"{target}.{alias.name}"


def _top(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "adapter" or len(parts) == 1:
        return None
    candidate = parts[1]
    return (
        candidate
        if (PACKAGE / candidate).exists() or (PACKAGE / f"{candidate}.py").exists()
        else None
    )


def test_every_import_points_down_or_stays_in_its_package() -> None:
    problems: list[str] = []
    for module, path in _modules():
        own = _top(module)
        if own is None:
            continue
        own_layer = _layer_of(own)
        for line, target in _imports(module, path):
            other = _top(target)
            if other is None or other == own:
                continue
            if _layer_of(other) <= own_layer:
                kind = "sideways" if _layer_of(other) == own_layer else "upward"
                problems.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line}: {kind} import of {target}"
                )
    assert not problems, "\n".join(sorted(set(problems)))


def test_every_package_has_a_layer() -> None:
    for entry in PACKAGE.iterdir():
        if entry.name.startswith("_") and entry.name != "__main__.py":
            continue
        if entry.is_dir() and (entry / "__init__.py").exists():
            _layer_of(entry.name)
        elif entry.suffix == ".py":
            _layer_of(entry.stem)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from adapter.server import app\n", "adapter.server"),
        ("from adapter import serving\n", "adapter.serving"),
        ("from adapter.hpa.sync import sync\n", "adapter.hpa.sync"),
        ("from .sync import sync\n", "adapter.sync"),
        ("import adapter.hpa.sync\n", "adapter.hpa.sync"),
    ],
)
def test_the_checker_sees_each_import_form(tmp_path: Path, source: str, expected: str) -> None:
    """So that an import the rule forbids cannot slip past in a form the walk misses."""
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert expected in {target for _, target in _imports("adapter.probe", path)}
