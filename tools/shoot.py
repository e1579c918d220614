"""Screenshots of built pages at desktop and phone widths, with the console's messages.

Usage: python tools/shoot.py [page ...]   (default: every page of _toc.yml)
Serves _build/html on localhost, opens each page in headless Chromium at 1280 and
390 px, and writes _build/screenshots/<page>-<width>.png (full page).
"""
from __future__ import annotations

import functools
import http.server
import re
import shutil
import sys
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync"]


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
                page.wait_for_timeout(1500)
                out = SHOTS / f"{name.replace('/', '_')}-{width}.png"
                page.screenshot(path=str(out), full_page=True)
                print(out, *msgs, sep="\n  ")
                ctx.close()
        b.close()
    httpd.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
