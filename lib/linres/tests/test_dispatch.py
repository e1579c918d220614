"""The backend setting read at import (LINRES_BACKEND)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LIB = str(Path(__file__).resolve().parents[2])


@pytest.mark.parametrize("value,ok", [("numpy", True), (" NumPy ", True), ("", True), ("fortran", False)])
def test_linres_backend_is_checked_at_import(value, ok):
    env = dict(os.environ, PYTHONPATH=LIB, LINRES_BACKEND=value)
    p = subprocess.run([sys.executable, "-c", "from linres.engine import dispatch; print(dispatch.get_backend())"],
                       env=env, capture_output=True, text=True)
    if ok:
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == (value.strip().lower() or "auto")
    else:
        assert p.returncode != 0 and "LINRES_BACKEND must be one of" in p.stderr
