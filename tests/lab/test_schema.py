"""Topology validation: every bad input gives one line naming file, line, YAML path and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import TopologyError
from lab.schema import load_topology, parse_topology

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
name: t
nodes:
  h1: {kind: host}
  r1: {kind: router}
  h2: {kind: host}
links:
  - {a: h1:eth0, b: r1:eth0, a_addr: 10.0.1.10/24, b_addr: 10.0.1.1/24}
  - {a: r1:eth1, b: h2:eth0, a_addr: 10.0.2.1/24, b_addr: 10.0.2.10/24}
routes:
  h1: [{dst: default, via: 10.0.1.1}]
"""


def bad(text: str, tmp_path: Path | None = None) -> TopologyError:
    with pytest.raises(TopologyError) as info:
        parse_topology(text, filename="t.yaml", base=tmp_path)
    return info.value


@pytest.mark.parametrize("path", sorted((ROOT / "topologies").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_topologies_are_valid(path: Path) -> None:
    topo = load_topology(path)
    assert topo.nodes
    assert "graph" in topo.to_dot()


def test_good_topology_resolves() -> None:
    t = parse_topology(GOOD, "t.yaml")
    assert [i.name for i in t.interfaces("r1")] == ["eth0", "eth1"]
    assert t.addresses("h2") == ["10.0.2.10/24"]
    assert t.nodes["r1"].forwarding and not t.nodes["h1"].forwarding


def test_unknown_key_names_line_and_path() -> None:
    e = bad(GOOD.replace("{kind: router}", "{kind: router, colour: red}"))
    assert str(e) == "t.yaml:4: nodes.r1.colour: unknown key 'colour'"


def test_unknown_top_level_key() -> None:
    e = bad(GOOD + "extra: 1\n")
    assert e.line == 11 and e.path == "extra" and "unknown key" in e.message


def test_unknown_node_in_link() -> None:
    e = bad(GOOD.replace("b: h2:eth0", "b: h3:eth0"))
    assert str(e) == "t.yaml:8: links[1].b: unknown node 'h3'"


def test_interface_name_too_long() -> None:
    e = bad(GOOD.replace("a: h1:eth0", "a: h1:averyveryverylong0"))
    assert e.path == "links[0].a" and "longer than 15" in e.message and e.line == 7


def test_interface_used_twice() -> None:
    e = bad(GOOD.replace("a: r1:eth1", "a: r1:eth0"))
    assert e.path == "links[1].a" and "used twice" in e.message and "links[0].b" in e.message


def test_duplicate_address() -> None:
    e = bad(GOOD.replace("b_addr: 10.0.2.10/24", "b_addr: 10.0.2.1/24"))
    assert e.path == "links[1].b_addr[0]" and "duplicate address 10.0.2.1" in e.message


def test_overlapping_networks() -> None:
    e = bad(GOOD.replace("a_addr: 10.0.2.1/24, b_addr: 10.0.2.10/24",
                         "a_addr: 10.0.1.129/25, b_addr: 10.0.1.130/25"))
    assert e.path == "links[1].a_addr[0]" and "overlaps 10.0.1.0/24" in e.message


def test_invalid_cidr() -> None:
    e = bad(GOOD.replace("a_addr: 10.0.1.10/24", "a_addr: 10.0.1.300/24"))
    assert e.path == "links[0].a_addr[0]" and "invalid CIDR '10.0.1.300/24'" in e.message
    e = bad(GOOD.replace("a_addr: 10.0.1.10/24", "a_addr: 10.0.1.10"))
    assert "missing /prefix length" in e.message


def test_route_via_unreachable_next_hop() -> None:
    e = bad(GOOD.replace("via: 10.0.1.1}", "via: 10.0.2.1}"))
    assert str(e) == ("t.yaml:10: routes.h1[0].via: next hop 10.0.2.1 is unreachable from h1 "
                      "(not in a connected subnet)")


def test_route_family_mismatch_and_bad_dst() -> None:
    assert "not IPv6" in bad(GOOD.replace("dst: default,", "dst: default6,")).message
    e = bad(GOOD.replace("dst: default,", "dst: 10.9.9.0/33,"))
    assert e.path == "routes.h1[0].dst" and "invalid destination" in e.message


def test_route_for_unknown_node() -> None:
    e = bad(GOOD + "  zz: [{dst: default, via: 10.0.1.1}]\n")
    assert e.path == "routes.zz" and "unknown node 'zz'" in e.message


def test_nat_rule_names_missing_interface() -> None:
    text = GOOD.replace("r1: {kind: router}",
                        "r1: {kind: nat, nat: [{type: pat, inside: eth0, outside: eth7}]}")
    e = bad(text)
    assert e.path == "nodes.r1.nat[0].outside" and "has no interface 'eth7'" in e.message
    assert e.line == 4


def test_nat_static_needs_addresses() -> None:
    text = GOOD.replace("r1: {kind: router}",
                        "r1: {kind: nat, nat: [{type: static, inside: eth0, outside: eth1}]}")
    assert "needs 'internal' and 'external'" in bad(text).message


def test_nat_on_non_nat_node() -> None:
    text = GOOD.replace("r1: {kind: router}",
                        "r1: {kind: router, nat: [{type: pat, inside: eth0, outside: eth1}]}")
    assert bad(text).path == "nodes.r1.nat"


def test_missing_config_file(tmp_path: Path) -> None:
    text = GOOD.replace("r1: {kind: router}", "r1: {kind: engine, config: r1.cfg}")
    e = bad(text, tmp_path)
    assert e.path == "nodes.r1.config" and "config file not found" in e.message
    assert str(tmp_path / "r1.cfg") in e.message
    (tmp_path / "r1.cfg").write_text("hostname r1\n")
    t = parse_topology(text, "t.yaml", base=tmp_path)
    assert t.nodes["r1"].config == tmp_path / "r1.cfg" and t.nodes["r1"].dialect == "ios"


def test_engine_needs_config_and_interface_map_checked(tmp_path: Path) -> None:
    assert "needs 'config'" in bad(GOOD.replace("r1: {kind: router}", "r1: {kind: engine}")).message
    (tmp_path / "r1.cfg").write_text("")
    text = GOOD.replace("r1: {kind: router}", "r1: {kind: engine, config: r1.cfg, "
                        "interfaces: {GigabitEthernet0/0/0: eth5}}")
    e = bad(text, tmp_path)
    assert e.path == "nodes.r1.interfaces.GigabitEthernet0/0/0"


def test_unknown_kind() -> None:
    e = bad(GOOD.replace("{kind: router}", "{kind: switch}"))
    assert e.path == "nodes.r1.kind" and "'switch'" in e.message


def test_duplicate_yaml_key() -> None:
    e = bad(GOOD.replace("  h2: {kind: host}\n", "  h2: {kind: host}\n  h2: {kind: host}\n"))
    assert e.line == 6 and "duplicate key 'h2'" in e.message


def test_yaml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    e = bad("name: [x\nnodes: {}\n")
    assert e.file == "t.yaml" and e.line is not None and "YAML syntax error" in e.message
    with pytest.raises(TopologyError, match="cannot read topology"):
        load_topology(tmp_path / "nope.yaml")


def test_missing_required_key() -> None:
    e = bad("name: x\n")
    assert e.path == "nodes" and "missing required key" in e.message


def test_segment_members_checked() -> None:
    text = GOOD + ("segments:\n  - name: lan\n    members:\n"
                   "      - {iface: h1:eth1, addr: 10.0.9.1/24}\n"
                   "      - {iface: nope:eth0, addr: 10.0.9.2/24}\n")
    e = bad(text)
    assert e.path == "segments[0].members[1].iface" and e.line == 15


def test_ipv6_addresses_and_routes() -> None:
    text = GOOD.replace("a_addr: 10.0.1.10/24", "a_addr: [10.0.1.10/24, 'fd00::10/64']").replace(
        "b_addr: 10.0.1.1/24", "b_addr: [10.0.1.1/24, 'fd00::1/64']") + (
        "  r1: [{dst: 'fd00:5::/64', via: 'fd00::10'}]\n")
    t = parse_topology(text, "t.yaml")
    assert t.addresses("h1") == ["10.0.1.10/24", "fd00::10/64"]
    assert t.routes["r1"][0].dst == "fd00:5::/64"
