"""Every built page of the book in headless Chromium, offline, at two widths.

For each page of _toc.yml (built into _build/html by `make book` or `make test`), at
1280×800 (desktop) and 390×844 (phone):

- the console shows no error and no warning, and no request fails or leaves 127.0.0.1;
- every formula is typeset by the vendored MathJax and none is clipped (a formula
  wider than its box must sit in a box that scrolls);
- every image has loaded and has an alt text that describes it (not a file path);
- axe-core (vendored in tests/vendor, injected by this test only) reports no critical
  or serious violation.

At desktop width also: every notebook figure is shown at ≥ 90 % of its designed size;
code and raw text output take ≤ 20 % of the article's height; every control of every
Explore figure is moved through all its values, each move shows the chosen value,
and the control changes the plotted data; the page's HTML is ≤ 400 KB and opening it loads
≤ 5 MB (the Vega bundle comes later, when the reader reaches the Explore figure). Screenshots land in _build/screenshots/ for a person to look at.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
MAX_HTML = 400_000
MAX_LOADED = 5_000_000
MIN_FIGURE_SCALE = 0.9
MAX_CODE_SHARE = 0.20


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


# Each page opens in the tab that showed the previous page of its width, rather than in a
# new browser context: a tab that stays in one renderer process opens the next page in
# about half the CPU time (the scripts it ran before are compiled already). What a new
# context gives a page, the tab gives it too: the HTTP cache is off, so every file is
# fetched again and seen (requests, failures, bytes) as on a first visit, and the
# site's storage is empty when the page starts (the theme keeps its mode and its
# sidebar's scroll position there).
START_EMPTY_JS = "if (window === window.top) { try { localStorage.clear(); sessionStorage.clear(); } catch (e) {} }"


@pytest.fixture(scope="session")
def tabs(browser):
    opened = {}  # width -> (page, its DevTools session, which keeps the cache off)

    def tab(width: str):
        if width not in opened or opened[width][0].is_closed():
            w, h = WIDTHS[width]
            ctx = browser.new_context(viewport={"width": w, "height": h})
            ctx.add_init_script(START_EMPTY_JS)
            page = ctx.new_page()
            devtools = ctx.new_cdp_session(page)
            devtools.send("Network.enable")
            devtools.send("Network.setCacheDisabled", {"cacheDisabled": True})
            # Nothing may be fetched from outside the machine: abort such requests outright.
            page.route(re.compile(r"^(?!http://127\.0\.0\.1).*"), lambda route: route.abort()
                       if not route.request.url.startswith(("data:", "blob:")) else route.continue_())
            opened[width] = (page, devtools)
        return opened[width][0]

    yield tab
    for page, _ in opened.values():
        page.context.close()


@pytest.fixture
def tab(request, tabs):
    """The tab for this test's width, and ``listen(event, handler)``; afterwards the
    handlers are removed and the tab is left on a blank page."""
    page = tabs(request.node.callspec.params["width"])
    handlers = []

    def listen(event, handler):
        page.on(event, handler)
        handlers.append((event, handler))

    yield page, listen
    for event, handler in handlers:
        page.remove_listener(event, handler)
    try:
        page.goto("about:blank")
    except Exception:  # a crashed tab: the next test gets a new one
        page.context.close()


# A formula is clipped when its rendered math extends past the nearest ancestor that
# hides overflow (or past the viewport when nothing does); a scrolling box is fine.
CLIPPED_JS = """() => {
  const out = [];
  for (const c of document.querySelectorAll('mjx-container')) {
    const m = c.querySelector('mjx-math') || c;
    const r = m.getBoundingClientRect();
    if (r.width === 0) continue;
    let a = c, box = null, mode = 'visible';
    while ((a = a.parentElement)) {
      const ox = getComputedStyle(a).overflowX;
      if (ox !== 'visible') { box = a.getBoundingClientRect(); mode = ox; break; }
    }
    const own = getComputedStyle(c).overflowX;
    if (own === 'auto' || own === 'scroll') continue;
    if (mode === 'auto' || mode === 'scroll') continue;
    const right = box ? box.right : document.documentElement.clientWidth;
    const left = box ? box.left : 0;
    const cut = Math.max(r.right - right, left - r.left);
    if (cut > 1) out.push(`${Math.round(cut)} px: ${(c.textContent || '').slice(0, 60)}`);
  }
  return out;
}"""

IMAGES_JS = """() => Array.from(document.querySelectorAll('article img')).map(i => ({
  src: i.getAttribute('src') || '', alt: i.getAttribute('alt') || '',
  loaded: i.complete && i.naturalWidth > 0,
  designed: i.getAttribute('width') ? parseFloat(i.getAttribute('width'))
          : (i.style.width && i.style.width.endsWith('px') ? parseFloat(i.style.width) : null),
  shown: i.getBoundingClientRect().width,
  notebook: !!i.closest('.cell_output'),
}))"""

# Share of the article's height taken by code that is not collapsed and by raw text output.
CODE_SHARE_JS = """() => {
  const art = document.querySelector('article.bd-article') || document.body;
  let h = 0;
  const blocks = art.querySelectorAll('.cell_input, .cell_output .output.text_plain, .cell_output .output.stream, .cell_output .output.traceback');
  for (const e of blocks) {
    if (e.closest('details:not([open])')) continue;
    h += e.getBoundingClientRect().height;
  }
  return {code: h, total: art.getBoundingClientRect().height};
}"""

# After a move: the plotted data, and the value the control shows. One round trip, as
# each call into the page costs about as much CPU as the redraw itself.
AFTER_MOVE_JS = """([fig, ctl]) => {
  const sel = ctl.querySelector('select');
  return {
    lines: Array.from(fig.querySelectorAll('svg .mark-line path, svg .mark-symbol path'))
      .map(p => p.getAttribute('d') || '').join('|'),
    shown: sel ? sel.options[sel.selectedIndex].text : ctl.querySelector('input[type=range] + span').innerText,
  };
}"""


def _local_bytes(urls: set[str], server: str) -> int:
    total = 0
    for u in urls:
        if not u.startswith(server):
            continue
        path = HTML / unquote(urlparse(u).path).lstrip("/")
        if path.is_dir():
            path = path / "index.html"
        if path.exists():
            total += path.stat().st_size
    return total


def _move_explore_controls(page, fig, k: int) -> list[str]:
    """Move every control of Explore figure ``k`` through all its values."""
    problems = []
    controls = fig.locator(".vega-bind")
    n = controls.count()
    if n == 0:
        return [f"Explore figure {k}: no controls"]
    fig_handle = fig.element_handle()
    for c in range(n):
        ctl = controls.nth(c)
        name = ctl.locator(".vega-bind-name").inner_text().strip()
        sel, rng = ctl.locator("select"), ctl.locator("input[type=range]")
        is_select = sel.count() > 0
        if is_select:
            values = [(v or str(i), t.strip()) for i, (v, t) in enumerate(sel.evaluate(
                "s => Array.from(s.options, o => [o.getAttribute('value'), o.innerText])"))]
        elif rng.count():
            lo, hi, step = (float(rng.get_attribute(a)) for a in ("min", "max", "step"))
            count = int(round((hi - lo) / step)) + 1
            values = [(repr(lo + i * step), None) for i in range(count)]
        else:
            problems.append(f"Explore {k}, control {name!r}: neither a select nor a range input")
            continue
        if len(values) < 2:
            continue
        # start from the last value, so that the first move is a change
        order = values[::-1]
        # Every move must show its value; the control must change the plotted data
        # (a frame may equal its neighbour where the science says so: a plateau that
        # does not depend on the step size stays put as the step moves).
        states = set()
        ctl_handle = ctl.element_handle()
        for value, label in [order[0]] + order[1:] + [order[0]]:
            if is_select:
                sel.select_option(value=value)
            else:
                rng.evaluate("(e, v) => { e.value = v; e.dispatchEvent(new Event('input', {bubbles: true})); }", value)
            page.wait_for_timeout(60)
            after = page.evaluate(AFTER_MOVE_JS, [fig_handle, ctl_handle])
            states.add(after["lines"])
            shown = after["shown"].strip()
            if is_select:
                if shown != label:
                    problems.append(f"Explore {k}, control {name!r}: shows {shown!r}, expected {label!r}")
            else:
                if not shown or abs(float(shown) - float(value)) > 1e-9 * max(1.0, abs(float(value))):
                    problems.append(f"Explore {k}, control {name!r}: shows {shown!r}, expected {value}")
        if len(states) < 2:
            problems.append(f"Explore {k}, control {name!r}: no value changed the plotted data")
    return problems


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("page_name", _pages())
def test_page(page_name, width, server, tab):
    url = f"{server}/{page_name}.html"
    html_file = HTML / f"{page_name}.html"
    source = html_file.read_text()
    w, h = WIDTHS[width]
    page, listen = tab
    problems: list[str] = []
    outside: list[str] = []
    requested: set[str] = set()

    def on_console(msg):
        if msg.type in ("error", "warning"):
            problems.append(f"console {msg.type}: {msg.text}")

    def on_request(req):
        requested.add(req.url)
        if not req.url.startswith((server, "data:", "blob:", "about:")):
            outside.append(req.url)

    listen("console", on_console)
    listen("pageerror", lambda err: problems.append(f"page error: {err}"))
    listen("request", on_request)
    listen("requestfailed", lambda req: problems.append(f"request failed: {req.url}"))
    listen("response", lambda resp: resp.status >= 400 and problems.append(f"HTTP {resp.status}: {resp.url}"))
    page.goto(url, wait_until="load")

    if 'class="math' in source:
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
        raw = page.evaluate(
            "() => Array.from(document.querySelectorAll('.math')).filter(e => !e.querySelector('mjx-container')).length")
        assert raw == 0, f"{raw} formulas left as raw TeX"
    page.wait_for_load_state("networkidle")
    n_explore = page.locator("figure.linres-explore").count()
    initial = _local_bytes(requested, server)  # what opening the page costs
    if n_explore:
        for k in range(n_explore):
            page.locator("figure.linres-explore").nth(k).scroll_into_view_if_needed()
        page.wait_for_function(
            "(n) => document.querySelectorAll('figure.linres-explore svg .mark-line').length >= n", arg=n_explore)
    page.wait_for_timeout(300)
    if n_explore:  # the chart (legend and axis labels included) fits its figure's width
        over = page.evaluate("""() => Array.from(document.querySelectorAll('figure.linres-explore svg'))
          .map(s => { const r = s.getBoundingClientRect();
                      const parts = Array.from(s.querySelectorAll('g.role-legend, g.role-axis'))
                        .map(g => g.getBoundingClientRect());
                      return Math.round(Math.max(0, ...parts.map(p => Math.max(p.right - r.right, r.left - p.left)))); })""")
        assert all(o <= 1 for o in over), f"Explore chart wider than its figure by {over} px at {w} px"

    # MathJax marks a formula it cannot parse with a red-on-yellow mjx-merror
    errors = page.evaluate("() => Array.from(document.querySelectorAll('mjx-merror'))"
                           ".map(e => (e.closest('dd,p,li,div') || e).textContent.slice(0, 80))")
    assert not errors, f"formulas MathJax could not parse: {errors}"

    sideways = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert sideways <= 1, f"the page scrolls sideways by {sideways} px at {w} px"

    clipped = page.evaluate(CLIPPED_JS)
    assert not clipped, f"{len(clipped)} clipped formulas at {w} px: {clipped[:5]}"

    images = page.evaluate(IMAGES_JS)
    bad = [i["src"][-50:] for i in images if not i["loaded"]]
    assert not bad, f"images that did not load: {bad}"
    bad = [i["src"][-50:] for i in images
           if not i["alt"].strip() or "_images" in i["alt"]
           or re.fullmatch(r"\S*(/|\.(png|jpe?g|svg|gif))\S*", i["alt"].strip())]
    assert not bad, f"images whose alt text is missing or a file path: {bad}"

    page.add_script_tag(path=str(AXE))
    # preload: false keeps axe from re-fetching @import-ed stylesheets from a wrong base URL
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations'], preload: false})")
    serious = [f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])}: "
               f"{v['nodes'][0]['target'] if v['nodes'] else ''})"
               for v in result["violations"] if v["impact"] in ("critical", "serious")]
    assert not serious, "axe-core: " + "; ".join(serious)

    if width == "desktop":
        small = [f"{i['src'][-30:]}: {i['shown']:.0f} of {i['designed']:.0f} px" for i in images
                 if i["notebook"] and (i["designed"] is None or i["shown"] < MIN_FIGURE_SCALE * i["designed"])]
        assert not small, f"notebook figures without a designed size or shown below 90 %: {small}"
        share = page.evaluate(CODE_SHARE_JS)
        assert share["code"] <= MAX_CODE_SHARE * share["total"], (
            f"code and raw output take {share['code'] / share['total']:.0%} of the page (max 20 %)")
        for k in range(n_explore):
            problems += _move_explore_controls(page, page.locator("figure.linres-explore").nth(k), k)
        assert html_file.stat().st_size <= MAX_HTML, f"page HTML is {html_file.stat().st_size:,} bytes"
        assert initial <= MAX_LOADED, f"opening the page loads {initial:,} bytes"

    if os.environ.get("LINRES_SHOTS"):  # full-page screenshots for a reviewer (slow on long pages)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{page_name.replace('/', '_')}-{w}.png"), full_page=True)
    assert not outside, f"requests to outside the machine: {outside[:5]}"
    assert not problems, "\n".join(problems[:20])
