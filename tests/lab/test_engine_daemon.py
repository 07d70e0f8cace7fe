"""The `engine` daemon plug-in: started in the node, answers on its control socket."""

from __future__ import annotations

import pytest

from lab import realize
from lab.errors import LabCommandError


@pytest.mark.topology("topologies/engine-pair.yaml")
def test_engine_daemons_start_answer_restart(lab) -> None:
    r1, r2, r3 = lab.node("r1"), lab.node("r2"), lab.node("r3")
    assert r1.daemon_pid and r2.daemon_pid and r3.daemon_pid is None   # r3: daemon: false
    # the daemon runs inside the node's namespace, tagged with the run
    assert r1.daemon_pid in realize.pids_in_namespaces([r1.netns])
    assert r1.daemon_pid in realize.pids_with_run(lab.run)
    assert isinstance(r1.cli("lab clock"), str)
    with pytest.raises(LabCommandError):
        r1.cli("show no-such-thing at all")
    argv = " ".join(r2.daemon.argv(r2.ctx))
    assert "--clock-scale 60" in argv and "--interfaces GigabitEthernet0/0/0=eth0" in argv
    old = r1.daemon_pid
    r1.restart_daemon(kill=True)          # peer reboot
    assert r1.daemon_pid not in (None, old) and not realize._alive(old)
    isinstance(r1.cli("lab clock"), str)
    assert lab.r1.ping("10.9.0.2", count=1).received == 1


def test_cli_command_talks_to_engine_of_an_up_run() -> None:
    import secrets

    from tests.lab.test_lifecycle import ROOT, lab_cli, ns_of

    topo = str(ROOT / "tests" / "lab" / "topologies" / "engine-pair.yaml")
    run = "eng-" + secrets.token_hex(3)
    lab_cli("up", topo, "--run", run)
    try:
        from lab.state import RunState

        procs = RunState.load(run).processes
        pids = [p.pid for p in procs]
        assert sorted(p.node for p in procs) == ["r1", "r2"]    # engines outlive `up`
        assert all(p.alive() for p in procs) and set(pids) <= set(realize.pids_with_run(run))
        assert lab_cli("cli", run, "r1", "lab clock").stdout.strip()
        r = lab_cli("cli", run, "r1", "show no-such-thing", check=False)
        assert r.returncode == 1 and "% Invalid input" in r.stderr
        r = lab_cli("cli", run, "r3", "lab clock", check=False)
        assert r.returncode == 2 and "no running daemon (daemon: false)" in r.stderr
    finally:
        lab_cli("down", run)
    assert ns_of(run) == [] and not any(realize._alive(p) for p in pids)
