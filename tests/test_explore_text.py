"""Each chapter's Explore text names exactly the controls of its Explore figure.

The controls live next to the frame function (`linres.explore.<chapter>.EXPLORER`);
the text lives in the notebook. A parameter symbol that the text names in math at the
start of a formula (`$\\delta$`, `$\\eta L = 0.5$`, `$L \\in ...$`) must be a control, and
every control must be named, so that the text and the figure cannot drift apart.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from linres import explore

ROOT = Path(__file__).resolve().parent.parent
# Symbols that denote a parameter when a formula starts with them.
VOCABULARY = [r"\eta L", r"\delta", r"\eta", r"\lambda", r"\kappa", r"\varepsilon", r"\epsilon",
              r"\gamma", r"\sigma", r"\rho", r"\theta", "L", "d", "c", "s"]


def _explore_text(name: str) -> str:
    nb = json.loads((ROOT / "book" / f"{name}.ipynb").read_text())
    text, inside = [], False
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        src = "".join(cell["source"])
        for line in src.splitlines():
            m = re.match(r"^(#+)\s+(.*)", line)
            if m:
                inside = len(m.group(1)) == 2 and m.group(2).strip().lower().startswith("explore")
                continue
            if inside:
                text.append(line)
    return "\n".join(text)


def _named(text: str, controls: set[str]) -> set[str]:
    names = set()
    for seg in re.findall(r"\$+([^$]+)\$+", text):
        s = seg.strip()
        own = [c for c in controls if s.startswith(c)]
        if own:  # a control's own symbol, e.g. \sigma_{\min} or \eta/\eta^*
            names.add(max(own, key=len))
            continue
        for sym in VOCABULARY:  # longest first where it matters (\eta L before \eta)
            if s.startswith(sym) and (len(s) == len(sym) or not s[len(sym)].isalnum()):
                names.add(sym)
                break
    return names


@pytest.mark.parametrize("name", explore.CHAPTERS)
def test_explore_text_names_exactly_the_controls(name):
    text = _explore_text(name)
    assert text.strip(), f"book/{name}.ipynb has no '## Explore' section"
    ex = explore.chapter(name)
    controls = {c.tex.strip() for c in ex.controls}
    named = _named(text, controls)
    missing = {c for c in controls if not re.search(r"\$+\s*" + re.escape(c) + r"(?![A-Za-z])", text)}
    assert not missing, f"controls not named in the Explore text: {sorted(missing)}"
    extra = named - controls
    assert not extra, f"the Explore text names {sorted(extra)}, which are not controls ({sorted(controls)})"


@pytest.mark.parametrize("name", explore.CHAPTERS)
def test_explore_grid(name):
    ex = explore.chapter(name)
    for c in ex.controls:
        assert len(c.values) >= 2, f"{c.name}: a control needs at least two values"
        # every axis, continuous or a depth L, needs ≥ 8 values (issue 13)
        if c.name != "seed":
            assert len(c.values) >= 8, f"{c.name}: this axis needs ≥ 8 values"
