"""IPv6 VTI configuration (seed 000 ch. 10, L5152-5569): the document's example
loads, the generated crypto map, and two IKE engines negotiate any/any over it."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from engine.config.ios import parse_ios
from engine.config.vti import VTI_SEQ, eui64_address, vti_by_map, vtis
from engine.ike import IkeEngine, PacketSelector
from engine.ike.events import ChildSaUp, IkeSaUp
from engine.show.running import running_config
from tests.engine.ike_helpers import Wire

R1_ADDR = "3ffe:2002::a8bb:ccff:fe01:2b02"
R2_ADDR = "3ffe:2002::a8bb:ccff:fe01:2c02"

#: seed 000 L5545-5569, verbatim.
SEED_VTI = """\
crypto isakmp policy 1
encryption aes
authentication pre-share
group 14

!
crypto isakmp key myPreshareKey0 address ipv6 3FFE:2002::A8BB:CCFF:FE01:2C02/128
crypto isakmp keepalive 30 30
!
crypto ipsec transform-set Trans1 ah-sha-hmac esp-aes
!
crypto ipsec profile profile0
set transform-set Trans1

!
ipv6 cef
!
interface Tunnel0
ipv6 address 3FFE:1001::/64 eui-64
ipv6 enable
ipv6 cef
tunnel source Ethernet2/0
tunnel destination 3FFE:2002::A8BB:CCFF:FE01:2C02
tunnel mode ipsec ipv6
tunnel protection ipsec profile profile0
"""


def mirrored(text: str) -> str:
    """Router 2: key and destination point at router 1, another tunnel prefix."""
    return (text.replace("3FFE:2002::A8BB:CCFF:FE01:2C02", R1_ADDR.upper())
            .replace("3FFE:1001::/64", "3FFE:1002::/64"))


def with_source(text: str, addr: str) -> str:
    return text + f"interface Ethernet2/0\n ipv6 address {addr}/64\n"


def test_seed_example_loads_without_errors():
    cfg = parse_ios(SEED_VTI)
    assert cfg.errors == []
    t0 = cfg.interfaces["Tunnel0"]
    assert t0.eui64 == [ipaddress.ip_network("3ffe:1001::/64")] and t0.ipv6_enable
    (v,) = vtis(cfg)
    assert v.name == "Tunnel0" and v.inner_version == 6 and v.profile == "profile0"
    assert v.destination == ipaddress.ip_address("3ffe:2002::a8bb:ccff:fe01:2c02")
    assert v.map_name == "Tunnel0-head-0" and v.entry.seq == VTI_SEQ
    assert v.entry.transform_sets == ["Trans1"] and v.problems == []
    assert str(v.acl.entries[0].src) == "::/0" and str(v.acl.entries[0].dst) == "::/0"
    assert vti_by_map(cfg, "Tunnel0-head-0").name == "Tunnel0"
    text, _ = running_config(cfg)
    assert " ipv6 address 3FFE:1001::/64 eui-64".lower() in text.lower()
    assert " tunnel protection ipsec profile profile0" in text


def test_ipv4_mode_and_non_ipsec_modes():
    cfg = parse_ios("crypto ipsec profile P\n set transform-set T\n"
                    "interface Tunnel1\n ip address 10.9.9.1 255.255.255.252\n"
                    " tunnel source 192.0.2.1\n tunnel destination 192.0.2.2\n"
                    " tunnel mode ipsec ipv4\n tunnel protection ipsec profile P\n"
                    "interface Tunnel2\n tunnel destination 192.0.2.3\n"
                    " tunnel protection ipsec profile P\n")
    (v,) = vtis(cfg)  # Tunnel2 is GRE (default mode): not an IPsec VTI
    assert v.name == "Tunnel1" and v.inner_version == 4 and v.local_address() == "192.0.2.1"
    assert str(v.acl.entries[0].dst) == "0.0.0.0/0"


def test_shared_flagged_for_ipv6():
    cfg = parse_ios(SEED_VTI.replace("protection ipsec profile profile0\n",
                                     "protection ipsec profile profile0 shared\n"))
    (v,) = vtis(cfg)
    assert any("shared" in p for p in v.problems)


def test_qos_lines_recorded():
    cfg = parse_ios("platform ipsec llq qos-group 1\nplatform ipsec llq qos-group 49\n"
                    "crypto map ipv6 CM_V6 10 ipsec-isakmp\nmatch address ACL_IPV6_1\n"
                    "set transform-set set1\nset peer 2001:DB8:FFFF::1\nqos pre-classify\n"
                    "interface Tunnel1\nipv6 address 2001:DB8:2::F/64\nqos pre-classify\n"
                    "ipv6 mtu 1400\ntunnel protection ipsec profile greprof\n")
    assert cfg.errors == []
    assert cfg.globals.llq_qos_groups == [1, 49]
    assert cfg.crypto_maps["CM_V6"].entries[10].qos_pre_classify
    t1 = cfg.interfaces["Tunnel1"]
    assert t1.qos_pre_classify and t1.ipv6_mtu == 1400
    text, _ = running_config(cfg)
    assert "platform ipsec llq qos-group 49" in text and " qos pre-classify" in text
    assert " ipv6 mtu 1400" in text
    bad = parse_ios("platform ipsec llq qos-group 100\n")
    assert bad.errors and bad.globals.llq_qos_groups == []


def test_eui64_known_answer():
    # seed 000 L5567: 3FFE:2002::A8BB:CCFF:FE01:2C02 is the EUI-64 of aa:bb:cc:01:2c:02
    got = eui64_address(ipaddress.ip_network("3ffe:2002::/64"), bytes.fromhex("aabbcc012c02"))
    assert got == ipaddress.ip_interface("3ffe:2002::a8bb:ccff:fe01:2c02/64")
    with pytest.raises(ValueError):
        eui64_address(ipaddress.ip_network("3ffe:2002::/64"), b"\x01")


@pytest.mark.parametrize("source_in_config", [True, False])
def test_ike_any_any_between_two_vtis(source_in_config):
    """RFC 2409 §5.5: Quick Mode proxy IDs ::/0 <-> ::/0; AH+ESP bundle (Trans1);
    remote peer = tunnel destination, local = tunnel source address (L4659-4661)."""
    t1, t2 = SEED_VTI.replace("2C02", "2c02"), mirrored(SEED_VTI)
    if source_in_config:
        t1, t2 = with_source(t1, R1_ADDR), with_source(t2, R2_ADDR)
    c1, c2 = parse_ios(t1), parse_ios(t2)
    assert c1.errors == [] and c2.errors == []
    # without the address in the config, the local address closest to the peer wins
    w = Wire(IkeEngine(c1, ["2001:db8:1::1", R1_ADDR]), IkeEngine(c2, [R2_ADDR]))
    assert w.a.acquire(PacketSelector("2001:db8:1::10", "2001:db8:2::10", 58,
                                      interface="Tunnel0"), 0)
    w.pump()
    (ua,), (ub,) = w.of("a", ChildSaUp), w.of("b", ChildSaUp)
    assert w.of("a", IkeSaUp)[0].peer[0] == R2_ADDR
    for up, peer in ((ua, R2_ADDR), (ub, R1_ADDR)):
        p = up.pair
        assert p.peer == peer and p.mode == "tunnel"
        assert str(p.local_ts.network) == "::/0" and str(p.remote_ts.network) == "::/0"
        assert [k.proto for k in p.inbound] == ["ah", "esp"]
        assert p.crypto_map == "Tunnel0-head-0"
    # a second packet to another destination needs no new negotiation (any/any covers it)
    w.a.acquire(PacketSelector("2001:db8:1::10", "2001:db8:3::1", 58, interface="Tunnel0"), 1)
    w.pump()
    assert len(w.of("a", ChildSaUp)) == 1


SEED = Path(__file__).resolve().parents[2] / "scenarios" / "seeds" / "000_c6e6876e9d817ea1.txt"


def seed_lines(first: int, last: int) -> str:
    return "\n".join(SEED.read_text().splitlines()[first - 1:last]) + "\n"


def test_qos_examples_load_verbatim():
    """Seed 000 §9.5 (T18, T21, T27, T29): the QoS examples load; only the bare
    ``ipv6 address`` line (L4451, PDF loss) is an error, the rest applies."""
    llq = parse_ios(seed_lines(4350, 4373))  # crypto LLQ
    assert llq.errors == []
    assert llq.crypto_maps["CMAP_1"].ipv6 and llq.interfaces["GigabitEthernet0/0/1"].crypto_map_v6
    pre = parse_ios(seed_lines(4378, 4389))  # pre-classify on a crypto map
    assert pre.errors == [] and pre.crypto_maps["CM_V6"].entries[10].qos_pre_classify
    tun = parse_ios(seed_lines(4395, 4404))  # pre-classify on a tunnel
    t1 = tun.interfaces["Tunnel1"]
    assert tun.errors == [] and t1.qos_pre_classify and t1.ipv6_mtu == 1400
    grp = parse_ios(seed_lines(4409, 4465))  # LLQ per QoS group
    assert [e.line for e in grp.errors] == [43]  # L4451: 'ipv6 address' without argument
    assert grp.globals.llq_qos_groups == [1, 49]
    (entry,) = grp.crypto_maps["cmap"].ordered()
    assert entry.lifetime_seconds == 600 and str(entry.peers[0]) == "2001:db8:ffff:1::e"
    assert grp.interfaces["GigabitEthernet0/2/0"].crypto_map_v6 == "cmap"
