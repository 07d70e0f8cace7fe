"""pytest side of the scenario framework (imported by ``scenarios/conftest.py``).

* Collection: every ``scenarios/**/test_*.py`` must declare a valid
  ``SCENARIO``; otherwise collecting that module fails with one clear line.
* ``peer`` parametrization from ``SCENARIO.peers`` (ids ``engine``/``strongswan``).
* ``ev`` fixture (function scope, yields :class:`reports.evidence.Evidence`).
* Outcome recording: one evidence JSON per test, written by the worker that
  ran it; failed checks fail the test after its body ran (soft asserts).
* ``collected/<worker>.json`` and ``collect-errors/*.json`` let the report
  show what was meant to run and what did not.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from reports.evidence import Evidence, out_dir, slug
from reports.scenario import ROOT, Scenario, ScenarioError, from_module

#: Per-scenario wall-clock limit (seconds; 0 disables), enforced with SIGALRM.
TIMEOUT_ENV = "LAB_SCENARIO_TIMEOUT"
#: Set by reports.run: tags every file of one run, so that the builder ignores
#: files a concurrent run wrote into the same output directory.
RUN_ENV = "LAB_REPORT_RUN"
DEFAULT_TIMEOUT = 300.0
EV_KEY = pytest.StashKey[Evidence]()
PHASES_KEY = pytest.StashKey[dict]()


class ChecksFailed(AssertionError):
    """One or more recorded checks failed (raised after the scenario body)."""


class ScenarioTimeout(Exception):
    """The scenario ran past ``LAB_SCENARIO_TIMEOUT`` (a wait without a deadline hung)."""


def _arm_timeout(nodeid: str) -> None:
    limit = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT) or 0)
    if limit <= 0 or threading.current_thread() is not threading.main_thread():
        return

    def on_alarm(signum: int, frame: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        raise ScenarioTimeout(f"{nodeid}: still running after {limit:g} s "
                              f"({TIMEOUT_ENV}); something waited without a deadline")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)


def _disarm_timeout() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.setitimer(signal.ITIMER_REAL, 0)


class ScenarioModule(pytest.Module):
    """A scenario module: validates ``SCENARIO`` before collecting tests."""

    scenario: Scenario | None = None

    def collect(self):  # type: ignore[no-untyped-def]
        where = str(self.path.relative_to(ROOT)) if ROOT in self.path.parents else str(self.path)
        try:
            self.scenario = from_module(self.obj, where)
        except ScenarioError as exc:
            raise self.CollectError(str(exc)) from None
        return super().collect()


def _is_scenario_file(path: Path) -> bool:
    # The hook lives in scenarios/conftest.py, so pytest only asks it about
    # files below that directory (conftest hooks are directory-scoped).
    return path.name.startswith("test_") and path.suffix == ".py"


def pytest_pycollect_makemodule(module_path: Path, parent: Any) -> Any:
    if _is_scenario_file(Path(module_path)):
        return ScenarioModule.from_parent(parent, path=Path(module_path))
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "peer" not in metafunc.fixturenames:
        return
    scn = getattr(metafunc.module, "SCENARIO", None)
    peers = scn.peers if isinstance(scn, Scenario) else ("engine",)
    metafunc.parametrize("peer", list(peers), ids=list(peers))


def _scenario_of(item: pytest.Item) -> Scenario | None:
    scn = getattr(getattr(item, "module", None), "SCENARIO", None)
    return scn if isinstance(scn, Scenario) else None


def _peer_of(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "peer" in callspec.params:
        return str(callspec.params["peer"])
    return "engine"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _run_id() -> str:
    return os.environ.get(RUN_ENV, "")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Record what this worker will run (after -k/-m deselection)."""
    rows = []
    for item in session.items:
        scn = _scenario_of(item)
        if scn is None:
            continue
        rows.append({"nodeid": item.nodeid, "slug": slug(item.nodeid), "run_id": _run_id(),
                     "scenario": scn.to_dict(), "peer": _peer_of(item)})
    if not rows:
        return
    d = out_dir() / "collected"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{_worker()}.json").write_text(json.dumps(rows, indent=1))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if not report.failed:
        return
    d = out_dir() / "collect-errors"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{slug(report.nodeid)}.json").write_text(json.dumps(
        {"nodeid": report.nodeid, "run_id": _run_id(), "error": str(report.longrepr)[-6000:]},
        indent=1))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    scn = _scenario_of(item)
    if scn is None:
        return
    item.stash[EV_KEY] = Evidence(item.nodeid, scenario=scn.to_dict(), peer=_peer_of(item))
    item.stash[PHASES_KEY] = {"t0": time.monotonic()}
    _arm_timeout(item.nodeid)


@pytest.fixture
def ev(request: pytest.FixtureRequest) -> Evidence:
    """Evidence recorder of the running scenario.

    Scope: function. Yields: :class:`reports.evidence.Evidence`.
    """
    rec = request.node.stash.get(EV_KEY, None)
    if rec is None:  # a test outside scenarios/ asked for it
        rec = Evidence(request.node.nodeid)
        request.node.stash[EV_KEY] = rec
    return rec


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):  # type: ignore[no-untyped-def]
    result = yield
    rec = item.stash.get(EV_KEY, None)
    if rec is not None and rec.failed_checks:
        lines = [f"  {c['name']}: observed {c['observed']!r}, expected {c['expected']!r}"
                 for c in rec.failed_checks]
        raise ChecksFailed(f"{len(lines)} check(s) failed:\n" + "\n".join(lines))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # type: ignore
    report = yield
    rec = item.stash.get(EV_KEY, None)
    phases = item.stash.get(PHASES_KEY, None)
    if rec is None or phases is None:
        return report
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(
            report.longrepr)
        phases.setdefault("outcome", "skipped")
        phases.setdefault("reason", str(reason))
    elif report.failed:
        if report.when == "call":
            phases["outcome"] = "failed"
        elif phases.get("outcome") != "failed":
            phases["outcome"] = "error"
        phases.setdefault("reason", f"{report.when}: {_short(report)}")
        phases.setdefault("longrepr", str(report.longrepr)[-12000:])
    if report.when == "teardown":
        _disarm_timeout()
        rec.save(run_id=_run_id(), outcome=phases.get("outcome", "passed"),
                 reason=phases.get("reason", ""), longrepr=phases.get("longrepr", ""),
                 worker=_worker(),
                 duration_s=round(time.monotonic() - phases["t0"], 3), finished=time.time())
    return report


def _short(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).splitlines()[0][:500] if crash.message else ""
    return str(report.longrepr).strip().splitlines()[-1][:500] if report.longrepr else ""
