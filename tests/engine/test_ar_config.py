"""AR570S dialect (seed 002): the document's example configs parse to the expected model.

Example files live in ``tests/engine/configs/ar/`` with their seed lines
verbatim (``↵`` ends a command, PDF line wraps kept).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from engine.config import load_config
from engine.config.ar import parse_ar
from engine.config.ar_derive import UNLIMITED_KB, spd_lookup

CONFIGS = Path(__file__).parent / "configs" / "ar"

#: Objects the seed's fragments refer to (created "in step N" of the procedures).
PRELUDE = """\
CREATE ENCO KEY=1 TYPE=GENERAL VALUE="jogefoge"
CREATE ENCO KEY=2 TYPE=GENERAL VALUE="other"
CREATE IPSEC SASPEC=1 KEYMAN=ISAKMP PROT=ESP ENCALG=DES HASHALG=SHA
CREATE IPSEC SASPEC=3 KEYMAN=ISAKMP PROT=AH HASHALG=SHA
CREATE IPSEC BUNDLE=1 KEYMAN=ISAKMP STRING="1"
CREATE IPSEC BUNDLE=2 KEYMAN=ISAKMP STRING="1"
ENABLE IPSEC
ENABLE ISAKMP
"""


def _with_prelude(name: str, prelude: str = PRELUDE):
    text = prelude + "\n" + (CONFIGS / name).read_text()
    return parse_ar(text, name)


def test_every_example_file_parses_without_errors() -> None:
    bad = {}
    for f in sorted(CONFIGS.glob("*.cfg")):
        if f.name == "e2_manual_router_b_keys.cfg":
            continue  # the seed's own typo, see test_seed_typo_descrition_is_rejected
        needs_context = not f.name.startswith(
            ("e1_isakmp", "e2_manual_router_a", "cmdref", "ip_", "reference")
        )
        cfg = _with_prelude(f.name) if needs_context else load_config(f, "ar")
        if f.name in ("natt.cfg", "udp_tunnel.cfg"):
            cfg = parse_ar(
                (CONFIGS / "e1_isakmp_router_a.cfg").read_text() + (CONFIGS / f.name).read_text()
            )
        if cfg.errors:
            bad[f.name] = [str(e) for e in cfg.errors]
    assert bad == {}


def test_e1_router_a_model() -> None:
    """L102-223: ISAKMP/IKE site-to-site, Router A."""
    cfg = load_config(CONFIGS / "e1_isakmp_router_a.cfg", "ar")
    assert cfg.dialect == "ar" and not cfg.errors
    # five out-of-scope lines (security officer, config file, security mode) L210-223
    assert [i.text.split()[0].upper() for i in cfg.ignored] == ["ADD", "LOGIN", "CREATE", "SET",
                                                                "ENABLE"]  # fmt: skip
    lines = (CONFIGS / "e1_isakmp_router_a.cfg").read_text().splitlines()
    assert lines[cfg.ignored[0].line - 1].startswith("ADD USER=secoff")  # file line of the command
    (pol,) = cfg.isakmp_policies
    assert (pol.encryption, pol.hash, pol.authentication, pol.group, pol.lifetime) == (
        "des",
        "sha",
        "pre-share",
        1,
        86400,
    )  # ISAKMP defaults L2645, L2661, L2659, L2653
    assert cfg.find_key("2.2.2.2").key == "jogefoge"
    assert cfg.find_key("3.3.3.3") is None
    ts = cfg.transform_sets["bundle1-1"]
    assert (ts.esp_encr, ts.esp_integ, ts.ah_integ, ts.mode) == ("des", "hmac-sha1-96", None,
                                                                  "tunnel")  # fmt: skip
    cmap = cfg.crypto_maps["ppp0"]
    assert cfg.interfaces["ppp0"].crypto_map == "ppp0"
    (entry,) = cmap.ordered()
    assert entry.seq == 20 and entry.description == "vpn"
    assert [str(p) for p in entry.peers] == ["2.2.2.2"]
    assert entry.transform_sets == ["bundle1-1"]
    assert entry.lifetime_seconds == 28800 and entry.lifetime_kilobytes == UNLIMITED_KB
    acl = cfg.access_lists[entry.match_address]
    # the ISAKMP PERMIT policy before it is excluded from the entry (first match wins, L147-151)
    assert acl.matches("192.168.10.5", "192.168.20.7")
    assert not acl.matches("192.168.10.5", "192.168.30.7")
    assert not acl.matches("192.168.10.5", "192.168.20.7", 17, 500, 500)
    (sel,) = cfg.protected_selectors()
    assert (str(sel.local), str(sel.remote)) == ("192.168.10.0/24", "192.168.20.0/24")
    assert cfg.globals.isakmp_enabled and not cfg.globals.nat_transparency


def test_e1_spd_lookup_order_and_implicit_deny() -> None:
    cfg = load_config(CONFIGS / "e1_isakmp_router_a.cfg", "ar")
    ar = cfg.ar
    assert spd_lookup(ar, "ppp0", "1.1.1.1", "2.2.2.2", 17, 500, 500).policy.name == "isa"
    assert spd_lookup(ar, "ppp0", "192.168.10.1", "192.168.20.1").action == "IPSEC"
    assert spd_lookup(ar, "ppp0", "192.168.10.1", "8.8.8.8").policy.name == "inet"
    # inbound: remote = source (Table 2, L455-461)
    hit = spd_lookup(ar, "ppp0", "192.168.20.1", "192.168.10.1", outbound=False)
    assert hit.policy.name == "vpn"
    assert spd_lookup(ar, "vlan1", "192.168.10.1", "8.8.8.8") is None
    # without the catch-all PERMIT, the implicit deny-all applies (L736-741)
    cfg2 = parse_ar(PRELUDE + "CREATE IPSEC POLICY=isa INT=ppp0 ACTION=PERMIT LPORT=500 "
                    "RPORT=500 TRANSPORT=UDP\n")  # fmt: skip
    res = spd_lookup(cfg2.ar, "ppp0", "192.168.10.1", "8.8.8.8")
    assert res.action == "DENY" and res.policy is None


def test_e2_manual_router_a() -> None:
    """L264-361: manual keys (RANDOM keys, SPIs 1000/1001)."""
    cfg = load_config(CONFIGS / "e2_manual_router_a.cfg", "ar")
    assert not cfg.errors
    k1, k2 = cfg.ar.enco_keys[1], cfg.ar.enco_keys[2]
    assert (k1.type, len(k1.value), k1.description) == ("DES", 8, "IPsec DES key")
    assert (k2.type, len(k2.value), k2.description) == ("GENERAL", 20, "IPsec SHA-1 key")
    spec = cfg.ar.saspecs[1]
    assert (spec.inspi, spec.outspi, spec.enckey, spec.hashkey) == (1000, 1001, 1, 2)
    (entry,) = cfg.crypto_maps["ppp0"].ordered()
    assert entry.kind == "ipsec-manual"
    assert not cfg.globals.isakmp_enabled  # only ENABLE IPSEC (L359-361)
    assert cfg.isakmp_policies == []


def test_seed_typo_descrition_is_rejected() -> None:
    """L296-300 types DESCRITION (not a prefix of DESCRIPTION): the device rejects it."""
    cfg = load_config(CONFIGS / "e2_manual_router_b_keys.cfg", "ar")
    (err,) = cfg.errors
    assert err.line == 6 and 'Parameter "DESCRITION" not recognised.' in err.message
    assert err.message.startswith("Error (")
    assert list(cfg.ar.enco_keys) == [1]  # the bad line changed nothing
    assert cfg.ar.enco_keys[1].value == bytes.fromhex("F888CAC6C66ECF52")


def test_aggressive_fixed_side_dynamic_peer() -> None:
    """L122-124, L599-604: PEER=ANY + REMOTEID, IPsec PEER=DYNAMIC → dynamic map."""
    cfg = _with_prelude("e1_aggressive_fixed_side.cfg")
    pol = cfg.ar.isakmp_policy("i")
    assert (pol.peer, pol.remoteid, pol.mode) == ("ANY", "RouterB", "AGGRESSIVE")
    # PEER=ANY + REMOTEID: the key of the peer whose ID is RouterB (L1016-1020), any address
    assert cfg.find_key("RouterB").key == "jogefoge"
    assert cfg.find_key("5.6.7.8") is None and cfg.find_key("RouterC") is None
    plain = _with_prelude("isakmp_xauth_server.cfg")  # PEER=ANY without REMOTEID
    assert plain.find_key("5.6.7.8").key == "jogefoge"  # any address (L1004-1006)
    (entry,) = cfg.crypto_maps["ppp0"].ordered()
    dyn = cfg.dynamic_maps[entry.dynamic_map]
    assert dyn.ordered()[0].peers == [] and dyn.ordered()[0].description == "vpn"


def test_aggressive_dynamic_side() -> None:
    """L128-130, L610-615: the dynamic side initiates Aggressive Mode to 1.1.1.1."""
    cfg = _with_prelude("e1_aggressive_dynamic_side.cfg")
    peer = cfg.find_peer("1.1.1.1")
    assert peer is not None and peer.aggressive_mode
    assert peer.aggressive_client_endpoint == "RouterB"  # LOCALID → own ID payload
    assert cfg.ar.isakmp_policy("i").localid == "RouterB"
    (sel,) = cfg.protected_selectors()
    assert (str(sel.local), str(sel.remote)) == ("192.168.20.0/24", "192.168.10.0/24")


def test_vpn_client_host_mask_default() -> None:
    """L639-642: RAD without RMA = host mask (L624-626)."""
    cfg = _with_prelude("e3_vpn_client_fixed.cfg")
    (sel,) = cfg.protected_selectors()
    assert str(sel.remote) == "1.2.3.4/32"


def test_transport_policy_and_bundle_two() -> None:
    """L717-720: LAD=1.1.1.1 RAD=1.2.3.4, both masks default to a host."""
    pre = PRELUDE.replace('BUNDLE=2 KEYMAN=ISAKMP STRING="1"', 'BUNDLE=2 KEYMAN=ISAKMP STRING="4"')
    pre += "CREATE IPSEC SASPEC=4 KEYMAN=ISAKMP PROT=ESP MODE=TRANSPORT ENCALG=DES HASHALG=SHA\n"
    pre = pre.replace('CREATE IPSEC BUNDLE=2 KEYMAN=ISAKMP STRING="4"\n', "")
    pre += 'CREATE IPSEC BUNDLE=2 KEYMAN=ISAKMP STRING="4"\n'
    cfg = _with_prelude("e3_transport.cfg", pre)
    assert not cfg.errors, cfg.errors
    (sel,) = cfg.protected_selectors()
    assert (str(sel.local), str(sel.remote)) == ("1.1.1.1/32", "1.2.3.4/32")
    assert cfg.transform_sets[sel.entry.transform_sets[0]].mode == "transport"


def test_multiple_dynamic_clients() -> None:
    cfg = _with_prelude("e3_multi_clients.cfg")
    assert [p.rname for p in cfg.ar.policies] == ["client1", "client2", "client3"]
    assert sorted(cfg.dynamic_maps) == ["ar-dyn-v1", "ar-dyn-v2", "ar-dyn-v3"]


def test_two_dynamic_peers_keys_by_id() -> None:
    """L1060-1065: c1 (REMOTEID=peer1, key 1), c2 (REMOTEID=peer2, key 2)."""
    cfg = _with_prelude("isakmp_two_dynamic.cfg")
    assert cfg.find_key("peer1").key == "jogefoge" and cfg.find_key("peer2").key == "other"


def test_isakmp_variants() -> None:
    two = _with_prelude("isakmp_two_peers.cfg")
    assert two.find_key("2.2.2.2").key == "jogefoge" and two.find_key("3.3.3.3").key == "other"
    assert [p.priority for p in two.isakmp_policies] == [1, 2]
    assert [p.peer for p in two.isakmp_policies] == ["2.2.2.2", "3.3.3.3"]  # per peer
    assert _with_prelude("isakmp_two_dynamic.cfg").isakmp_policies[0].peer is None  # ANY
    g2 = _with_prelude("isakmp_group2.cfg")
    assert g2.isakmp_policies[0].group == 2
    rsa = _with_prelude("isakmp_rsasig.cfg")
    assert rsa.isakmp_policies[0].authentication == "rsa-sig"
    xc = _with_prelude("isakmp_xauth_client.cfg")
    pol = xc.ar.isakmp_policy("i")
    assert (pol.xauth, pol.xauthname, pol.xauthpassword) == ("CLIENT", "client1", "passclie1")
    xs = _with_prelude("isakmp_xauth_server.cfg")
    assert len(xs.ignored) == 2  # ADD USER ... (user database, out of scope)


def test_natt_and_udp_tunnel_on_e1() -> None:
    base = (CONFIGS / "e1_isakmp_router_a.cfg").read_text()
    natt = parse_ar(base + (CONFIGS / "natt.cfg").read_text())
    assert not natt.errors and natt.globals.nat_transparency
    assert [p.name for p in natt.ar.interface_policies("ppp0")] == ["isa", "vpn", "inet", "natt"]
    udp = parse_ar(base + (CONFIGS / "udp_tunnel.cfg").read_text())
    vpn = udp.ar.policy("vpn")
    assert (vpn.udptunnel, vpn.udpheartbeat, vpn.udpport) == (True, True, 3456)


def test_command_reference_examples() -> None:
    cfg = load_config(CONFIGS / "cmdref_examples.cfg", "ar")
    assert not cfg.errors, cfg.errors
    assert cfg.ar.isakmp_policy("dyn1").mode == "AGGRESSIVE"  # MODE=AGGR (L2832)
    assert cfg.ar.isakmp_policy("xauth").extra["SETCOMMITBIT"] == "TRUE"  # SETC=TRUE
    assert cfg.ar.saspecs[3].encalg == "NULL"
    # bundle strings of L2118-2126 with SA specs that satisfy the AND/OR rules
    more = parse_ar(
        cfg_text := (CONFIGS / "cmdref_examples.cfg").read_text()
        + "CREATE IPSEC SASPEC=4 KEYMAN=ISAKMP PROT=AH HASHALG=MD5\n"
        + 'CREATE IPSEC BUNDLE=2 KEYMAN=ISAKMP STR="2 OR 3 AND 4, 2 OR 3, 4"\n'
    )
    assert cfg_text and not more.errors
    assert more.ar.bundles[2].candidates == [[[2, 3], [4]], [[2, 3]], [[4]]]
    names = [n for n in more.transform_sets if n.startswith("bundle2-")]
    assert len(names) == 5  # 2 + 2 + 1 choices, in order
    first = more.transform_sets["bundle2-1"]
    assert (first.esp_encr, first.ah_integ) == ("des", "hmac-md5-96")


def test_ip_interfaces_and_routes() -> None:
    """L1485-1531: ppp0 unnumbered / multihomed ppp0-1, default routes."""
    cfg = load_config(CONFIGS / "ip_pppoe_lan_multihomed.cfg", "ar")
    assert not cfg.errors and len(cfg.ignored) == 2  # ENABLE IP, ENABLE IP REMOTEASSIGN
    assert cfg.interfaces["ppp0-1"].addresses == [ipaddress.IPv4Interface("4.4.4.6/32")]
    assert cfg.interfaces["ppp0-0"].addresses == []  # IP=0.0.0.0: unnumbered
    assert [str(r.prefix) for r in cfg.routes] == ["0.0.0.0/0"]
    assert cfg.routes[0].interface == "ppp0-1" and cfg.routes[0].next_hop is None
    first = load_config(CONFIGS / "ip_unnumbered_vlan1_first.cfg", "ar")
    assert list(first.interfaces) == ["vlan1", "eth1"]  # order of ADD IP INT kept (L1393-1401)
    again = parse_ar((CONFIGS / "ip_unnumbered_eth1_first.cfg").read_text() * 2)
    assert len(again.errors) == 2 and "already has address" in again.errors[0].message


@pytest.mark.parametrize(
    "line",
    [
        "create ipsec saspec=5 keyman=isakmp prot=esp encalg=des hashalg=sha",
        "CRE IPS SASPEC=5 KEYM=ISAKMP PROTO=ESP ENCA=DES HASHA=SHA",
    ],
)
def test_case_insensitive_and_abbreviated(line: str) -> None:
    cfg = parse_ar(PRELUDE + line + "\n")
    assert not cfg.errors and cfg.ar.saspecs[5].encalg == "DES"


def test_disable_ipsec_removes_crypto_maps() -> None:
    cfg = load_config(CONFIGS / "e1_isakmp_router_a.cfg", "ar")
    from engine.config.ar import apply_line

    assert apply_line(cfg, "DISABLE IPSEC") is None
    assert cfg.crypto_maps == {} and cfg.interfaces["ppp0"].crypto_map is None
    assert apply_line(cfg, "ena ipsec") is None
    assert cfg.interfaces["ppp0"].crypto_map == "ppp0"


def test_manual_sa_pairs_from_e2() -> None:
    """L306-315: OUTSPI sends, INSPI receives; keys are the ENCO key values."""
    from engine.config.ar_derive import manual_sa_pairs

    cfg = load_config(CONFIGS / "e2_manual_router_a.cfg", "ar")
    cfg = parse_ar(
        "ADD IP INT=ppp0 IP=1.1.1.1 MASK=255.255.255.0\n"
        + (CONFIGS / "e2_manual_router_a.cfg").read_text()
    )
    (pair,) = manual_sa_pairs(cfg)
    assert (pair["peer"], pair["local"], pair["mode"]) == ("2.2.2.2", "1.1.1.1", "tunnel")
    assert (pair["local_ts"], pair["remote_ts"]) == ("192.168.10.0/24", "192.168.20.0/24")
    (out,), (inn,) = pair["outbound"], pair["inbound"]
    assert (out["spi"], inn["spi"]) == (1001, 1000)
    assert out["encr_key"] == cfg.ar.enco_keys[1].value.hex() and len(out["encr_key"]) == 16
    assert out["integ_key"] == cfg.ar.enco_keys[2].value.hex() and len(out["integ_key"]) == 40
    assert (out["encr"], out["integ"]) == ("des", "hmac-sha1-96")
    assert manual_sa_pairs(load_config(CONFIGS / "e1_isakmp_router_a.cfg", "ar")) == []


def test_spd_rules_e1() -> None:
    """L147-151, L736-753: isa (pass IKE), vpn (IPsec), inet (pass all), implicit deny."""
    from engine.config.ar_derive import spd_rules

    cfg = load_config(CONFIGS / "e1_isakmp_router_a.cfg", "ar")
    rules = [(r.direction, r.policy, r.verdict, r.protocol, r.sport, r.dport,
              str(r.src) if r.src else None, str(r.dst) if r.dst else None)
             for r in spd_rules(cfg)]  # fmt: skip
    assert rules == [
        ("out", "isa", "accept", 17, 500, 500, None, None),
        ("in", "isa", "accept", 17, 500, 500, None, None),
        ("in", "vpn", "accept", 50, None, None, "2.2.2.2/32", None),
        ("in", "vpn", "accept", 51, None, None, "2.2.2.2/32", None),
        ("out", "vpn", "ipsec", None, None, None, "192.168.10.0/24", "192.168.20.0/24"),
        ("in", "vpn", "ipsec", None, None, None, "192.168.20.0/24", "192.168.10.0/24"),
        ("out", "inet", "accept", None, None, None, None, None),
        ("in", "inet", "accept", None, None, None, None, None),
        ("out", None, "drop", None, None, None, None, None),
        ("in", None, "drop", None, None, None, None, None),
    ]
    from engine.config.ar import apply_line

    assert apply_line(cfg, "DISABLE IPSEC") is None
    assert spd_rules(cfg) == []


def test_dpd_schedule_matches_the_figure() -> None:
    """L1640-1691: default timers → R-U-THERE #0..#9 at 0, 20, 24, ... 248 s, Delete at 312 s."""
    cfg = parse_ar(PRELUDE + "CREATE ISAKMP POLICY=d PEER=2.2.2.2 KEY=1 DPDMODE=BOTH\n")
    ka = cfg.globals.keepalive
    assert ka is not None and (ka.seconds, ka.retry, ka.mode) == (20, 4, "periodic")
    assert ka.schedule == (0, 20, 24, 32, 48, 72, 104, 144, 192, 248, 312)
    flat = parse_ar(
        PRELUDE + "CREATE ISAKMP POLICY=d PEER=2.2.2.2 KEY=1 DPDMODE=BOTH "
        "MSGBACKOFF=NONE MSGRETRYLIMIT=2 MSGTIMEOUT=5 DPDIDLETIMEOUT=30\n"
    )
    assert flat.globals.keepalive.schedule == (0, 30, 35, 40, 45)
    # DPDMODE=RECEIVE answers but never sends (L2631-2643): no keepalive of our own
    rx = parse_ar(PRELUDE + "CREATE ISAKMP POLICY=d PEER=2.2.2.2 KEY=1 DPDMODE=RECEIVE\n")
    assert rx.globals.keepalive is None


def test_ipv6_policy_selectors() -> None:
    """IPVERSION=6 with an IPv6 prefix (L2142-2145, L2163): ANY means ::/0 there."""
    from engine.config.ar_derive import spd_rules

    cfg = parse_ar(PRELUDE + "CREATE IPSEC POLICY=v6 INT=ppp0 ACTION=IPSEC KEYMAN=ISAKMP "
                   "BUNDLE=1 PEER=2001:db8::2 IPVERSION=6 LAD=2001:db8:10::/64\n")  # fmt: skip
    assert not cfg.errors, cfg.errors
    (sel,) = cfg.protected_selectors()
    assert (str(sel.local), str(sel.remote)) == ("2001:db8:10::/64", "::/0")
    assert all(r.src is None or r.src.version == 4 for r in spd_rules(cfg))
