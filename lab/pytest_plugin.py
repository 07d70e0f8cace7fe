"""pytest plug-in (``-p lab.pytest_plugin``): the ``lab`` fixture and ``topology`` marker.

    @pytest.mark.topology("topologies/chain.yaml")
    def test_ping(lab):
        assert lab.node("h1").ping(lab.addr("h2")).received == 3

Each test gets a run directory derived from its nodeid and xdist worker
(``--lab-dir``, default ``/tmp/ipsec-lab-runs``); the lab is always torn down.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("lab", "IPsec conformance lab")
    g.addoption("--lab-dir", default=os.environ.get("IPSEC_LAB_RUNS", "/tmp/ipsec-lab-runs"),
                help="where per-test run directories (logs, pcaps, configs) go")
    g.addoption("--lab-keep-dirs", action="store_true",
                help="keep run directories of passed tests too")
    g.addoption("--lab-keep-on-error", action="store_true",
                help="leave a failed test's lab running (inspect with `./lab.sh exec RUN ...`, "
                     "remove with `./lab.sh down RUN`)")


def run_dir_for(config: pytest.Config, nodeid: str) -> Path:
    """Per-test run directory: <lab-dir>/<xdist worker>/<sanitized nodeid>."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150]
    return Path(config.getoption("--lab-dir")) / worker / safe


def _resolve(config: pytest.Config, request: pytest.FixtureRequest, path: str | Path) -> Path:
    p = Path(path)
    if p.is_absolute():
        return p
    for base in (Path(request.node.path).parent, config.rootpath, Path.cwd()):
        if (base / p).exists():
            return base / p
    return config.rootpath / p


def _topology_marker(request: pytest.FixtureRequest, usage: str) -> pytest.Mark:
    """The ``topology`` marker of the requesting test/module; skip where labs cannot run."""
    from lab.errors import NotSupported
    from lab.realize import check_host

    marker = request.node.get_closest_marker("topology")
    if marker is None or not marker.args:
        raise pytest.UsageError(f"{request.node.nodeid}: {usage}")
    try:
        check_host()
    except NotSupported as exc:
        pytest.skip(str(exc))
    return marker


@pytest.fixture
def lab_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Function-scoped factory ``lab_factory(topology, **kw) -> Lab``; all torn down after.

    Yields:
        a callable bringing up a topology (path or model) in its own run directory.
    """
    from lab.api import Lab

    labs: list[Lab] = []
    base = run_dir_for(request.config, request.node.nodeid)
    shutil.rmtree(base, ignore_errors=True)

    def make(topology: Any, **kw: Any) -> Lab:
        if isinstance(topology, (str, Path)):
            topology = _resolve(request.config, request, topology)
        kw.setdefault("workdir", base / f"lab{len(labs)}" if labs else base)
        lab = Lab.start(topology, **kw)
        labs.append(lab)
        request.node.lab_dirs = [str(x.workdir) for x in labs]
        request.node.user_properties.append(("lab_run", f"{lab.run} {lab.workdir}"))
        return lab

    try:
        yield make
    finally:
        errors = []
        rep = getattr(request.node, "rep_call", None)
        keep = request.config.getoption("--lab-keep-on-error") and (rep is None or rep.failed)
        for lab in reversed(labs):
            if keep:
                lab.keep()
                request.node.warn(pytest.PytestWarning(
                    f"lab {lab.run} left running (--lab-keep-on-error): ./lab.sh exec "
                    f"{lab.run} NODE -- CMD; ./lab.sh down {lab.run}"))
                continue
            try:
                lab.down()
            except Exception as exc:  # tear down the others, then report
                errors.append(exc)
        if rep is not None and rep.passed and not request.config.getoption("--lab-keep-dirs"):
            shutil.rmtree(base, ignore_errors=True)
        if errors:
            raise errors[0]


@pytest.fixture
def scratch_netns(request: pytest.FixtureRequest) -> Iterator[str]:
    """Function-scoped empty network namespace for tests below the lab API.

    Created without forking (``lab.nsexec.create_netns``), named by
    :func:`lab.names.scratch_ns`, removed after the test, pass or fail.

    Yields:
        the namespace name (enter it with ``lab.nsexec.enter_netns`` in a thread,
        or run commands with ``lab.nsexec.run_in``/``popen_in``).
    """
    from lab import names, nsexec

    name = names.scratch_ns(re.sub(r"[^a-z0-9]+", "", request.node.name.lower())[:12])
    nsexec.create_netns(name)
    try:
        yield name
    finally:
        nsexec.remove_netns(name)


@pytest.fixture
def lab(request: pytest.FixtureRequest, lab_factory: Callable[..., Any]) -> Any:
    """Function-scoped lab of the test's ``@pytest.mark.topology(path, **kw)`` marker.

    Yields:
        a running :class:`lab.api.Lab`; torn down after the test, pass or fail.
    """
    marker = _topology_marker(request, "the `lab` fixture needs "
                              "@pytest.mark.topology('topologies/x.yaml')")
    return lab_factory(marker.args[0], **marker.kwargs)


@pytest.fixture(scope="module")
def lab_module(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Module-scoped lab of the module's ``pytestmark = pytest.mark.topology(path)``.

    For modules whose tests can share one bring-up (e.g. several show commands
    against one tunnel). Torn down after the module's last test.

    Yields:
        a running :class:`lab.api.Lab`.
    """
    from lab.api import Lab

    marker = _topology_marker(request, "`lab_module` needs a module-level "
                              "pytestmark = pytest.mark.topology('topologies/x.yaml')")
    base = run_dir_for(request.config, request.node.nodeid)
    shutil.rmtree(base, ignore_errors=True)
    lab = Lab.start(_resolve(request.config, request, marker.args[0]), workdir=base,
                    **marker.kwargs)
    try:
        yield lab
    finally:
        lab.down()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
