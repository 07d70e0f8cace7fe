"""NodeContext (the daemon plug-in's view of a node): popen/run inside the namespace."""

from __future__ import annotations

import subprocess

import pytest


@pytest.mark.topology("topologies/nat-static.yaml")
def test_popen_in_node_with_private_mounts(lab) -> None:
    ctx = lab.node("nat1").ctx
    assert ctx.run == lab.run and ctx.env["LAB_RUN"] == lab.run and ctx.netns == lab.nat1.netns
    p = ctx.popen(["sh", "-c", "touch /run/marker; ls /run; ls /sys/class/net"], mount_ns=True,
                  stdout=subprocess.PIPE, text=True)
    out, _ = p.communicate(timeout=10)
    assert p.returncode == 0
    lines = out.split()
    # a fresh tmpfs on /run, and a sysfs that shows the node's own interfaces
    assert lines[0] == "marker" and {"eth0", "eth1", "lo"} <= set(lines[1:])
    assert not (ctx.node_dir / "marker").exists()
    r = ctx.run(["sh", "-c", "ls /run/marker 2>/dev/null; pwd"], check=False)
    assert r.stdout.strip() == str(ctx.node_dir)           # host's /run untouched, cwd node dir
    assert ctx.run_cmd(["true"]).returncode == 0


@pytest.mark.topology("topologies/nat-static.yaml")
def test_popen_logs_to_node_dir(lab) -> None:
    ctx = lab.node("h1").ctx
    p = ctx.popen(["sh", "-c", "echo hello; echo oops >&2"], log_name="demo")
    assert p.wait(timeout=10) == 0
    assert (ctx.node_dir / "demo.log").read_text() == "hello\noops\n"


def test_private_mounts_keep_a_node_dir_under_run() -> None:
    from lab import Lab

    with Lab.up("topologies/nat-static.yaml") as lab:        # default workdir: /run/ipsec-lab/...
        ctx = lab.node("h1").ctx
        assert str(ctx.node_dir).startswith("/run/")
        (ctx.node_dir / "daemon.conf").write_text("x")
        r = ctx.run(["sh", "-c", "cat daemon.conf; echo; echo y > out; ls /run | wc -l"],
                    mount_ns=True)
        assert r.stdout.split() == ["x", "1"]             # only the kept path's root on /run
        assert (ctx.node_dir / "out").read_text() == "y\n"
