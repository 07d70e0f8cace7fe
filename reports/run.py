"""``./lab.sh conformance [pytest args]``: run every scenario, then build the report.

Runs pytest over ``scenarios/`` with xdist (``-n auto``) and JUnit XML into
``reports/out/``, then :func:`reports.build.build`. The report is written
whatever happened to the run (failures, crashes, a timeout); the exit status
is pytest's (non-zero when a scenario failed), or 3 when the build failed.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from reports.build import build
from reports.evidence import OUT_ENV, out_dir
from reports.plugin import RUN_ENV
from reports.scenario import ROOT

#: Wall-clock limit of the whole pytest run (seconds); the report is built anyway.
TIMEOUT_ENV = "LAB_CONFORMANCE_TIMEOUT"
STALE = ("evidence", "collected", "collect-errors", "artifacts", "scenarios")


def _cmd_out(argv: list[str]) -> str:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=ROOT)
        return (res.stdout or res.stderr).strip().splitlines()[0] if res.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError, IndexError):
        return ""


def versions() -> dict[str, str]:
    """Versions of everything that shapes a result (for the report's run metadata)."""
    v = {"python": platform.python_version(), "kernel": platform.release(),
         "host": platform.node()}
    for pkg in ("pytest", "pytest-xdist", "scapy", "pyroute2", "cryptography", "jinja2"):
        try:
            v[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            v[pkg] = "not installed"
    sw = _cmd_out(["dpkg-query", "-W", "-f", "${Version}", "strongswan-charon"])
    v["strongSwan"] = sw or _cmd_out(["/usr/lib/ipsec/charon", "--version"]) or "not found"
    rev = _cmd_out(["git", "rev-parse", "--short", "HEAD"])
    dirty = _cmd_out(["git", "status", "--porcelain", "--untracked-files=no"])
    v["git"] = (rev + ("+dirty" if dirty else "")) if rev else "unknown"
    return v


def _prune(out: Path, max_age_s: float = 3600.0) -> None:
    """Drop old per-run files. Files of the last hour stay: a concurrent run in the
    same checkout may still be writing them (the builder filters by run id)."""
    limit = time.time() - max_age_s
    for name in STALE:
        for entry in (out / name).glob("*") if (out / name).is_dir() else []:
            try:
                if entry.stat().st_mtime >= limit:
                    continue
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
            except OSError:
                continue


def pytest_argv(out: Path, user: list[str]) -> list[str]:
    """The pytest command line: scenarios/, xdist, JUnit XML, plus the user's args."""
    argv = [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider",
            f"--junitxml={out / 'junit.xml'}", "-o", "junit_family=xunit2", "-rfEs"]
    if importlib.util.find_spec("lab.pytest_plugin") is not None:
        argv += ["-p", "lab.pytest_plugin"]
    if not any(a == "-n" or a.startswith("-n") or a == "no:xdist" for a in user):
        argv += ["-n", "auto"]
    if not any(not a.startswith("-") and (ROOT / a.split("::")[0]).exists() for a in user):
        argv.append("scenarios")
    return argv + user


def main(argv: list[str] | None = None) -> int:
    user = list(sys.argv[1:] if argv is None else argv)
    out = out_dir()
    out.mkdir(parents=True, exist_ok=True)
    _prune(out)
    started = time.time()
    run_id = uuid.uuid4().hex[:12]
    when = dt.datetime.fromtimestamp(started, dt.timezone.utc).isoformat(timespec="seconds")
    command = " ".join(["./lab.sh conformance", *user]).strip()
    meta = {"run_id": run_id, "started": when, "command": command, "versions": versions()}
    cmd = pytest_argv(out, user)
    env = {**os.environ, OUT_ENV: str(out), RUN_ENV: run_id}
    (out / "run.json").write_text(json.dumps(meta, indent=1))  # a crash still leaves the id
    timeout = float(os.environ.get(TIMEOUT_ENV, "1800"))
    print("conformance: " + " ".join(cmd[1:]), flush=True)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # stop pytest, still write the report

    signal.signal(signal.SIGTERM, on_term)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"conformance: run exceeded {timeout:g} s ({TIMEOUT_ENV}); stopping it",
              file=sys.stderr)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        rc = 124
        meta["interrupted"] = f"timeout after {timeout:g} s"
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
        meta["interrupted"] = "interrupted (SIGINT/SIGTERM)"
    meta["duration_s"] = round(time.time() - started, 1)
    meta["pytest_exit"] = rc
    (out / "run.json").write_text(json.dumps(meta, indent=1))
    try:
        stats = build(out)
    except Exception as exc:  # the run's exit status must still reach CI
        print(f"conformance: report build failed: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 3
    print(f"conformance: {stats['count']} scenario runs, {stats['passed']} passed, "
          f"{stats['failed']} failed, {stats['error']} error, {stats['skipped']} skipped; "
          f"wall {meta['duration_s']} s; report built in {stats['build_s']} s: "
          f"{out / 'index.html'}")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
