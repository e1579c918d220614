"""Authoring helpers for the book's notebooks (not part of the book or of lib).

A chapter is authored as a list of cells and written as .ipynb with
``write_notebook``; ``make execute NB=...`` then runs it in place so that its
outputs are stored. Cells are plain strings: a string starting with "%md\\n" is
Markdown, anything else is code. Tags go in a leading comment line
``# tags: remove-input, remove-output``.
"""
from __future__ import annotations

import sys

import nbformat


def _cell(src: str):
    if src.startswith("%md\n"):
        return nbformat.v4.new_markdown_cell(src[4:].strip("\n"))
    lines = src.strip("\n").split("\n")
    tags = []
    if lines and lines[0].startswith("# tags:"):
        tags = [t.strip() for t in lines[0][len("# tags:"):].split(",") if t.strip()]
        lines = lines[1:]
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    if tags:
        cell.metadata["tags"] = tags
    return cell


def write_notebook(path: str, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [_cell(c) for c in cells]
    # Stable cell ids keep diffs of re-executed notebooks small.
    for k, c in enumerate(nb.cells):
        c["id"] = f"c{k:03d}"
    nbformat.write(nb, path)


if __name__ == "__main__":
    sys.exit("import write_notebook from this module")
