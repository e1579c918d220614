"""Local Sphinx extension of the book.

- Loads the vendored Vega bundle only on pages that hold an Explore figure.
- Drops sphinx-thebe's scripts: no page has a launch button that uses them, and the
  extension inlines its loader twice (a console error on every page).
"""
from __future__ import annotations

VEGA = ["vega/vega.min.js", "vega/vega-lite.min.js", "vega/vega-embed.min.js", "vega/linres-explore.js"]


def _page(app, pagename, templatename, context, doctree):
    body = context.get("body", "")
    if "linres-explore" in body:
        for k, path in enumerate(VEGA):
            app.add_js_file(path, priority=900 + k)
    scripts = context.get("script_files")
    if scripts is not None:
        context["script_files"] = [s for s in scripts if not _is_thebe(s)]
    css = context.get("css_files")
    if css is not None:
        context["css_files"] = [s for s in css if "thebe" not in str(s)]


def _is_thebe(script) -> bool:
    body = getattr(script, "attributes", {}).get("body", "") or ""
    return "thebe" in str(script) or "THEBE" in body


def setup(app):
    app.connect("html-page-context", _page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
