"""The ahead-of-time warm-up of numba's cache (linres.engine.warm): what it compiles is what a
later call loads, its entries agree with the dispatcher, and it is harmless where it cannot work."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from linres.engine import dispatch, warm

LIB = str(Path(__file__).resolve().parents[2])
JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") in ("", "0") and dispatch.numba_available()


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=LIB, OPENBLAS_NUM_THREADS="1")
    env.update(extra)
    return env


_LATER_CALL = """
import json, numpy as np, linres
from linres.engine import compiled_module
# another batch size than the warm-up's, a read-only (broadcast) target, an array of step sizes
T = np.broadcast_to(1.2 * np.eye(2), (3, 5, 2, 2))
res = linres.run(linres.gd(np.full((3, 5), 0.01)), linres.identity_layers(4, 2, batch=(3, 5)), T, max_steps=50)
f = compiled_module().gd_chunk_lanes
print(json.dumps({"hits": sum(f.stats.cache_hits.values()), "misses": sum(f.stats.cache_misses.values()),
                  "status": sorted(set(res.status.ravel().tolist()))}))
"""


@pytest.mark.skipif(not JIT, reason="needs numba's JIT")
def test_a_later_process_loads_what_the_warm_up_compiled(tmp_path):
    env = _env(NUMBA_CACHE_DIR=str(tmp_path))
    subprocess.run([sys.executable, "-m", "linres.engine.warm", "--only", "gd_lanes:2", "--jobs", "1", "--strict"],
                   env=env, check=True, capture_output=True, text=True)
    sigs = warm.cached_specialisations(tmp_path)
    assert list(sigs) == ["compiled.gd_chunk_lanes"] and len(sigs["compiled.gd_chunk_lanes"]) == 1
    assert "UniTuple(int64, 2)" in sigs["compiled.gd_chunk_lanes"][0]
    out = subprocess.run([sys.executable, "-c", _LATER_CALL], env=env, check=True, capture_output=True, text=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["misses"] == 0 and got["hits"] == 1, got
    assert got["status"] == ["max_steps"]
    # a second warm-up compiles nothing
    again = subprocess.run([sys.executable, "-m", "linres.engine.warm", "--only", "gd_lanes:2", "--group",
                            "lanes"], env=env, check=True, capture_output=True, text=True)
    assert "0 compiled, 1 already cached, 0 failed" in again.stdout


def test_every_entry_is_planned_as_its_kind():
    # each entry validates its call against the dispatcher's thresholds before running it
    old = dispatch.set_backend("numpy")  # run the calls on the reference loop: cheap, nothing compiled
    try:
        for kind, value in warm.entries():
            warm._call(kind, value)
        for kind, value in [("gd_loops", 9), ("gd_loops", 12), ("gd_runtime_d", 4), ("gd_lanes", 12),
                            ("scalar_unrolled", dispatch.UNROLL_MAX_L + 1), ("scalar_unrolled", 0),
                            ("scalar_bits", 4), ("gd", 2)]:
            with pytest.raises(ValueError):
                warm._call(kind, value)
    finally:
        dispatch.set_backend(old)


def test_entries_cover_each_kernel_once_per_value():
    pairs = warm.entries()
    assert len(pairs) == len(set(pairs))
    assert {warm.KERNEL_OF[k] for k, _ in pairs} == {"gd_chunk", "gd_chunk_lanes", "scalar_chunk"}
    # the groups split the kinds, and no kernel function is compiled by both processes
    kinds = [k for g in warm.GROUPS.values() for k in g]
    assert sorted(kinds) == sorted(k for k, _ in warm.WARM_UP)
    owners = {warm.KERNEL_OF[k]: g for g, ks in warm.GROUPS.items() for k in ks}
    assert len(owners) == 3 and len(set(owners.values())) == 2 and len(warm.GROUPS) == 2
    for g, ks in warm.GROUPS.items():
        assert all(owners[warm.KERNEL_OF[k]] == g for k in ks)
    # scalar_bits values are bit lengths of L − 1 beyond the unrolled depths
    assert all((2 ** (v - 1)).bit_length() == v and 2 ** (v - 1) + 1 > dispatch.UNROLL_MAX_L
               for _, v in warm.entries(["scalar_bits"]))
    assert warm.entries(["gd_lanes"], only=[("gd_lanes", 7), ("scalar_bits", 5), ("gd_lanes", 7)]) == [("gd_lanes", 7)]


def test_parse_only():
    assert warm.parse_only("gd_lanes:2, scalar_unrolled:3,") == [("gd_lanes", 2), ("scalar_unrolled", 3)]
    for bad in ("gd_lanes", "gd_lanes:x", "nope:2", "gd_lanes:-1"):
        with pytest.raises(ValueError, match="kind:value"):
            warm.parse_only(bad)


def test_nothing_is_done_without_the_jit(monkeypatch, capsys):
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    assert warm.warm() == {"compiled": 0, "loaded": 0, "failed": 0, "skipped": "NUMBA_DISABLE_JIT is set"}
    assert warm.main([]) == 0
    assert "nothing to compile" in capsys.readouterr().out
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "0")
    monkeypatch.setattr(dispatch, "_numba_ok", False)
    assert warm.warm()["skipped"] == "numba cannot be imported"
    assert warm.main(["--strict"]) == 0


def _fake_calls(monkeypatch, bad_value, exc):
    """Replace the compiling call by a recorder that raises ``exc`` for ``bad_value``."""
    monkeypatch.setattr(warm, "_why_not", lambda: None)
    seen = []

    def fake_call(kind, value):
        seen.append((kind, value))
        if value == bad_value:
            raise exc

    monkeypatch.setattr(warm, "_call", fake_call)
    return seen


def test_a_failed_entry_is_reported_and_skipped(monkeypatch):
    seen = _fake_calls(monkeypatch, 3, RuntimeError("no luck"))
    lines = []

    class Out:
        def write(self, s):
            lines.append(s)

    only = [("gd_lanes", 2), ("gd_lanes", 3), ("scalar_unrolled", 2)]
    backend = dispatch.get_backend()
    got = warm.warm(only=only, out=Out())
    assert dispatch.get_backend() == backend  # restored
    assert seen == only
    assert got["failed"] == 1 and got["compiled"] + got["loaded"] == 2 and got["skipped"] is None
    assert "gd_lanes 3 failed (RuntimeError: no luck)" in "".join(lines)
    with pytest.raises(RuntimeError, match="no luck"):
        warm.warm(only=only, strict=True)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_main_runs_each_group_in_its_own_process(monkeypatch, capfd, jobs):
    # the parent plans the groups; the children (JIT disabled here, so cheap) each report
    monkeypatch.setattr(warm, "_why_not", lambda: None)
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    monkeypatch.setenv("PYTHONPATH", LIB)
    assert warm.main(["--jobs", jobs, "--only", "gd_lanes:2,gd_loops:2"]) == 0
    out = capfd.readouterr().out
    assert out.count("nothing to compile") == 2
    assert "2 kernel specialisations in numba's cache" in out
    assert ("2 processes" in out) == (jobs == "2")


def test_group_mode_and_list(monkeypatch, capsys):
    calls = _fake_calls(monkeypatch, 5, ValueError("bad"))
    assert warm.main(["--group", "matrix", "--only", "gd_loops:2,scalar_bits:5"]) == 0
    assert calls == [("gd_loops", 2)]  # only the group's kinds
    assert "[matrix]: " in capsys.readouterr().out
    assert warm.main(["--group", "matrix", "--only", "gd_loops:5"]) == 0  # reported, not fatal
    assert "1 failed" in capsys.readouterr().out
    with pytest.raises(ValueError, match="bad"):
        warm.main(["--group", "matrix", "--only", "gd_loops:5", "--strict"])
    assert warm.main(["--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(warm.entries())
    assert listed[0].split("\t") == ["matrix", "gd_chunk", "gd_loops", "2"]


def test_cached_specialisations_reads_an_index(tmp_path):
    d = tmp_path / "engine_x"
    d.mkdir()
    with open(d / "compiled.gd_chunk-394.py311.nbi", "wb") as f:
        pickle.dump("0.68.1", f)
        f.write(pickle.dumps(((1.0, 2), {("sig-a", "magic"): "a.nbc", ("sig-b", "magic"): "b.nbc"})))
    assert warm.cached_specialisations(tmp_path) == {"compiled.gd_chunk": ["sig-a", "sig-b"]}
    assert warm.cached_specialisations(tmp_path / "nothing") == {}


def test_kernels_get_read_only_inputs():
    # one specialisation whatever the writeable flags of the caller's target and step sizes
    a = np.arange(4.0)
    v = dispatch._frozen(a)
    assert not v.flags.writeable and a.flags.writeable and np.shares_memory(a, v)
