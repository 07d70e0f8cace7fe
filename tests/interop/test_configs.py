"""Every strongSwan config of the interop topologies loads into a real charon.

Brings each topology up without daemons, starts only its strongSwan nodes
(``swanctl --load-all`` fails the start on any syntax or semantic error)
and checks the loaded connections over VICI. Catches config mistakes in
topologies whose other side (the engine) may not be ready.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import lab.strongswan as sw
from lab.api import Lab
from lab.errors import LabError

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGIES = sorted(p.name for p in (ROOT / "topologies").glob("interop-*.yaml"))


def test_there_are_interop_topologies() -> None:
    assert {"interop-sw-sw.yaml", "interop-sw-sw-aggr.yaml", "interop-engine-sw.yaml",
            "interop-engine-sw-start.yaml", "interop-engine-sw-aggr.yaml"} <= set(TOPOLOGIES)


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_strongswan_configs_load(topology: str) -> None:
    with Lab.up(ROOT / "topologies" / topology, daemons=False) as lab:
        swnodes = [n for n in lab.nodes.values() if n.kind == "strongswan"]
        assert swnodes, f"{topology} has no strongswan node"
        for node in swnodes:
            node.start_daemon()
            conns = node.cli("list-conns", json=True)
            assert conns, f"{topology}: node {node.name} loaded no connection"
            for name, conn in conns.items():
                assert conn["version"] == "IKEv1", (name, conn["version"])
                children = conn["children"]
                assert children, f"{name} has no children"
            # The PSK must be loaded as well (secrets section of the same file).
            out = sw.swanctl(node, "--list-conns").stdout
            assert "pre-shared key" in out, out


BAD_CONFIGS = {
    "syntax": "connections { x { version = 1 } } }\n",
    "proposal": ("connections {\n x {\n  version = 1\n  remote_addrs = 10.0.0.9\n"
                 "  children {\n   c {\n    esp_proposals = bogus-alg\n   }\n  }\n }\n}\n"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_fails_start_with_reason(tmp_path: Path, case: str) -> None:
    """A broken swanctl.conf fails the node start (swanctl itself exits 0 on syntax errors)."""
    bad = tmp_path / "bad.swanctl.conf"
    bad.write_text(BAD_CONFIGS[case])
    topo = tmp_path / "t.yaml"
    topo.write_text(f"name: swbad\nnodes:\n  s1: {{kind: strongswan, config: {bad}}}\n")
    with Lab.up(topo, daemons=False) as lab:
        node = lab.node("s1")
        with pytest.raises(LabError, match=r"node s1: command 'swanctl --load-all") as info:
            node.start_daemon()
        text = str(info.value)
        assert ("syntax error" in text) if case == "syntax" else ("esp_proposals" in text)
        assert node.proc is None or node.proc.poll() is not None
