"""Every built page of the book in headless Chromium, offline.

For each page of _toc.yml (built into _build/html by `make book` or `make test`):
math is typeset by the vendored MathJax, every image has loaded, every
precomputed slider changes its picture when moved, no request leaves the
machine, and the console shows no error beyond an exact allow-list.
Screenshots land in _build/screenshots/ for a person to look at.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
# Harmless messages of every Jupyter Book 1 page, matched exactly: the theme
# declares THEBE_JS_URL twice, and warns of an unset theme mode on a first visit.
ALLOWED_PAGE_ERRORS = {"Identifier 'THEBE_JS_URL' has already been declared"}
ALLOWED_CONSOLE = {"Got invalid theme mode: . Resetting to auto."}


def _pages() -> list[str]:
    toc = (ROOT / "_toc.yml").read_text()
    return re.findall(r"^\s*(?:root|-\s*file):\s*(\S+)", toc, flags=re.M)


@pytest.fixture(scope="session")
def server():
    if not (HTML / "index.html").exists():
        pytest.fail("no built book in _build/html: run `make book` or `make test-pages` first")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        msg = "NO CHROMIUM INSTALLED: the browser test of the book did not run (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.mark.parametrize("page_name", _pages())
def test_page(page_name, server, browser, tmp_path):
    url = f"{server}/{page_name}.html"
    source = (HTML / f"{page_name}.html").read_text()
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    page = ctx.new_page()
    problems: list[str] = []
    outside: list[str] = []

    def on_console(msg):
        favicon = (msg.location or {}).get("url", "").endswith("/favicon.ico")
        if msg.type == "error" and msg.text not in ALLOWED_CONSOLE and not favicon:
            problems.append(f"console: {msg.text}")

    def on_page_error(err):
        if str(err) not in ALLOWED_PAGE_ERRORS:
            problems.append(f"page error: {err}")

    def on_request(req):
        if not req.url.startswith((server, "data:", "blob:", "about:")):
            outside.append(req.url)

    def on_failed(req):
        if not req.url.endswith("/favicon.ico"):
            problems.append(f"request failed: {req.url}")

    def on_response(resp):
        if resp.status >= 400 and not resp.url.endswith("/favicon.ico"):
            problems.append(f"HTTP {resp.status}: {resp.url}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.on("request", on_request)
    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    # Nothing may be fetched from outside the machine: abort such requests outright.
    page.route(re.compile(r"^(?!http://127\.0\.0\.1).*"), lambda route: route.abort()
               if not route.request.url.startswith(("data:", "blob:")) else route.continue_())
    page.goto(url, wait_until="load")

    # Math: the vendored MathJax typesets every formula on the page.
    if 'class="math' in source:
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
        n_math = page.locator("mjx-container").count()
        assert n_math > 0, "math on the page was not typeset"
        raw = page.evaluate("() => Array.from(document.querySelectorAll('.math')).filter(e => !e.querySelector('mjx-container')).length")
        assert raw == 0, f"{raw} formulas left as raw TeX"

    # Images: every one has loaded.
    page.wait_for_load_state("networkidle")
    broken = page.evaluate(
        "() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80))"
    )
    assert not broken, f"images that did not load: {broken}"

    # Precomputed sliders: moving each range input changes the picture.
    sliders = page.locator("div.linres-slider")
    for k in range(sliders.count()):
        s = sliders.nth(k)
        img = s.locator("img.linres-frame")
        for r in range(s.locator("input.linres-range").count()):
            rng = s.locator("input.linres-range").nth(r)
            before = img.get_attribute("src")
            top = int(rng.get_attribute("max"))
            now = int(rng.input_value())
            new = 0 if now != 0 else top
            rng.evaluate("(e, v) => { e.value = v; e.dispatchEvent(new Event('input')); }", str(new))
            after = img.get_attribute("src")
            assert top == 0 or after != before, f"slider {k}, input {r}: the picture did not change"
            assert page.evaluate("(i) => i.complete && i.naturalWidth > 0", img.element_handle())

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / (page_name.replace("/", "_") + ".png")), full_page=True)
    ctx.close()
    assert not outside, f"requests to outside the machine: {outside[:5]}"
    assert not problems, "\n".join(problems)
