"""Every IOS configuration example of the documents parses, with the expected model.

The files under ``tests/engine/configs/`` are verbatim copies of the seeds'
examples (first line: seed file and line range).  Expected device errors are
the documents' own defects (see ``EXPECTED_ERRORS``).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from engine.config import Config, load_config
from engine.config.ios import parse_ios

CONFIGS = Path(__file__).parent / "configs"
ALL = sorted(p.name for p in CONFIGS.glob("*.cfg"))

#: file -> [(line in file, column or None, message)]: defects of the source text that a
#: real device rejects too.
EXPECTED_ERRORS: dict[str, list[tuple[int, int | None, str]]] = {
    # seed 000 L2428: "interface" without a name (PDF extraction lost it).
    "s000_dpd_site_to_site.cfg": [(13, None, "% Incomplete command.")],
    # seed 000 L4451: "ipv6 address" without its argument.
    "s000_qos_llq_group.cfg": [(44, None, "% Incomplete command.")],
    # seed 001 L2023: typo "crypto iakmp" (the spec notes flag it).
    "s001_accounting_isakmp_profile.cfg": [(35, 7, "% Invalid input detected at '^' marker.")],
}


def load(name: str) -> Config:
    return load_config(CONFIGS / name)


def net(text: str) -> ipaddress.IPv4Network:
    return ipaddress.ip_network(text)


@pytest.mark.parametrize("name", ALL)
def test_example_parses(name: str) -> None:
    cfg = load(name)
    got = [(e.line, e.column, e.message) for e in cfg.errors]
    assert got == EXPECTED_ERRORS.get(name, []), [str(e) for e in cfg.errors]
    header = (CONFIGS / name).read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("! seed 00"), "first line must cite the seed"


def test_antireplay_global_1024() -> None:
    """seed 000 L310-366: global window 1024, joined lines repaired."""
    cfg = load("s000_antireplay_global.cfg")
    assert cfg.globals.hostname == "VPN-Gateway1"
    assert cfg.globals.replay_window == 1024
    assert [p.priority for p in cfg.isakmp_policies] == [10]
    assert cfg.isakmp_policies[0].authentication == "pre-share"
    assert cfg.isakmp_policies[0].encryption == "des"  # IOS default
    assert cfg.find_key("192.165.201.2").key == "cisco123"
    ts = cfg.transform_sets["basic"]
    assert (ts.esp_encr, ts.esp_integ, ts.ah_integ, ts.mode) == (
        "des",
        "hmac-md5-96",
        None,
        "tunnel",
    )
    entry = cfg.crypto_maps["mymap"].entries[10]
    assert [str(p) for p in entry.peers] == ["192.165.201.2"]
    assert entry.transform_sets == ["basic"] and entry.match_address == "101"
    assert cfg.entry_replay_window(entry) == 1024
    s1 = cfg.interfaces["Serial1/0"]
    assert s1.crypto_map == "mymap" and str(s1.primary) == "192.165.200.2/30"
    assert cfg.interfaces["FastEthernet0/0"].crypto_map is None
    acl = cfg.access_lists["101"]
    assert [(a.src, a.dst) for a in acl.entries] == [(net("192.168.1.0/24"), net("172.16.2.0/24"))]
    assert acl.remarks == ["Crypto ACL"]
    assert cfg.routes[0].prefix == net("0.0.0.0/0")
    assert str(cfg.routes[0].next_hop) == "192.165.200.1"
    # L334 "crypto isakmp key cisco123 address 192.165.201.2 !" is one of the repaired lines.
    assert any("crypto isakmp key cisco123" in w.message for w in cfg.warnings)
    sel = cfg.protected_selectors()
    assert [(s.local, s.remote, s.entry.seq) for s in sel] == [
        (net("192.168.1.0/24"), net("172.16.2.0/24"), 10)
    ]


def test_antireplay_per_map_disable() -> None:
    """seed 000 L376-429: entry 17 replay disabled, 18/19 default 64; peers as printed."""
    cfg = load("s000_antireplay_map.cfg")
    m = cfg.crypto_maps["ETH0"]
    assert sorted(m.entries) == [17, 18, 19]
    assert m.entries[17].replay_disabled and cfg.entry_replay_window(m.entries[17]) == 0
    assert cfg.entry_replay_window(m.entries[18]) == 64
    assert [str(p) for p in m.entries[18].peers] == ["192.168.1.3"]  # seed inconsistency kept
    assert [str(p) for p in m.entries[19].peers] == ["192.168.1.4"]
    assert [m.entries[s].match_address for s in (17, 18, 19)] == ["170", "180", "190"]
    assert [m.entries[s].transform_sets for s in (17, 18, 19)] == [
        ["170cisco"],
        ["180cisco"],
        ["190cisco"],
    ]
    assert [k.key for k in cfg.isakmp_keys] == ["cisco170", "cisco180", "cisco190"]
    assert cfg.find_key("172.17.150.4").key == "cisco190"
    assert len(cfg.routes) == 3 and str(cfg.routes[2].next_hop) == "172.17.150.4"
    assert cfg.access_lists["190"].entries[0].dst == net("172.20.190.0/24")
    assert cfg.interfaces["FastEthernet0"].crypto_map == "ETH0"
    assert cfg.isakmp_policies[0].authentication == "pre-share"


@pytest.mark.parametrize(
    "router,local,peer,acl_src,acl_dst",
    [
        ("a", "10.1.1.1", "10.2.2.2", "10.0.0.1/32", "10.0.2.2/32"),
        ("b", "10.2.2.2", "10.1.1.1", "10.0.2.2/32", "10.0.0.1/32"),
    ],
)
def test_invalid_spi_recovery_routers(router, local, peer, acl_src, acl_dst) -> None:
    """seed 000 L1492-1812: show running-config output of both routers."""
    cfg = load(f"s000_invalid_spi_router_{router}.cfg")
    assert cfg.globals.invalid_spi_recovery
    pol = cfg.isakmp_policies[0]
    assert (pol.priority, pol.authentication, pol.lifetime) == (1, "pre-share", 180)
    key = cfg.find_key(peer)
    assert key.key == "1234" and not key.encrypted
    ts = cfg.transform_sets["auth2"]
    assert (ts.ah_integ, ts.esp_encr, ts.esp_integ) == ("hmac-sha1-96", "des", "hmac-sha1-96")
    entry = cfg.crypto_maps["testtag1"].entries[10]
    assert str(entry.peers[0]) == peer and entry.match_address == "150"
    ace = cfg.access_lists["150"].entries[0]
    assert (ace.src, ace.dst, ace.protocol) == (net(acl_src), net(acl_dst), None)
    outside = [i for i in cfg.interfaces.values() if i.crypto_map == "testtag1"]
    assert [str(i.primary.ip) for i in outside] == [local]
    # "ipseca-71a#" after "end" and the prompt echo are not configuration.
    assert any(i.mode == "after-end" for i in cfg.ignored) == (router == "a")
    assert cfg.ignored[0].text.startswith("Router# show running-config")


def test_routes_keep_masked_prefix() -> None:
    """seed 000 L1605: "ip route 10.3.3.3 255.0.0.0" has host bits; IOS stores 10.0.0.0/8."""
    cfg = load("s000_invalid_spi_router_a.cfg")
    assert cfg.routes[0].prefix == net("10.0.0.0/8")


@pytest.mark.parametrize(
    "name,mode",
    [
        ("s000_dpd_site_to_site.cfg", "periodic"),
        ("s003_dpd_site_to_site.cfg", "periodic"),
    ],
)
def test_dpd_site_to_site(name: str, mode: str) -> None:
    """seed 000 L2414-2432 / seed 003 L185-208: keepalive 10 periodic, key with mask."""
    cfg = load(name)
    ka = cfg.globals.keepalive
    assert (ka.seconds, ka.retry, ka.mode) == (10, 2, mode)
    key = cfg.isakmp_keys[0]
    assert key.key == "kd94j1ksldz" and key.address == net("10.2.80.0/24")
    assert cfg.find_key("10.2.80.1") is key


def test_dpd_policies() -> None:
    p0 = load("s000_dpd_site_to_site.cfg").isakmp_policies[0]
    assert (p0.encryption, p0.key_length, p0.group, p0.hash, p0.cipher_name) == (
        "aes",
        128,
        14,
        "sha",
        "aes128",
    )
    p3 = load("s003_dpd_site_to_site.cfg")
    pol = p3.isakmp_policies[0]
    assert (pol.encryption, pol.group, pol.authentication) == ("3des", 2, "pre-share")
    assert p3.interfaces["FastEthernet0"].crypto_map == "test"
    assert p3.transform_sets["esp-3des-sha"].esp_encr == "3des"


@pytest.mark.parametrize("name", ["s000_dpd_ezvpn.cfg", "s003_dpd_ezvpn.cfg"])
def test_ezvpn_keepalive_and_ignored_client(name: str) -> None:
    """seed 000 L2439-2457 / 003 L216-232: keepalive 30 20 periodic; Easy VPN is ignored."""
    cfg = load(name)
    ka = cfg.globals.keepalive
    assert (ka.seconds, ka.retry, ka.mode) == (30, 20, "periodic")
    texts = [i.text.strip() for i in cfg.ignored]
    assert "crypto ipsec client ezvpn ezvpn-config" in texts
    assert "peer 10.2.80.209" in texts
    assert not cfg.crypto_maps


@pytest.mark.parametrize("name", ["s000_dpd_multi_peer.cfg", "s003_dpd_multi_peer.cfg"])
def test_multi_peer_order(name: str) -> None:
    """seed 000 L2612-2617 / 003 L404-409: three peers, in order, none default."""
    entry = load(name).crypto_maps["green"].entries[1]
    assert [str(p) for p in entry.peers] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert entry.default_peer is None
    assert entry.transform_sets == ["txfm"] and entry.match_address == "101"


def test_natt_keepalive() -> None:
    """seed 000 L3089-3100: crypto isakmp nat keepalive 20."""
    cfg = load("s000_natt_keepalive.cfg")
    assert cfg.globals.nat_keepalive == 20 and cfg.globals.nat_transparency
    assert cfg.crypto_maps["test2"].entries[10].transform_sets == ["t2"]


def test_df_bit() -> None:
    """seed 000 L3444-3489: global clear, FastEthernet copy; AH+ESP set."""
    cfg = load("s000_df_bit.cfg")
    assert cfg.globals.df_bit == "clear"
    fe, fe1, s0 = (cfg.interfaces[n] for n in ("FastEthernet", "FastEthernet1", "Serial0"))
    assert cfg.effective_df_bit(fe) == "copy"
    assert cfg.effective_df_bit(fe1) == "clear" and cfg.effective_df_bit(s0) == "clear"
    assert (fe.crypto_map, fe1.crypto_map, s0.crypto_map) == ("armadillo", "basilisk", None)
    assert s0.addresses == []
    ts = cfg.transform_sets["exampleset"]
    assert (ts.ah_integ, ts.esp_encr, ts.esp_integ) == ("hmac-md5-96", "des", None)
    assert cfg.isakmp_policies[0].hash == "md5"
    assert cfg.find_key("192.168.11.19").key == "Key-What-Key"


def test_idle_timers() -> None:
    """seed 000 L3806, L3812-3813 and seed 004 L165-168."""
    assert load("s000_idle_global.cfg").globals.idle_time == 600
    assert load("s000_idle_map.cfg").crypto_maps["test"].entries[1].idletime == 600
    entry = load("s004_idletime_default.cfg").crypto_maps["tohub"].entries[1]
    assert (entry.idletime, entry.idletime_default) == (120, True)


def test_default_peer() -> None:
    """seed 004 L155-157: the default peer is first."""
    entry = load("s004_default_peer.cfg").crypto_maps["tohub"].entries[1]
    assert [(str(p), p.default) for p in entry.peers] == [("10.1.1.1", True), ("10.2.2.2", False)]
    assert str(entry.default_peer) == "10.1.1.1"


def test_ipv6_crypto_maps() -> None:
    """seed 000 L4351-4465: IPv6 crypto maps, peers with and without "address" or prefix."""
    llq = load("s000_qos_llq.cfg")
    m = llq.crypto_maps["CMAP_1"]
    assert m.ipv6 and str(m.entries[1].peers[0]) == "2001:db8:ffff::1"
    gi = llq.interfaces["GigabitEthernet0/0/1"]
    assert gi.crypto_map_v6 == "CMAP_1"
    assert str(gi.addresses_v6[0]) == "2001:db8:ffff::2/64"
    pre = load("s000_qos_preclassify_map.cfg").crypto_maps["CM_V6"].entries[10]
    assert (pre.match_address, pre.transform_sets, str(pre.peers[0])) == (
        "ACL_IPV6_1",
        ["set1"],
        "2001:db8:ffff::1",
    )
    grp = load("s000_qos_llq_group.cfg")
    e = grp.crypto_maps["cmap"].entries[1]
    assert str(e.peers[0]) == "2001:db8:ffff:1::e"  # "/64" on a peer address is dropped
    assert e.lifetime_seconds == 600
    assert grp.interfaces["GigabitEthernet0/2/0"].crypto_map_v6 == "cmap"


def test_vti_ipv6() -> None:
    """seed 000 L5545-5569: IPv6 key, keepalive 30 30, IPsec profile, tunnel interface."""
    cfg = load("s000_vti_ipv6.cfg")
    key = cfg.isakmp_keys[0]
    assert key.key == "myPreshareKey0" and cfg.find_key("3ffe:2002::a8bb:ccff:fe01:2c02") is key
    ka = cfg.globals.keepalive
    assert (ka.seconds, ka.retry, ka.mode) == (30, 30, "on-demand")
    assert cfg.ipsec_profiles["profile0"].transform_sets == ["Trans1"]
    t0 = cfg.interfaces["Tunnel0"]
    assert t0.tunnel == {
        "source": "Ethernet2/0",
        "destination": "3FFE:2002::A8BB:CCFF:FE01:2C02",
        "mode": "ipsec ipv6",
        "protection": "profile0",
    }
    ts = cfg.transform_sets["Trans1"]
    assert (ts.ah_integ, ts.esp_encr) == ("hmac-sha1-96", "aes128")


def test_vrf_hub() -> None:
    """seed 001 L522-803: keyrings, ISAKMP profiles, VRF routes, global lifetimes."""
    cfg = load("s001_vrf_hub.cfg")
    assert cfg.globals.hostname == "ipsecf-3745b"
    assert (cfg.globals.sa_lifetime_kilobytes, cfg.globals.sa_lifetime_seconds) == (99000, 5000)
    assert [p.priority for p in cfg.sorted_policies()] == [1, 50]
    assert cfg.find_key("10.1.1.1").key == "vrf1-1"  # from "crypto keyring vrf1-1"
    assert cfg.find_key("10.1.151.1").key == "global1-1"
    assert set(cfg.crypto_maps) == {"global1-1", "global2-1", "vrf1-1", "vrf2-1"}
    assert cfg.crypto_maps["vrf1-1"].entries[10].isakmp_profile == "vrf1-1"
    assert cfg.interfaces["Serial1/2.1"].crypto_map == "vrf1-1"
    assert cfg.interfaces["Serial1/2.1"].vrf == "vrf1"
    assert cfg.interfaces["Serial1/2.151"].crypto_map == "global1-1"
    vrf_routes = [r for r in cfg.routes if r.vrf == "vrf1"]
    assert [str(r.prefix) for r in vrf_routes] == ["10.20.1.1/32", "10.22.1.1/32"]
    assert any(r.interface == "FastEthernet0/0" for r in cfg.routes)
    assert cfg.entry_lifetime(cfg.crypto_maps["vrf2-1"].entries[10]) == (5000, 99000)


def test_accounting_examples() -> None:
    """seed 001 L1989-2243: dynamic map with reverse-route; AAA lines ignored."""
    cfg = load("s001_accounting_isakmp_profile.cfg")
    d = cfg.dynamic_maps["remotes"].entries[1]
    assert d.lifetime_seconds == 120 and d.reverse_route and d.transform_sets == ["esp-des-md5"]
    assert cfg.crypto_maps["test"].entries[10].dynamic_map == "remotes"
    cfg2 = load("s001_accounting_no_profile.cfg")
    assert cfg2.crypto_maps["test"].entries[10].lifetime_seconds == 120
    assert [p.lifetime for p in cfg2.sorted_policies()] == [86400, 200]


def test_transcripts_router_a_and_b() -> None:
    """seed 001 L3219-3308: CLI transcripts; no policy / no transform set configured."""
    a = load("s001_default_ike_policy_router_a.cfg")
    assert a.isakmp_policies == []
    assert a.transform_sets["test_transf"].mode == "tunnel"  # "crypto ipsec transform" abbreviated
    e = a.crypto_maps["testmap"].entries[10]
    assert (str(e.peers[0]), e.match_address, e.transform_sets) == (
        "209.165.200.226",
        "101",
        ["test_transf"],
    )
    assert a.interfaces["FastEthernet1/2"].crypto_map == "testmap"
    b = load("s001_default_transform_set_router_b.cfg")
    assert b.crypto_maps["testmap"].entries[10].dynamic_map == "dyn_testmap"
    assert "dyn_testmap" in b.dynamic_maps
    pol = b.isakmp_policies[0]
    assert (pol.priority, pol.encryption, pol.hash, pol.group) == (10, "aes", "sha", 5)
    ta = load("s001_default_transform_set_router_a.cfg")
    assert ta.transform_sets == {}
    assert ta.find_key("209.165.200.225").key == "identify"


def test_repair_off_gives_device_errors() -> None:
    """Without repair the joined lines are rejected like a device would (caret on the junk)."""
    text = (CONFIGS / "s000_antireplay_global.cfg").read_text(encoding="utf-8")
    cfg = parse_ios(text, "x.cfg", repair=False)
    first = cfg.errors[0]
    assert first.line == 25 and first.text == "crypto isakmp key cisco123 address 192.165.201.2 !"
    assert first.column == first.text.index("!")
    assert first.message == "% Invalid input detected at '^' marker."
    assert cfg.isakmp_keys == []  # the bad line changed nothing
    assert cfg.transform_sets == {} and cfg.crypto_maps["mymap"].entries[10].peers
