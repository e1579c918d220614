"""The API reference (book/api/): a page per public module of linres, every name of every
``__all__`` documented on it, and no docstring that MathJax or a terminal would garble.

Reads the built pages (``make test-pages`` or ``make book`` first), like test_book_pages.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import linres

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "_build" / "html" / "book" / "api"


def _modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(linres.__path__, "linres.")]
    return ["linres"] + [n for n in names if ".tests" not in n and not n.rsplit(".", 1)[-1].startswith("_")]


def _page(module: str) -> str:
    """The page that documents ``module``: its own, or its package's (engine's submodules,
    the chapter explorers)."""
    if module == "linres":
        return "index"
    parts = module.split(".")[1:]
    if parts[0] in ("engine", "explore"):
        return parts[0]
    return "_".join(parts)


@pytest.fixture(scope="module")
def anchors() -> dict[str, set[str]]:
    if not (API / "index.html").exists():
        pytest.fail("no built API pages in _build/html/book/api: run `make test-pages` first")
    return {p.stem: set(re.findall(r'\bid="([^"]+)"', p.read_text())) for p in API.glob("*.html")}


@pytest.mark.parametrize("module", _modules())
def test_every_public_name_is_documented(module, anchors):
    mod = importlib.import_module(module)
    page = _page(module)
    assert page in anchors, f"{module} has no API page (book/api/{page}.md and _toc.yml)"
    ids = set().union(*anchors.values())
    missing = []
    for name in getattr(mod, "__all__", ()):
        obj = getattr(mod, name)
        if inspect.ismodule(obj):
            if _page(obj.__name__) not in anchors:
                missing.append(name)
            continue
        where = {f"{module}.{name}"}
        if hasattr(obj, "__qualname__"):  # a class or function: documented where defined
            where.add(f"{obj.__module__}.{obj.__qualname__}")
        else:  # a constant: documented in any module that defines the same object
            where |= {f"{m}.{name}" for m in _modules()
                      if getattr(importlib.import_module(m), name, None) is obj}
        if not where & ids:
            missing.append(name)
    assert not missing, f"{module}.__all__ names without an entry in the API reference: {missing}"


@pytest.mark.parametrize("module", _modules())
def test_docstrings_have_no_control_characters(module):
    # a "\b" or "\t" typed into a non-raw docstring becomes a control character, and a
    # formula that contains one cannot be parsed by MathJax
    src = inspect.getsource(importlib.import_module(module))
    bad = sorted({f"U+{ord(c):04X}" for c in src if ord(c) < 32 and c not in "\n"})
    assert not bad, f"{module} contains control characters {bad}"
