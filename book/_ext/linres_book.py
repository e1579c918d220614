"""Local Sphinx extension of the book.

- Loads the vendored Vega bundle only on pages that hold an Explore figure, and there
  only when the figure comes near the screen.
- One citation style: the reference list is labelled "Author et al., Year", as the
  citations in the text are (pybtex style ``authoryear``, sorted by author and year),
  and each entry links its arXiv preprint or DOI.
- One proof mechanism: a ``{prf:proof}`` with ``:class: dropdown`` gets a "Proof" title,
  which sphinx-togglebutton turns into the collapsible header (sphinx-proof gives
  proofs no title, and the toggle needs one).
- Gives the reference list valid list semantics for assistive technology.
- Names the sidebar's expand/collapse toggles (the theme renders them as a bare icon,
  which screen readers announce as an unnamed button; axe: summary-name).
- Drops sphinx-thebe's scripts: no page has a launch button that uses them, and the
  extension inlines its loader twice (a console error on every page).
"""
from __future__ import annotations

import re

from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as _Unsrt
from pybtex.style.labels import BaseLabelStyle

# The loader fetches vega, vega-lite and vega-embed (beside it) when a figure nears the screen.
VEGA = ["vega/linres-explore.js"]


def _names(entry) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    last = [" ".join(p.last_names) for p in people]
    if len(last) >= 3:
        return f"{last[0]} et al."
    return " and ".join(last) or entry.key


class AuthorYearLabels(BaseLabelStyle):
    """Labels like the author-year citations in the text: "Arora et al., 2019"."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        base = [f"{_names(e)}, {e.fields.get('year', 'n.d.')}" for e in entries]
        # Two works with the same label get a, b, … after the year, as in print.
        seen: dict[str, int] = {}
        for label in base:
            if base.count(label) > 1:
                seen[label] = seen.get(label, 0) + 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            else:
                yield label


class AuthorYearStyle(_Unsrt):
    default_label_style = AuthorYearLabels
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


def _page(app, pagename, templatename, context, doctree):
    body = context.get("body", "")
    if "doc-biblioentry" in body:
        context["body"] = body = body.replace('role="doc-biblioentry"', 'role="listitem"')
    if "linres-explore" in body:
        for k, path in enumerate(VEGA):
            app.add_js_file(path, priority=900 + k)
    scripts = context.get("script_files")
    if scripts is not None:
        context["script_files"] = [s for s in scripts if not _is_thebe(s)]
    css = context.get("css_files")
    if css is not None:
        context["css_files"] = [s for s in css if "thebe" not in str(s)]


_SUMMARY = re.compile(r"(<details[^>]*>\s*)<summary>")


def _named_toggles(app, pagename, templatename, context, doctree):
    make = context.get("generate_toctree_html")
    if make is None:
        return

    def named(*args, **kwargs):
        html = str(make(*args, **kwargs))
        return _SUMMARY.sub(r'\1<summary aria-label="Show or hide the sections">', html)

    context["generate_toctree_html"] = named


def _is_thebe(script) -> bool:
    body = getattr(script, "attributes", {}).get("body", "") or ""
    return "thebe" in str(script) or "THEBE" in body


def _proof_titles(app, doctree):
    for node in doctree.findall(nodes.admonition):
        classes = node.get("classes", [])
        if "proof" not in classes or (node.children and isinstance(node.children[0], nodes.title)):
            continue
        # sphinx-proof starts the first paragraph with "Proof. ": a folded proof says it
        # in its title; an open one sets it in italics, as a paper does.
        first = node.children[0] if node.children else None
        if isinstance(first, nodes.paragraph) and first.children and isinstance(first.children[0], nodes.Text):
            text = first.children[0]
            if text.astext().startswith("Proof. "):
                rest = nodes.Text(text.astext()[len("Proof. "):])
                if "dropdown" in classes:
                    first.replace(text, rest)
                else:
                    first.replace(text, rest)
                    first.insert(0, nodes.Text(" "))
                    first.insert(0, nodes.emphasis("", "Proof."))
        if "dropdown" in classes:
            node.insert(0, nodes.title("", "Proof"))


# Literals and math roles are left alone; *word* pairs are emphasis.
_KEEP = re.compile(r"(``.*?``|:math:`[^`]*`|:\w+:`[^`]*`|(?<!\w)\*[^*\s](?:[^*]*?[^*\s])?\*(?!\w))")


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*")


def _plain_docstring(app, what, name, obj, options, lines):
    """The docstrings are written as plain text with Unicode math (|z − φ|, z*): escape
    the two characters that reStructuredText would read as markup, outside literals,
    roles and *emphasis*."""
    for i, line in enumerate(lines):
        if line.lstrip().startswith((">>>", "...")) or set(line.strip()) <= set("-=~^"):
            continue
        parts = _KEEP.split(line)
        lines[i] = "".join(p if k % 2 else _escape(p) for k, p in enumerate(parts))


def setup(app):
    app.connect("autodoc-process-docstring", _plain_docstring)
    app.connect("doctree-read", _proof_titles)
    app.connect("html-page-context", _page)
    app.connect("html-page-context", _named_toggles, priority=900)  # after the theme's own
    return {"parallel_read_safe": True, "parallel_write_safe": True}
