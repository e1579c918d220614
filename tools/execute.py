"""Execute notebooks in place, storing their outputs (``make execute``).

Usage: python tools/execute.py book/model.ipynb [more.ipynb ...]
Runs each notebook top to bottom in a fresh kernel from the notebook's folder,
as nbval and the book build do, and writes the outputs back.
"""
from __future__ import annotations

import os
import sys
import time

import nbformat
from nbclient import NotebookClient


def main(paths: list[str]) -> None:
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}}).execute()
        # Live-widget state is useless on the static page and bloats diffs.
        nb.metadata.pop("widgets", None)
        nbformat.write(nb, path)
        print(f"{path}: executed in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
