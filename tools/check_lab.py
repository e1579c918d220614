"""Check the live path: JupyterLab from .venv runs a chapter and its widget redraws.

Usage: python tools/check_lab.py [chapter]   (after `make lab` has installed JupyterLab)
Starts JupyterLab headless on a free port, opens book/<chapter>.ipynb in Chromium, runs
all cells, moves the first slider of the live widget with the keyboard and reports
whether the widget's picture changed. Exit status 0 when it did.

JupyterLab saves the notebook it runs (autosave, and on Run All), so it runs a copy:
book/<chapter>.ipynb is copied into a temporary tree laid out like the repository
(<tmp>/book/<chapter>.ipynb, with the rest of book/ and the top-level folders linked
in), so relative paths such as ``../bench/results/latest.md`` still resolve and book/
is never written.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent


def _scratch_tree(tmp: Path, chapter: str) -> Path:
    """A copy of book/<chapter>.ipynb in ``tmp``/book, next to links to everything else the
    repository holds (other book/ files, bench/, lib/, ...); returns the copy's folder."""
    src = ROOT / "book" / f"{chapter}.ipynb"
    if not src.is_file():
        raise SystemExit(f"no notebook {src}")
    book = tmp / "book"
    book.mkdir()
    shutil.copy2(src, book / src.name)
    for entry in (ROOT / "book").iterdir():
        if entry.suffix != ".ipynb" and entry.name != ".ipynb_checkpoints":
            (book / entry.name).symlink_to(entry)
    for entry in ROOT.iterdir():
        if entry.name != "book" and not entry.name.startswith("."):
            (tmp / entry.name).symlink_to(entry)
    return book


def _jupyter() -> str:
    """The project's JupyterLab (.venv, as `make lab` installs it), else the one next to
    this Python (a git worktree without its own .venv)."""
    venv = ROOT / ".venv/bin/jupyter"
    return str(venv if venv.exists() else Path(sys.executable).parent / "jupyter")


def main(chapter: str = "model") -> int:
    with tempfile.TemporaryDirectory(prefix="check_lab-") as tmp:
        return _check(chapter, _scratch_tree(Path(tmp), chapter))


def _check(chapter: str, notebook_dir: Path) -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lab = subprocess.Popen(
        [_jupyter(), "lab", "--allow-root", "--no-browser", f"--port={port}",
         "--ServerApp.token=", "--ServerApp.password=", f"--notebook-dir={notebook_dir}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=shutil.which("chromium"),
                                  args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            pg = b.new_page(viewport={"width": 1400, "height": 1000})
            for _ in range(120):
                try:
                    pg.goto(f"http://127.0.0.1:{port}/lab/tree/{chapter}.ipynb")
                    break
                except Exception:
                    time.sleep(1)
            pg.wait_for_selector(".jp-Notebook", timeout=120000)
            pg.wait_for_timeout(3000)
            pg.click("text=Run", timeout=10000)
            pg.click("text=Run All Cells", timeout=10000)
            pg.wait_for_selector(".widget-output img", timeout=300000)
            pg.wait_for_timeout(2000)
            before = pg.locator(".widget-output img").first.get_attribute("src")
            slider = pg.locator(".widget-hslider").first
            slider.locator("[role=slider], .noUi-handle").first.focus()
            pg.keyboard.press("ArrowRight")
            pg.keyboard.press("ArrowRight")
            pg.wait_for_timeout(8000)
            after = pg.locator(".widget-output img").first.get_attribute("src")
            readout = slider.locator(".widget-readout").inner_text()
            changed = before != after
            print(f"{chapter}: first slider now reads {readout!r}; widget picture changed: {changed}")
            b.close()
            return 0 if changed else 1
    finally:
        lab.terminate()
        lab.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
