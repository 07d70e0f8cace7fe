"""The NAT-T scenario generator (scenarios/natt/_topo.py) yields valid topologies and configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config.ios import parse_ios
from lab.nat import conntrack_sysctls as nat_conntrack_sysctls
from lab.schema import load_topology
from scenarios.natt._topo import FAR_PUBLIC, Case, build

CASES = [
    Case(),
    Case(left="static"),
    Case(left="pat"),
    Case(right="static"),
    Case(left="pat", right="static"),
    Case(left="pat", two=True),
    Case(left="pat", two=True, nat_t=False),
    Case(left="pat", peer="strongswan"),
    Case(left="pat", two=True, peer="strongswan"),
    Case(left="pat", keepalive=10, udp_timeout=2, clock_scale=10, dpd="10 2"),
    Case(left="static", far_nat_t=False),
    Case(left="static", keepalive=5, far_keepalive=True),
    Case(left="pat", left_peer="strongswan", sw_keepalive=2, udp_timeout=4),
    Case(left="pat", aggressive=True),
    Case(left="pat", aggressive=True, peer="strongswan"),
    Case(left="static", mode="transport"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_builds_valid_topology_and_configs(case: Case, tmp_path: Path) -> None:
    topo = load_topology(build(case, tmp_path))
    assert set(case.initiators) | {case.far, "h1", "h2", "isp"} <= set(topo.nodes)
    for r in case.initiators + (case.far,):
        node = topo.nodes[r]
        if node.kind == "engine":
            cfg = parse_ios(
                (tmp_path / f"{'r2' if r == case.far else r}.cfg").read_text(),
                f"{r}.cfg",
                repair=False,
            )
            assert cfg.errors == [], [str(e) for e in cfg.errors]
            assert cfg.globals.nat_transparency == (case.far_nat_t if r == case.far else case.nat_t)
            if r != case.far:
                assert cfg.globals.nat_keepalive == case.keepalive
                entry = cfg.crypto_maps["VPN"].entries[10]
                assert [str(p.address) for p in entry.peers] == [FAR_PUBLIC]
        else:
            assert (tmp_path / f"{r}.swanctl.conf").is_file()
    nat1 = topo.nodes.get("nat1")
    assert (nat1 is not None) == (case.left != "none")
    if nat1 is not None and case.udp_timeout:
        assert nat_conntrack_sysctls(nat1) == {
            "net.netfilter.nf_conntrack_udp_timeout": str(case.udp_timeout),
            "net.netfilter.nf_conntrack_udp_timeout_stream": str(case.udp_timeout),
        }
    assert ("nat2" in topo.nodes) == (case.right == "static")


def test_two_initiators_need_pat() -> None:
    with pytest.raises(ValueError, match="two initiators"):
        build(Case(left="static", two=True), Path("/nonexistent-never-written"))


def test_committed_example_topologies_are_current(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2] / "topologies"
    case = Case(left="pat")
    fresh = build(case, tmp_path / "natt-pat", tmp_path / "natt-pat.yaml")
    assert fresh.read_text() == (root / "natt-pat.yaml").read_text()
    for f in ("r1.cfg", "r2.cfg"):
        assert (tmp_path / "natt-pat" / f).read_text() == (root / "natt-pat" / f).read_text()
