"""Screenshots of built pages at desktop and phone widths, with the console's messages.

Usage: python tools/shoot.py [page ...]   (default: every page of _toc.yml)
Serves _build/html on localhost, opens each page in headless Chromium at 1280 and
390 px, and writes _build/screenshots/<page>-<width>.png (full page).

Explore figures draw their Vega chart only when they come near the viewport (until
then they show their fallback text), so each one is scrolled into view and its chart
awaited before the shot, as tests/test_book_pages.py does. A full-page shot resizes the
window (to 1 x 1 px and back) while it captures; a chart sized to its container (Vega
watches it with a ResizeObserver) would redraw at a passing width and keep it (drawn
shrunk, with tiny text), so each chart's box is held at its width during the shot.
"""
from __future__ import annotations

import functools
import http.server
import re
import shutil
import sys
import threading
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync"]


# Each Explore chart's box held at its current width in px, and released.
HOLD_WIDTH_JS = """() => document.querySelectorAll('figure.linres-explore .linres-explore-plot')
  .forEach(e => { e.style.width = e.getBoundingClientRect().width + 'px'; })"""
RELEASE_WIDTH_JS = """() => document.querySelectorAll('figure.linres-explore .linres-explore-plot')
  .forEach(e => { e.style.width = ''; })"""
# Explore charts whose drawing is not as wide as their box (1 px of rounding allowed).
RESIZED_JS = """() => Array.from(document.querySelectorAll('figure.linres-explore svg'))
  .map((s, k) => [k + 1, Math.round(s.getBoundingClientRect().width), Number(s.getAttribute('width'))])
  .filter(([k, box, drawn]) => Math.abs(box - drawn) > 1)"""


def _draw_explore(page, msgs: list[str], timeout: float = 60000) -> int:
    """Scroll every Explore figure into view and wait until its chart has drawn its lines,
    then scroll back to the top; a chart that does not draw is reported in ``msgs``.
    Returns the number of Explore figures."""
    figs = page.locator("figure.linres-explore")
    n = figs.count()
    for k in range(n):
        fig = figs.nth(k)
        fig.scroll_into_view_if_needed()
        try:
            fig.locator("svg .mark-line").first.wait_for(state="attached", timeout=timeout)
        except PlaywrightTimeout:
            msgs.append(f"shoot: Explore figure {k + 1} drew no chart within {timeout / 1000:.0f} s")
    if n:
        page.evaluate("() => window.scrollTo(0, 0)")
    return n


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main(pages: list[str]) -> None:
    if not pages:
        toc = (ROOT / "_toc.yml").read_text()
        pages = re.findall(r"^\s*(?:root|-\s*file):\s*(\S+)", toc, flags=re.M)
    SHOTS.mkdir(parents=True, exist_ok=True)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(HTML)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
        for name in pages:
            for width, height in ((1280, 800), (390, 844)):
                ctx = b.new_context(viewport={"width": width, "height": height})
                page = ctx.new_page()
                msgs = []
                page.on("console", lambda m: msgs.append(f"{m.type}: {m.text}"))
                page.on("pageerror", lambda e: msgs.append(f"pageerror: {e}"))
                page.goto(f"{base}/{name}.html", wait_until="networkidle", timeout=180000)
                n_explore = _draw_explore(page, msgs)
                page.wait_for_timeout(1500)
                out = SHOTS / f"{name.replace('/', '_')}-{width}.png"
                if n_explore:
                    page.evaluate(HOLD_WIDTH_JS)
                page.screenshot(path=str(out), full_page=True)
                if n_explore:
                    page.evaluate(RELEASE_WIDTH_JS)
                    for k, box, drawn in page.evaluate(RESIZED_JS):
                        msgs.append(f"shoot: Explore figure {k} drawn {drawn} px wide in a {box} px box")
                print(out, *msgs, sep="\n  ")
                ctx.close()
        b.close()
    httpd.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
