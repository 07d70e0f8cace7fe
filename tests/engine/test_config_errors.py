"""IOS parser errors (message, caret column), runtime configuration, ACL/model helpers."""

from __future__ import annotations

import ipaddress

import pytest

from engine.config import Config
from engine.config.grammar import INCOMPLETE, INVALID
from engine.config.ios import ModeState, apply_line, format_error, parse_ios, prompt
from engine.config.model import effective_policies, effective_transform_sets

BASE = """\
crypto isakmp policy 10
 authentication pre-share
crypto isakmp key secret address 10.0.0.2
crypto ipsec transform-set ts esp-aes 256 esp-sha-hmac
 mode transport
crypto map M 10 ipsec-isakmp
 set peer 10.0.0.2
 set transform-set ts
 match address 101
interface GigabitEthernet0/0/0
 ip address 10.0.0.1 255.255.255.0
 crypto map M
access-list 101 permit ip 192.168.1.0 0.0.0.255 192.168.2.0 0.0.0.255
"""


def parse(text: str) -> Config:
    return parse_ios(text, "t.cfg", repair=False)


# (line, expected message, expected column of the caret or None)
ERROR_CASES = [
    ("crypto isakmp keepalive 5", INVALID, 24),  # below 10 (seed 000 L2087)
    ("crypto isakmp keepalive 10 61", INVALID, 27),  # retries 2-60
    ("crypto isakmp keepalive 10 2 sometimes", INVALID, 29),
    ("crypto isakmp keepalive", INCOMPLETE, None),
    ("crypto isakmp nat keepalive 4", INVALID, 28),  # 5-3600 (seed 000 L2989)
    ("crypto isakmp nat keepalive 3601", INVALID, 28),
    ("crypto isakmp k abc address 1.2.3.4", '% Ambiguous command:  "crypto isakmp k"', None),
    ("crypto isakmp key abc address 1.2.3", INVALID, 30),
    ("crypto isakmp policy 0", INVALID, 21),
    ("crypto isakmp policy 10001", INVALID, 21),
    ("crypto ipsec transform-set x esp-des esp-3des", INVALID, 37),  # two ciphers
    ("crypto ipsec transform-set x esp-foo", INVALID, 29),
    ("crypto ipsec transform-set x esp-aes 512", INVALID, 37),
    ("crypto ipsec transform-set x", INCOMPLETE, None),
    ("crypto ipsec security-association replay window-size 100", INVALID, 53),
    ("crypto ipsec security-association idle-time 59", INVALID, 44),  # 60-86400 (L3798)
    ("crypto ipsec df-bit maybe", INVALID, 20),
    ("crypto ipsec fragmentation during-encryption", INVALID, 27),
    ("crypto map M 70000 ipsec-isakmp", INVALID, 13),
    ("crypto mapp M 10", INVALID, 7),
    ("access-list 101 permit ip 10.0.0.0 0.0.0.255", INCOMPLETE, None),
    ("access-list 101 permit ip any any eq 80", INVALID, 34),  # ports only after tcp/udp
    ("access-list 101 allow ip any any", INVALID, 16),
    ("ip route 10.0.0.0 255.255.255.0", INCOMPLETE, None),
    ("interface", INCOMPLETE, None),
]


@pytest.mark.parametrize("line,message,column", ERROR_CASES)
def test_global_error(line: str, message: str, column: int | None) -> None:
    cfg = parse(BASE + line + "\n")
    assert len(cfg.errors) == 1, [str(e) for e in cfg.errors]
    err = cfg.errors[0]
    assert (err.message, err.column, err.line) == (message, column, BASE.count("\n") + 1)
    assert err.text == line and err.file == "t.cfg"


SUBMODE_CASES = [
    ("crypto isakmp policy 10", "encryption blowfish", INVALID, 11),
    ("crypto isakmp policy 10", "group 3", INVALID, 6),
    ("crypto isakmp policy 10", "lifetime 59", INVALID, 9),
    ("crypto isakmp policy 10", "hash", INCOMPLETE, None),
    ("crypto ipsec transform-set ts esp-des", "mode tunnell", INVALID, 5),
    ("crypto map M 10", "set peer", INCOMPLETE, None),
    ("crypto map M 10", "set pfs group3", INVALID, 8),
    ("crypto map M 10", "set security-association lifetime seconds 100", INVALID, 42),
    ("crypto map M 10", "set security-association replay window-size 65", INVALID, 44),
    ("crypto map M 10", "set security-association idletime 30", INVALID, 34),
    ("crypto map M 10", "match addres", INCOMPLETE, None),
    ("crypto map M 10", "set peer 10.9.9.9 default foo", INVALID, 26),
    ("interface Gi0", "ip address 10.0.0.1", INCOMPLETE, None),
    ("interface Gi0", "crypto ipsec df-bit on", INVALID, 20),
    ("ip access-list extended A", "permit tcp any any range 10", INCOMPLETE, None),
    ("ip access-list extended A", "permit udp host 1.1.1.1 eq 99999 any", INVALID, 27),
]


@pytest.mark.parametrize("opener,line,message,column", SUBMODE_CASES)
def test_submode_error(opener: str, line: str, message: str, column: int | None) -> None:
    cfg = parse(f"{opener}\n{line}\n")
    assert [(e.message, e.column, e.line) for e in cfg.errors] == [(message, column, 2)]


def test_bad_line_changes_nothing_and_rest_loads() -> None:
    good = parse(BASE)
    bad = parse(
        BASE.replace(" set transform-set ts\n", " set transform-set ts\n set pfs group99\n")
        + "crypto isakmp keepalive 20 3 periodic\n"
    )
    assert len(bad.errors) == 1
    assert bad.crypto_maps["M"].entries[10].pfs_group is None
    assert bad.crypto_maps == good.crypto_maps
    assert bad.globals.keepalive.seconds == 20  # lines after the error still load


def test_error_device_text() -> None:
    cfg = parse("crypto isakmp keepalive 5\n")
    err = cfg.errors[0]
    assert err.device_text() == (
        "crypto isakmp keepalive 5\n" + " " * 24 + "^\n% Invalid input detected at '^' marker."
    )
    assert (
        str(err)
        == "t.cfg:1:25: % Invalid input detected at '^' marker. (crypto isakmp keepalive 5)"
    )


def test_base_model() -> None:
    cfg = parse(BASE)
    assert cfg.errors == []
    ts = cfg.transform_sets["ts"]
    assert (ts.transforms, ts.esp_encr, ts.esp_integ, ts.mode) == (
        ["esp-aes 256", "esp-sha-hmac"],
        "aes256",
        "hmac-sha1-96",
        "transport",
    )
    assert cfg.entry_lifetime(cfg.crypto_maps["M"].entries[10]) == (3600, 4608000)


def test_abbreviated_config_commands() -> None:
    cfg = parse("cry isa pol 5\n auth pre\n enc aes 192\n gr 14\ncry ips trans T esp-3 esp-md5\n")
    pol = cfg.isakmp_policies[0]
    assert (pol.priority, pol.authentication, pol.encryption, pol.key_length, pol.group) == (
        5,
        "pre-share",
        "aes",
        192,
        14,
    )
    assert cfg.transform_sets["T"].transforms == ["esp-3des", "esp-md5-hmac"]


def test_runtime_apply_line_modes_and_errors() -> None:
    cfg = parse(BASE)
    st = ModeState()
    assert prompt(cfg, st) == "Router(config)#"
    assert apply_line(cfg, "crypto map M 20 ipsec-isakmp", st) is None
    assert st.mode == "map" and prompt(cfg, st) == "Router(config-crypto-map)#"
    err = apply_line(cfg, "set peer 10.0.0.300", st)
    assert err is not None and err.column == 9
    assert format_error(err, prompt(cfg, st)) == (
        "Router(config-crypto-map)#set peer 10.0.0.300\n"
        + " " * (len("Router(config-crypto-map)#") + 9)
        + "^\n% Invalid input detected at '^' marker."
    )
    assert cfg.crypto_maps["M"].entries[20].peers == []  # unchanged
    assert apply_line(cfg, "set peer 10.0.0.3", st) is None
    assert apply_line(cfg, "set pfs group14", st) is None
    assert apply_line(cfg, "no crypto isakmp keepalive", st) is None and st.mode == "global"
    assert apply_line(cfg, "crypto isakmp keepalive 10 periodic", st) is None
    assert cfg.globals.keepalive.mode == "periodic"
    e = cfg.crypto_maps["M"].entries[20]
    assert (str(e.peers[0]), e.pfs_group) == ("10.0.0.3", 14)
    assert cfg.errors == []  # runtime errors are returned, not recorded
    assert (
        apply_line(cfg, "no crypto map M 20", st) is None and 20 not in cfg.crypto_maps["M"].entries
    )
    assert apply_line(cfg, "no crypto ipsec nat-transparency udp-encapsulation", st) is None
    assert cfg.globals.nat_transparency is False


def test_single_default_peer() -> None:
    cfg = parse("crypto map M 1\n set peer 1.1.1.1 default\n set peer 2.2.2.2 default\n")
    assert [(e.line, e.message) for e in cfg.errors] == [(3, INVALID)]


def test_replay_last_wins() -> None:
    cfg = parse(
        "crypto ipsec security-association replay disable\n"
        "crypto ipsec security-association replay window-size 256\n"
        "crypto map M 1\n set security-association replay window-size 512\n"
    )
    assert (cfg.globals.replay_disabled, cfg.globals.replay_window) == (False, 256)
    assert cfg.entry_replay_window(cfg.crypto_maps["M"].entries[1]) == 512


# -- ACLs and selectors ------------------------------------------------------------------------


def test_acl_matching() -> None:
    cfg = parse(
        "ip access-list extended A\n"
        " deny tcp any host 10.0.0.1 eq 22\n"
        " permit tcp 192.168.0.0 0.0.255.255 any range 20 23\n"
        " permit udp any eq isakmp any\n"
        " permit icmp any any\n"
        "access-list 150 permit ip 10.0.0.0 0.0.255.0 any\n"
    )
    acl = cfg.access_lists["A"]
    assert not acl.matches("192.168.1.1", "10.0.0.1", 6, 1000, 22)  # explicit deny first
    assert acl.matches("192.168.1.1", "10.0.0.2", 6, 1000, 22)
    assert not acl.matches("192.168.1.1", "10.0.0.2", 6, 1000, 24)
    assert acl.matches("1.1.1.1", "2.2.2.2", 17, 500, 9)
    assert not acl.matches("1.1.1.1", "2.2.2.2", 17, 501, 9)
    assert acl.matches("1.1.1.1", "2.2.2.2", 1)
    assert not acl.matches("1.1.1.1", "2.2.2.2", 47)  # implicit deny
    odd = cfg.access_lists["150"].entries[0]  # non-contiguous wildcard
    assert odd.matches("10.0.7.0", "1.1.1.1") and not odd.matches("10.0.7.1", "1.1.1.1")


def test_ipv6_acl() -> None:
    cfg = parse(
        "ipv6 access-list V6\n permit ipv6 2001:db8:1::/64 any\n"
        " permit tcp any host 2001:db8::1 eq 80\n"
    )
    acl = cfg.access_lists["V6"]
    assert acl.ipv6 and acl.matches("2001:db8:1::5", "2001:db8:9::1")
    assert acl.matches("2001:db8:7::1", "2001:db8::1", 6, 1234, 80)
    assert not acl.matches("2001:db8:7::1", "2001:db8::1", 6, 1234, 81)


def test_selectors_and_lookup() -> None:
    cfg = parse(
        BASE + "crypto map M 20 ipsec-isakmp\n set peer 10.0.0.3\n match address 102\n"
        "access-list 102 deny ip host 192.168.1.5 any\n"
        "access-list 102 permit ip 192.168.1.0 0.0.0.255 any\n"
    )
    cfg.apply_interface_map({"GigabitEthernet0/0/0": "eth0", "GigabitEthernet0/0/1": "eth1"})
    intf = cfg.interface_by_ifname("eth0")
    assert intf.name == "GigabitEthernet0/0/0"
    assert cfg.interfaces["GigabitEthernet0/0/1"].ifname == "eth1"
    sel = cfg.protected_selectors()
    assert [(s.entry.seq, str(s.local), str(s.remote)) for s in sel] == [
        (10, "192.168.1.0/24", "192.168.2.0/24"),
        (20, "192.168.1.0/24", "0.0.0.0/0"),
    ]
    entry, ace = cfg.lookup_entry(intf, "192.168.1.9", "192.168.2.1")
    assert entry.seq == 10
    assert cfg.lookup_entry(intf, "192.168.1.9", "8.8.8.8")[0].seq == 20
    assert cfg.lookup_entry(intf, "192.168.1.5", "8.8.8.8") is None  # denied in 20 → clear


def test_key_longest_match() -> None:
    cfg = parse(
        "crypto isakmp key wide address 10.0.0.0 255.0.0.0\n"
        "crypto isakmp key narrow address 10.1.0.0 255.255.0.0\n"
        "crypto isakmp key byname hostname peer.example\n"
    )
    assert cfg.find_key("10.1.2.3").key == "narrow"
    assert cfg.find_key("10.2.2.3").key == "wide"
    assert cfg.find_key("peer.example").key == "byname"
    assert cfg.find_key("11.0.0.1") is None


def test_defaults() -> None:
    cfg = parse("crypto map M 1\n set peer 1.1.1.1\n")
    assert [p.priority for p in effective_policies(cfg)] == list(range(65507, 65515))
    assert [t.name for t in effective_transform_sets(cfg, cfg.crypto_maps["M"].entries[1])] == [
        "#!default_transform_set_1",
        "#!default_transform_set_0",
    ]
    cfg2 = parse(
        "no crypto isakmp default policy\nno crypto ipsec default transform-set\ncrypto map M 1\n"
    )
    assert effective_policies(cfg2) == []
    assert effective_transform_sets(cfg2, cfg2.crypto_maps["M"].entries[1]) == []
    cfg3 = parse(BASE)
    assert [p.priority for p in effective_policies(cfg3)] == [10]


def test_ignored_lines_are_recorded() -> None:
    cfg = parse(
        "version 15.2\nrouter ospf 1\n network 10.0.0.0 0.0.0.255 area 0\n"
        "snmp-server community public RO\ncrypto isakmp invalid-spi-recovery\n"
    )
    assert [i.line for i in cfg.ignored] == [1, 2, 3, 4]
    assert cfg.globals.invalid_spi_recovery and cfg.errors == []
    assert ipaddress.ip_address("10.0.0.1")  # keep the import meaningful for readers


def test_fuzz_never_raises() -> None:
    """Random command soup: every line is applied, ignored or rejected — never an exception."""
    import random

    rnd = random.Random(4)
    words = [
        "crypto",
        "isakmp",
        "ipsec",
        "map",
        "M",
        "10",
        "set",
        "peer",
        "1.2.3.4",
        "policy",
        "key",
        "address",
        "transform-set",
        "esp-aes",
        "256",
        "ah-sha-hmac",
        "match",
        "101",
        "access-list",
        "permit",
        "deny",
        "ip",
        "tcp",
        "any",
        "host",
        "eq",
        "range",
        "interface",
        "Gi0/0",
        "no",
        "!",
        "exit",
        "end",
        "2001:db8::1/64",
        "ipv6",
        "99999999999",
        "-",
        "\x00",
        "é",
        "{",
        "[",
        "<x:WORD>",
        "default",
        "keepalive",
        "security-association",
        "replay",
    ]
    lines = [" ".join(rnd.choice(words) for _ in range(rnd.randint(0, 12))) for _ in range(1500)]
    cfg = parse_ios("\n".join(lines), "fuzz.cfg")
    assert len(cfg.errors) > 0
    st = ModeState()
    for ln in lines[:300]:
        apply_line(cfg, ln, st)


def test_bad_mask_in_keyring_is_an_error_not_a_crash() -> None:
    cfg = parse("crypto keyring K\n pre-shared-key address 10.0.0.0 255.0.255.0 key x\n")
    assert [(e.line, e.column) for e in cfg.errors] == [(2, 49)]
    assert cfg.isakmp_keys == []


def test_apply_line_keeps_object_identity() -> None:
    cfg = parse(BASE)
    intf = cfg.interfaces["GigabitEthernet0/0/0"]
    st = ModeState()
    assert apply_line(cfg, "interface GigabitEthernet0/0/0", st) is None
    assert apply_line(cfg, "crypto ipsec df-bit set", st) is None
    assert apply_line(cfg, "crypto ipsec df-bit sometimes", st) is not None
    assert cfg.interfaces["GigabitEthernet0/0/0"] is intf and intf.df_bit == "set"


@pytest.mark.parametrize(
    "opener,line", [("", c[0]) for c in ERROR_CASES] + [(c[0], c[1]) for c in SUBMODE_CASES]
)
def test_rejected_line_leaves_model_unchanged(opener: str, line: str) -> None:
    from dataclasses import asdict

    cfg = parse(BASE)
    st = ModeState()
    if opener:
        assert apply_line(cfg, opener, st) is None
    before = asdict(cfg)
    assert apply_line(cfg, line, st) is not None
    assert asdict(cfg) == before


def test_vti_task_commands_seed000() -> None:
    """seed 000 L4793-5312 task tables (restored spacing), typed one line at a time."""
    lines = """crypto isakmp policy 15
authentication pre-share
hash md5
group 2
encryption 3des
lifetime 43200
exit
crypto isakmp key 0 my-preshare-key-0 address ipv6 3ffe:1001::2/128
crypto keyring keyring1
pre-shared-key ipv6 3FFE:2002::A8BB:CCFF:FE01:2C02/128 key k1
crypto isakmp peer address ipv6 3FFE:2002::A8BB:CCFF:FE01:2C02/128
set aggressive-mode client-endpoint ipv6 3FFE:2002::A8BB:CCFF:FE01:2C02/128
end
crypto ipsec transform-set myset0 ah-sha-hmac esp-3des
crypto ipsec profile profile0
set transform-set myset0
crypto isakmp profile profile1
self-identity address ipv6
match identity address ipv6 3FFE:2002::A8BB:CCFF:FE01:2C02/128
end
ipv6 unicast-routing
interface tunnel 0
ipv6 address 3FFE:C000:0:7::/64 eui-64
ipv6 enable
tunnel source ethernet0
tunnel destination 2001:DB8:1111:2222::1
tunnel mode ipsec ipv6
tunnel protection ipsec profile profile1
end""".splitlines()
    cfg, st = Config(), ModeState()
    for ln in lines:
        assert apply_line(cfg, ln, st) is None, ln
    pol = cfg.policy(15)
    assert (pol.hash, pol.group, pol.encryption, pol.lifetime) == ("md5", 2, "3des", 43200)
    assert cfg.find_key("3ffe:1001::2").key == "my-preshare-key-0"
    assert cfg.find_key("3ffe:2002::a8bb:ccff:fe01:2c02").key == "k1"
    peer = cfg.isakmp_peers[0]
    assert peer.aggressive_mode and str(peer.address) == "3ffe:2002::a8bb:ccff:fe01:2c02"
    assert cfg.ipsec_profiles["profile0"].transform_sets == ["myset0"]
    t0 = cfg.interfaces["Tunnel0"]  # "interface tunnel 0" in IOS spelling
    assert t0.tunnel["protection"] == "profile1" and t0.tunnel["mode"] == "ipsec ipv6"
    # L5058-5061 prints "set-transform-set myset0": a document typo the device rejects.
    st2 = ModeState()
    apply_line(cfg, "crypto ipsec profile profile0", st2)
    err = apply_line(cfg, "set-transform-set myset0", st2)
    assert err is not None and err.column == 0


@pytest.mark.parametrize(
    "typed,canonical",
    [
        ("fastethernet0/0", "FastEthernet0/0"),
        ("gi0/0/1", "GigabitEthernet0/0/1"),
        ("Serial1/2.151", "Serial1/2.151"),
        ("FastEthernet", "FastEthernet"),
        ("foo9", "foo9"),
        ("e0", "Ethernet0"),
        ("t0", "t0"),  # ambiguous (Tunnel/TenGigabitEthernet): kept as typed
    ],
)
def test_interface_names(typed: str, canonical: str) -> None:
    cfg = parse(f"interface {typed}\n")
    assert list(cfg.interfaces) == [canonical]


def test_aes_keyword_forms() -> None:
    cfg = parse(
        "crypto isakmp policy 1\n encryption aes256\ncrypto isakmp policy 2\n encryption aes 192\n"
    )
    assert [(p.encryption, p.key_length, p.cipher_name) for p in cfg.sorted_policies()] == [
        ("aes", 256, "aes256"),
        ("aes", 192, "aes192"),
    ]


def test_interface_map_is_case_insensitive() -> None:
    cfg = parse("interface FastEthernet0/0\n ip address 10.0.0.1 255.255.255.0\n")
    assert cfg.apply_interface_map({"fastethernet0/0": "eth0", "Serial9": "eth9"}) == ["Serial9"]
    assert cfg.interfaces["FastEthernet0/0"].ifname == "eth0"
    assert cfg.interface_by_ifname("eth9").name == "Serial9"


def test_banner_text_is_skipped() -> None:
    cfg = parse(
        "banner motd ^C\ncrypto is fun\nset peer nothing\n^C\nbanner login #one line#\n"
        "crypto isakmp nat keepalive 30\n"
    )
    assert cfg.errors == [] and cfg.globals.nat_keepalive == 30
    assert [i.line for i in cfg.ignored if i.mode == "banner"] == [1, 2, 3, 4, 5]


def test_crypto_map_subcommand_in_global_mode_rejected() -> None:
    """`set ...` / `match ...` at (config)# are errors, not ignored lines (issue 6)."""
    from engine.config.ios import ModeState, apply_line, format_error, parse_ios

    cfg = parse_ios("crypto map m 10 ipsec-isakmp\n set peer 10.0.0.2\n")
    for line in ("set security-association replay window-size 128", "match address 101"):
        err = apply_line(cfg, line, ModeState(file="<cli>"))
        assert err is not None and err.column == 0, line
        text = format_error(err).splitlines()
        assert text[-2:] == ["^", "% Invalid input detected at '^' marker."]
    assert cfg.crypto_maps["m"].entries[10].replay_window is None
    ok = ModeState(file="<cli>")
    assert apply_line(cfg, "crypto map m 10 ipsec-isakmp", ok) is None
    assert apply_line(cfg, "set security-association replay window-size 128", ok) is None
    assert cfg.crypto_maps["m"].entries[10].replay_window == 128
