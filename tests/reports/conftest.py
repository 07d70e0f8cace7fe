"""Helpers for the report/scenario framework tests (no root, no lab needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: the real scenario conftest: a hook added there is exercised here too
CONFTEST = (ROOT / "scenarios" / "conftest.py").read_text()


@pytest.fixture
def scenario_dir(tmp_path: Path):
    """A throw-away scenarios directory wired to reports.plugin.

    Scope: function. Yields: ``(write, run, out)`` — ``write(name, text)`` adds a
    module, ``run(*args)`` runs pytest there (returns CompletedProcess), ``out``
    is the report output directory.
    """
    sdir = tmp_path / "scn"
    sdir.mkdir()
    (sdir / "conftest.py").write_text(CONFTEST)
    out = tmp_path / "out"

    def write(name: str, text: str) -> Path:
        p = sdir / name
        p.write_text(text)
        return p

    def run(*args: str, run_id: str = "") -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LAB_REPORT_OUT": str(out),
               "LAB_REPORT_RUN": run_id}
        env.pop("PYTEST_XDIST_WORKER", None)
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider",
             "--rootdir", str(sdir), "-q", str(sdir), *args],
            capture_output=True, text=True, env=env, cwd=sdir, timeout=120)

    yield write, run, out
