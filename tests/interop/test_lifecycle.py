"""strongSwan node life cycle: options take effect, nothing is left behind."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import lab.strongswan as sw
from lab.api import Lab
from lab.errors import LabCommandError

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "topologies" / "interop" / "sw-sw" / "s1.swanctl.conf"


def _topology(tmp_path: Path, options: str = "{}") -> Path:
    """s1 alone on a link: its peer 10.0.0.2 never answers."""
    topo = tmp_path / "t.yaml"
    topo.write_text(
        "name: swlife\nnodes:\n"
        f"  s1: {{kind: strongswan, config: {CONF}, options: {options}}}\n"
        "  x: {kind: host}\n"
        "links:\n  - {a: s1:eth0, b: x:eth0, a_addr: 10.0.0.1/24, b_addr: 10.0.0.9/24}\n")
    return topo


def test_retransmit_options_take_effect(tmp_path: Path) -> None:
    """retransmit_tries 1 / timeout 0.3 s: charon gives up after ~0.3 + 0.54 s."""
    topo = _topology(tmp_path, "{retransmit_tries: 1, retransmit_timeout: 0.3}")
    with Lab.up(topo) as lab:
        s1 = lab.node("s1")
        t0 = time.monotonic()
        with pytest.raises(LabCommandError, match="initiate net") as info:
            sw.initiate(s1, "net", timeout=10)
        elapsed = time.monotonic() - t0
        assert "giving up after 1 retransmits" in info.value.stdout
        assert 0.7 < elapsed < 3.0, elapsed


def test_stop_leaves_nothing_behind(tmp_path: Path) -> None:
    """After the lab is down: no charon of the run, no mount of its node dirs."""
    with Lab.up(_topology(tmp_path)) as lab:
        s1 = lab.node("s1")
        pid = s1.daemon_pid
        assert pid and Path(f"/proc/{pid}/exe").resolve().name == "charon"
        node_dir = str(s1.dir)
        # charon's /run is private: its pid file is not in ours.
        ours = Path("/run/charon.pid")
        assert not ours.exists() or ours.read_text().strip() != str(pid)
        assert Path(f"/proc/{pid}/root/run/charon.pid").read_text().strip() == str(pid)
        s1.restart_daemon(kill=True)
        assert s1.daemon_pid != pid and not Path(f"/proc/{pid}").exists()
        pid = s1.daemon_pid
    assert not Path(f"/proc/{pid}").exists(), "charon still running after lab down"
    assert node_dir not in Path("/proc/self/mountinfo").read_text()
    assert not (Path(node_dir) / "charon.vici").exists()
