"""Write a copy of _config.yml that builds from the notebooks' stored outputs.

``make test`` re-runs the notebooks with nbval, then builds the pages from the
outputs committed in the notebooks, so nothing executes twice.
"""
import os
import sys

import yaml

src, dst = sys.argv[1:3]
cfg = yaml.safe_load(open(src))
cfg.setdefault("execute", {})["execute_notebooks"] = "off"
# Local extension folders are relative to the config file: make them absolute.
root = os.path.dirname(os.path.abspath(src))
local = cfg.get("sphinx", {}).get("local_extensions") or {}
for name, path in local.items():
    local[name] = os.path.join(root, path)
with open(dst, "w") as f:
    yaml.safe_dump(cfg, f, sort_keys=False)
