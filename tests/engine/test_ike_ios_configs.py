"""IKE between two engines configured from IOS text through the real parser
(engine/config/ios.py), as in the documents' site-to-site examples: static
crypto map on one side, dynamic crypto map with a wildcard key on the other."""

from __future__ import annotations

from engine.config.ios import parse_ios
from engine.ike import ChildSaUp, IkeEngine, IkeSaUp, Log, PacketSelector
from tests.engine.ike_helpers import Wire

R1 = """\
hostname RouterA
crypto isakmp policy 10
 encr aes 256
 hash sha256
 authentication pre-share
 group 14
crypto isakmp key cisco123 address 10.0.0.2
crypto ipsec transform-set TS esp-aes 256 esp-sha-hmac
crypto map VPN 10 ipsec-isakmp
 set peer 10.0.0.2
 set transform-set TS
 set pfs group14
 set security-association lifetime seconds 1800
 match address 101
interface GigabitEthernet0/0
 ip address 10.0.0.1 255.255.255.0
 crypto map VPN
access-list 101 permit ip 192.168.1.0 0.0.0.255 192.168.2.0 0.0.0.255
"""

R2_DYNAMIC = """\
hostname RouterB
crypto isakmp policy 10
 encr aes 256
 hash sha256
 authentication pre-share
 group 14
crypto isakmp key cisco123 address 0.0.0.0 0.0.0.0
crypto ipsec transform-set TS esp-aes 256 esp-sha-hmac
crypto dynamic-map DYN 10
 set transform-set TS
crypto map VPN 10 ipsec-isakmp dynamic DYN
interface GigabitEthernet0/1
 ip address 10.0.0.2 255.255.255.0
 crypto map VPN
"""


def test_ios_static_to_dynamic_map():
    c1, c2 = parse_ios(R1, "r1.cfg"), parse_ios(R2_DYNAMIC, "r2.cfg")
    assert not c1.errors and not c2.errors, (c1.errors, c2.errors)
    w = Wire(IkeEngine(c1, ["10.0.0.1"]), IkeEngine(c2, ["10.0.0.2"]))
    assert w.a.acquire(PacketSelector("192.168.1.10", "192.168.2.10", 1), 0)
    w.pump()
    (ua,) = w.of("a", IkeSaUp)
    assert (ua.encryption, ua.hash, ua.group) == ("aes256", "sha256", 14)
    (ca,), (cb,) = w.of("a", ChildSaUp), w.of("b", ChildSaUp)
    assert ca.pair.pfs_group == cb.pair.pfs_group == 14
    assert ca.pair.lifetime_seconds == cb.pair.lifetime_seconds == 1800
    assert (ca.pair.crypto_map, ca.pair.crypto_map_seq) == ("VPN", 10)
    assert cb.pair.crypto_map == "DYN" and str(cb.pair.local_ts.network) == "192.168.2.0/24"
    assert ca.pair.keys("esp", "out") == cb.pair.keys("esp", "in")
    assert not [e for e in w.events_b if isinstance(e, Log) and "FAIL" in e.mnemonic]


def test_ios_default_transform_set_and_policies():
    r1 = (
        R1.replace(" set transform-set TS\n", "")
        .replace(" set pfs group14\n", "")
        .replace("crypto ipsec transform-set TS esp-aes 256 esp-sha-hmac\n", "")
    )
    r1 = (
        r1.split("crypto isakmp policy 10")[0]
        + "crypto isakmp key"
        + r1.split("crypto isakmp key")[1]
    )
    r2 = (
        r1.replace("10.0.0.2", "10.0.0.X")
        .replace("10.0.0.1", "10.0.0.2")
        .replace("10.0.0.X", "10.0.0.1")
        .replace("192.168.1.0 0.0.0.255 192.168.2.0", "192.168.2.0 0.0.0.255 192.168.1.0")
    )
    c1, c2 = parse_ios(r1, "r1.cfg"), parse_ios(r2, "r2.cfg")
    assert not c1.isakmp_policies and not c1.errors
    w = Wire(IkeEngine(c1, ["10.0.0.1"]), IkeEngine(c2, ["10.0.0.2"]))
    assert w.a.acquire(PacketSelector("192.168.1.10", "192.168.2.10", 1), 0)
    w.pump()
    (ca,) = w.of("a", ChildSaUp)
    assert ca.pair.transform_set.endswith("default_transform_set_1")
    assert ca.pair.mode == "tunnel"  # default sets are transport, tunnel for LAN traffic
    assert (ca.pair.keys("esp", "out").encr, ca.pair.keys("esp", "out").integ) == (
        "aes128",
        "hmac-sha1-96",
    )
    logs = [str(e) for e in w.events_a if isinstance(e, Log)]
    assert "%CRYPTO-6-IKMP_POLICY_DEFAULT: Using ISAKMP Default policies" in logs
    assert "%CRYPTO-5-IPSEC_DEFAULT_TRANSFORM: Using Default IPsec transform-set" in logs
