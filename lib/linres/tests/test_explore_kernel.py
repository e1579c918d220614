"""Each chapter's live Explore widget, driven in a real Jupyter kernel as JupyterLab would
run it: every control set to its extreme values, and after each move the kernel must
publish a new figure, raise no error, and draw data that changed."""
from __future__ import annotations

import json
import os

import pytest

from linres import explore

pytest.importorskip("ipykernel")
from jupyter_client.manager import start_new_kernel  # noqa: E402


@pytest.fixture(scope="module")
def kernel():
    env = dict(os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline")
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _execute(kc, code: str) -> dict:
    """Run ``code``; return the figures it displayed, its errors and its last printed line."""
    msg_id = kc.execute(code)
    got = {"figures": 0, "errors": [], "stdout": ""}
    while True:
        msg = kc.get_iopub_msg(timeout=300)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "display_data" and "image/png" in content["data"]:
            got["figures"] += 1
        elif kind == "error":
            got["errors"].append(f"{content['ename']}: {content['evalue']}")
        elif kind == "stream":
            if content["name"] == "stderr":
                got["errors"].append(content["text"])
            else:
                got["stdout"] += content["text"]
        elif kind == "status" and content["execution_state"] == "idle":
            return got


SIGNATURE = """
import numpy as _np
def _signature(frame):
    return _np.round(_np.concatenate([_np.r_[s.x, s.y] for s in frame.series]), 12).tolist()
"""


@pytest.mark.parametrize("name", explore.CHAPTERS)
def test_chapter_widget_in_a_kernel(kernel, name):
    first = _execute(kernel, f"import linres.explore as E\n{SIGNATURE}\n"
                             f"box = E.live(E.chapter({name!r}))\nprint(_signature(box.frame) is not None)")
    assert not first["errors"] and first["figures"] == 1, first
    for c in explore.chapter(name).controls:
        for v in (c.values[-1], c.values[0]):
            code = (f"_old, _was = _signature(box.frame), box.controls[{c.name!r}].value\n"
                    f"box.controls[{c.name!r}].value = {v!r}\n"
                    f"print(__import__('json').dumps([_was == {v!r}, _signature(box.frame) != _old]))")
            got = _execute(kernel, code)
            assert not got["errors"], f"{name}: {c.name} = {v}: {got['errors']}"
            unchanged_value, data_changed = json.loads(got["stdout"].strip().splitlines()[-1])
            if not unchanged_value:
                assert got["figures"] == 1, f"{name}: {c.name} = {v} published {got['figures']} figures"
                assert data_changed, f"{name}: moving {c.name} to {v} did not change the data"
        _execute(kernel, f"box.controls[{c.name!r}].value = {c.default!r}")
