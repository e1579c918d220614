"""Print the notebooks listed in _toc.yml, in order (used by the Makefile)."""
import pathlib
import re

toc = pathlib.Path(__file__).resolve().parent.parent / "_toc.yml"
# A tiny reader, so that it runs before the venv (and PyYAML) exist.
files = re.findall(r"^\s*(?:root|-\s*file):\s*(\S+)", toc.read_text(), flags=re.M)
root = toc.parent
print(" ".join(f + ".ipynb" for f in files if (root / (f + ".ipynb")).exists()))
