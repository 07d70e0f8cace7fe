"""Life cycle: teardown leaves nothing, crashed runs are cleaned, parallel runs coexist."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab import Lab, names, realize
from lab.errors import LabError, NotSupported
from lab.nsexec import NETNS_DIR
from lab.state import state_root

ROOT = Path(__file__).resolve().parents[2]
CHAIN = ROOT / "topologies" / "chain.yaml"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def lab_cli(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True,
                       env=ENV, cwd=ROOT, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"lab {' '.join(args)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def ns_of(run: str) -> list[str]:
    prefix = names.NS_PREFIX + run
    return [n for n in os.listdir(NETNS_DIR) if n.startswith(prefix)] if NETNS_DIR.is_dir() else []


def alive(pid: int) -> bool:
    return realize._alive(pid)


def test_teardown_leaves_nothing(tmp_path: Path) -> None:
    lab = Lab.start(CHAIN, workdir=tmp_path)
    run = lab.run
    assert len(ns_of(run)) == 5
    bg = lab.h1.popen(["sleep", "300"])
    assert realize.pids_with_run(run) == [bg.pid]
    lab.down()
    bg.wait(timeout=5)
    assert ns_of(run) == []
    assert realize.pids_with_run(run) == []
    assert not (state_root() / run).exists()
    lab.down()  # twice is fine


def test_failure_half_way_removes_what_was_created(tmp_path: Path, monkeypatch) -> None:
    def broken(self) -> None:
        raise LabError("injected failure while adding routes")

    monkeypatch.setattr(realize.Realizer, "routes", broken)
    run = "half-" + secrets.token_hex(3)
    with pytest.raises(LabError, match="injected"):
        Lab.start(CHAIN, run=run, workdir=tmp_path)
    assert ns_of(run) == [] and not (state_root() / run).exists()


def test_not_root_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(NotSupported, match="must run as root"):
        Lab.start(CHAIN)


def test_parallel_runs_do_not_clash(tmp_path: Path) -> None:
    with Lab.up(CHAIN, workdir=tmp_path / "a") as a, Lab.up(CHAIN, workdir=tmp_path / "b") as b:
        assert a.run != b.run and set(ns_of(a.run)).isdisjoint(ns_of(b.run))
        # same addresses in both, each its own world
        a.faults.link_down("isp:eth1")
        assert b.h1.ping(b.addr("h2"), count=1).received == 1
        assert a.h1.ping(a.addr("h2"), count=1, wait=0.3).received == 0


def test_cli_up_exec_capture_down(tmp_path: Path) -> None:
    run = "cli-" + secrets.token_hex(3)
    assert lab_cli("up", str(CHAIN), "--run", run).stdout.strip() == run
    try:
        assert run in lab_cli("ls").stdout
        assert lab_cli("exec", run, "h1", "--", "sh", "-c", "exit 7", check=False).returncode == 7
        out = lab_cli("exec", run, "h1", "--", "ping", "-c1", "192.168.2.10").stdout
        assert "1 received" in out
        pcap = tmp_path / "out.pcap"
        cap = subprocess.Popen([sys.executable, "-m", "lab", "capture", run, "h2:eth0", "-w",
                                str(pcap), "--count", "2"], env=ENV, cwd=ROOT,
                               stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while cap.poll() is None and time.monotonic() < deadline:
            lab_cli("exec", run, "h1", "--", "ping", "-c1", "192.168.2.10")
        assert cap.wait(timeout=5) == 0 and "2 packets written" in cap.stderr.read()
        from scapy.utils import rdpcap

        assert len(rdpcap(str(pcap))) == 2
        r = lab_cli("exec", run, "nope", "--", "true", check=False)
        assert r.returncode == 2 and "has no node 'nope'" in r.stderr
    finally:
        lab_cli("down", run)
    assert ns_of(run) == [] and run not in lab_cli("ls").stdout


def test_crashed_run_is_cleaned_by_down_all() -> None:
    run = "crash-" + secrets.token_hex(3)
    up = subprocess.Popen([sys.executable, "-m", "lab", "up", "--wait", "--run", run, str(CHAIN)],
                          env=ENV, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert up.stdout.readline().strip() == run
        bg = subprocess.Popen([sys.executable, "-m", "lab", "exec", run, "h1", "--", "sleep",
                               "300"], env=ENV, cwd=ROOT)
        deadline = time.monotonic() + 10
        while not [p for p in realize.pids_with_run(run) if p != bg.pid]:
            assert time.monotonic() < deadline, "sleep did not start"
            time.sleep(0.05)
        sleeper = [p for p in realize.pids_with_run(run) if p != bg.pid][0]
    finally:
        up.send_signal(signal.SIGKILL)
        up.wait()
    assert len(ns_of(run)) == 5 and alive(sleeper)        # the crash left everything behind
    out = lab_cli("down", "--all", "--match", f"{run}*").stdout
    assert "removed 1 run(s)" in out
    bg.wait(timeout=5)
    assert ns_of(run) == [] and not alive(sleeper) and realize.pids_with_run(run) == []
    assert not (state_root() / run).exists()


def test_down_all_spares_live_runs_and_removes_stateless_leftovers(tmp_path: Path) -> None:
    orphan = f"orphan-{secrets.token_hex(3)}"
    from lab.nsexec import create_netns

    create_netns(names.node_ns(orphan, "h1"))       # a namespace without a state file
    with Lab.up(CHAIN, workdir=tmp_path) as lab:
        out = lab_cli("down", "--all", "--match", f"{orphan}*").stdout
        assert "1 leftover namespace(s)" in out and ns_of(orphan) == []
        out = lab_cli("down", "--all", "--match", lab.run).stdout
        assert "spared 1 run(s)" in out and len(ns_of(lab.run)) == 5
        assert lab.h1.ping(lab.addr("h2"), count=1).received == 1


def test_check_and_dot_commands(tmp_path: Path) -> None:
    assert "ok (5 nodes" in lab_cli("check", str(CHAIN)).stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nnodes:\n  h1: {kind: host, colour: red}\n")
    r = lab_cli("check", str(bad), check=False)
    assert r.returncode == 2
    assert r.stderr.strip() == f"lab: {bad}:3: nodes.h1.colour: unknown key 'colour'"
    assert lab_cli("dot", str(CHAIN)).stdout.startswith('graph "chain"')


def _root_link_events(sock) -> list[str]:
    """Names in RTM_NEWLINK messages queued on a root-namespace RTMGRP_LINK socket."""
    import struct

    names_seen = []
    while True:
        try:
            data = sock.recv(1 << 16)
        except BlockingIOError:
            return names_seen
        i = 0
        while i + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, i)
            if kind == 16:                                   # RTM_NEWLINK
                j = i + 16 + 16                              # nlmsghdr + ifinfomsg
                while j + 4 <= i + length:
                    alen, atype = struct.unpack_from("=HH", data, j)
                    if atype == 3:                           # IFLA_IFNAME
                        names_seen.append(data[j + 4:j + alen].rstrip(b"\0").decode())
                    j += (alen + 3) & ~3
            i += (length + 3) & ~3


def test_nothing_appears_in_root_namespace_even_briefly(tmp_path: Path) -> None:
    import socket

    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)    # NETLINK_ROUTE
    sock.bind((0, 1))                                                # RTMGRP_LINK
    sock.setblocking(False)
    try:
        with Lab.up(ROOT / "topologies" / "ten-nodes.yaml", workdir=tmp_path) as lab:
            lab.faults.link_down("r3:eth1")
            lab.faults.link_up("r3:eth1")
        seen = _root_link_events(sock)
    finally:
        sock.close()
    ours = {"eth0", "eth1", "eth2", "br0"} | {f"s0p{i}" for i in range(3)}
    assert not ours & set(seen), seen


def test_root_link_event_parser_sees_new_links() -> None:
    """The detector above can fail: run it in a scratch namespace where a veth is made."""
    import socket

    from pyroute2 import IPRoute

    from lab.nsexec import create_netns, remove_netns

    ns = f"ilab-scratch-{secrets.token_hex(3)}"
    create_netns(ns)
    try:
        sock = realize.in_ns(ns, lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
        sock.bind((0, 1))
        sock.setblocking(False)
        with IPRoute(netns=ns) as ipr:
            ipr.link("add", ifname="vA", kind="veth", peer="vB")
        time.sleep(0.05)
        assert {"vA", "vB"} <= set(_root_link_events(sock))
        sock.close()
    finally:
        remove_netns(ns)


def test_cli_faults_compose_across_calls() -> None:
    run = "flt-" + secrets.token_hex(3)
    lab_cli("up", str(CHAIN), "--run", run)
    try:
        ping = ["exec", run, "h1", "--", "ping", "-c1", "-W0.5", "192.168.2.10"]
        lab_cli("fault", run, "loss", "r1:eth0", "100", "--direction", "out")
        lab_cli("fault", run, "loss", "isp:eth0", "20")            # another node, kept
        assert lab_cli(*ping, check=False).returncode == 1
        lab_cli("fault", run, "loss", "r1:eth0", "0")
        lab_cli("fault", run, "loss", "isp:eth0", "0")
        assert lab_cli(*ping).returncode == 0
        lab_cli("fault", run, "link-down", "r2:eth1")
        assert lab_cli(*ping, check=False).returncode == 1
        lab_cli("fault", run, "link-up", "r2:eth1")
        assert lab_cli(*ping).returncode == 0
        r = lab_cli("fault", run, "mtu", "r1:eth0", check=False)
        assert r.returncode == 2 and "give a value" in r.stderr
    finally:
        lab_cli("down", run)
