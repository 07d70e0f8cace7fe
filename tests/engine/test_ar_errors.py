"""AR570S dialect: rejected lines (device ``Error (code): text``), nothing changed, rest loads."""

from __future__ import annotations

import copy

import pytest

from engine.config.ar import apply_line, format_error, parse_ar
from engine.runner import load_config as runner_load_config

BASE = """\
CREATE ENCO KEY=1 TYPE=GENERAL VALUE="jogefoge"
CREATE ISAKMP POLICY=i PEER=2.2.2.2 KEY=1 SENDN=TRUE
CREATE IPSEC SASPEC=1 KEYMAN=ISAKMP PROT=ESP ENCALG=DES HASHALG=SHA
CREATE IPSEC SASPEC=3 KEYMAN=ISAKMP PROT=AH HASHALG=SHA
CREATE IPSEC BUNDLE=1 KEYMAN=ISAKMP STRING="1"
CREATE IPSEC POLICY=isa INT=ppp0 ACTION=PERMIT LPORT=500 RPORT=500 TRANSPORT=UDP
CREATE IPSEC POLICY=vpn INT=ppp0 ACTION=IPSEC KEYMAN=ISAKMP BUNDLE=1 PEER=2.2.2.2
SET IPSEC POLICY=vpn LAD=192.168.10.0 LMA=255.255.255.0 RAD=192.168.20.0 RMA=255.255.255.0
ENABLE IPSEC
ENABLE ISAKMP
"""

BAD = [
    ("FROB IPSEC", "Unknown command"),
    ("CREATE IPSEC FOO=1", "Unknown command"),
    ("CREATE IPSEC SASPEC=2 KEYMAN=ISAKMP PROT=ESP ENCALG=NULL HASHALG=NULL", "both be NULL"),
    ("CREATE IPSEC SASPEC=2 KEYMAN=ISAKMP PROT=ESP HASHALG=SHA", "ENCALG must be specified"),
    (
        "CREATE IPSEC SASPEC=2 KEYMAN=ISAKMP PROT=AH ENCALG=DES HASHALG=SHA",
        "not valid for PROTOCOL=AH",
    ),
    (
        "CREATE IPSEC SASPEC=2 KEYMAN=ISAKMP PROT=ESP ENCALG=BLOWFISH HASHALG=SHA",
        'Value "BLOWFISH"',
    ),
    ("CREATE IPSEC SASPEC=2 KEYMAN=MANUAL PROT=ESP ENCALG=DES HASHALG=SHA", "ENCKEY must be"),
    ("CREATE IPSEC SASPEC=256 KEYMAN=ISAKMP PROT=ESP ENCALG=DES HASHALG=SHA", 'Value "256"'),
    ("CREATE IPSEC SASPEC=1 KEYMAN=ISAKMP PROT=ESP ENCALG=DES HASHALG=SHA", "already exists"),
    ("CREATE IPSEC SASPEC=2 PROT=ESP ENCALG=DES HASHALG=SHA", 'Required parameter "KEYMANAGEMENT"'),
    ('CREATE IPSEC BUNDLE=2 KEYMAN=ISAKMP STRING="1 AND 1"', "different protocols"),
    ('CREATE IPSEC BUNDLE=2 KEYMAN=ISAKMP STRING="1 OR 3"', "same protocol"),
    ('CREATE IPSEC BUNDLE=2 KEYMAN=ISAKMP STRING="9"', "SA specification 9 does not exist"),
    ('CREATE IPSEC BUNDLE=2 KEYMAN=MANUAL STRING="1"', "different KEYMANAGEMENT"),
    ('CREATE IPSEC BUNDLE=2 KEYMAN=ISAKMP STRING="1" EXPIRYSECONDS=299', 'Value "299"'),
    ("CREATE IPSEC POLICY=x INT=ppp0 ACTION=IPSEC KEYMAN=ISAKMP BUNDLE=1", "PEERADDRESS must be"),
    (
        "CREATE IPSEC POLICY=x INT=ppp0 ACTION=IPSEC KEYMAN=ISAKMP BUNDLE=7 PEER=1.2.3.4",
        "Bundle specification 7 does not exist",
    ),
    ("CREATE IPSEC POLICY=x INT=ppp0 ACTION=PERMIT BUNDLE=1", "only valid with ACTION=IPSEC"),
    ("CREATE IPSEC POLICY=vpn INT=ppp0 ACTION=PERMIT", "already exists"),
    ("CREATE IPSEC POLICY=abcdefghijklmnopqrstuvwx INT=ppp0 ACTION=PERMIT", "is not valid"),
    ("CREATE IPSEC POLICY=x ACTION=PERMIT", 'Required parameter "INTERFACE"'),
    ("SET IPSEC POLICY=vpn INT=ppp1", 'Parameter "INT" not recognised'),
    ("SET IPSEC POLICY=nope LAD=1.2.3.4", "does not exist"),
    ("SET IPSEC POLICY=vpn LAD=300.1.1.1", 'Value "300.1.1.1"'),
    ("SET IPSEC POLICY=vpn LMA=255.0.255.0", 'Value "255.0.255.0"'),
    ("SET IPSEC POLICY=vpn LAD=1.1.1.1 LAD=2.2.2.2", "more than once"),
    ("SET IPSEC POLICY=vpn L=1.1.1.1", "ambiguous"),
    ("CREATE ISAKMP POLICY=j KEY=1", 'Required parameter "PEER"'),
    ("CREATE ISAKMP POLICY=j PEER=1.2.3.4 REKEY=ON", "REKEY can only be set when PEER=ANY"),
    ("CREATE ISAKMP POLICY=j PEER=1.2.3.4 EXPIRYSECONDS=100", 'Value "100"'),
    ("CREATE ISAKMP POLICY=j PEER=1.2.3.4 MODE=X", 'Value "X"'),
    ("SET ISAKMP POLICY=zz NATTRAVERSAL=TRUE", "does not exist"),
    ("CREATE ISAKMP POLICY=j PEER=1.2.3.4 SENDN=TRUE", "KEY must be specified"),
    (
        "CREATE IPSEC POLICY=x INT=ppp0 ACTION=IPSEC KEYMAN=MANUAL BUNDLE=1 PEER=DYNAMIC",
        "KEYMANAGEMENT does not match",
    ),
    ("DESTROY IPSEC BUNDLE=1", "used by policy vpn"),
    ('CREATE ENCO KEY=1 TYPE=GENERAL VALUE="x"', "already exists"),
    ("CREATE ENCO KEY=5 TYPE=DES VALUE=0x0102", "length is invalid"),
    ("CREATE ENCO KEY=5 TYPE=GENERAL", "One of VALUE or RANDOM"),
]


@pytest.mark.parametrize("line,needle", BAD)
def test_bad_line_rejected_and_changes_nothing(line: str, needle: str) -> None:
    cfg = parse_ar(BASE + line + "\nCREATE IPSEC POLICY=inet INT=ppp0 ACTION=PERMIT\n", "r1.cfg")
    assert len(cfg.errors) == 1, cfg.errors
    err = cfg.errors[0]
    assert (err.file, err.line) == ("r1.cfg", 11)
    assert err.message.startswith("Error (") and needle in err.message, err.message
    assert format_error(err) == err.message
    # the rest still loads
    assert cfg.ar.policy("inet") is not None
    # and the line changed nothing: same model as without it
    ref = parse_ar(BASE + "CREATE IPSEC POLICY=inet INT=ppp0 ACTION=PERMIT\n", "r1.cfg")
    cfg.errors = []
    assert cfg == ref


def test_runtime_apply_line_keeps_live_object() -> None:
    cfg = parse_ar(BASE)
    before = copy.deepcopy(cfg)
    err = apply_line(cfg, "SET IPSEC POLICY=vpn RAD=300.1.1.1")
    assert err is not None and "300.1.1.1" in err.message
    assert cfg == before
    ident = id(cfg)
    assert apply_line(cfg, "SET IPSEC POLICY=vpn RAD=192.168.30.0") is None
    assert id(cfg) == ident
    assert cfg.ar.policy("vpn").raddress == "192.168.30.0"
    assert cfg.access_lists["ar-vpn"].matches("192.168.10.1", "192.168.30.1")


def test_runner_load_config_prints_device_errors(tmp_path) -> None:
    path = tmp_path / "r1.cfg"
    path.write_text(
        BASE + "CREATE IPSEC SASPEC=2 KEYMAN=ISAKMP PROT=ESP ENCALG=NULL HASHALG=NULL\n"
    )
    cfg, errors = runner_load_config(path, "ar", {"ppp0": "eth0"})
    assert cfg.interfaces["ppp0"].ifname == "eth0"
    # the AR prints only its message line (no echo/caret)
    assert errors == [f"{path}:11: Error (181014): ENCALG and HASHALG cannot both be NULL."]


def test_debug_commands_reply_info() -> None:
    """L1943-1945, L1984-1986: the device acknowledges debug commands with Info lines."""
    cfg = parse_ar(BASE)
    info: list[str] = []
    assert apply_line(cfg, "enable isakmp debug=pkt", info=info) is None
    assert apply_line(cfg, "ena ipsec policy=vpn debug=packet", info=info) is None
    assert info == [
        "Info (182057): ISAKMP Debugging has been enabled.",
        "Info (181057): IPSEC Policy Debugging has been enabled.",
    ]
    assert "PACKET" in cfg.ar.policy("vpn").debug and "PKT" in cfg.ar.isakmp_debug
    err = apply_line(cfg, "ena ipsec policy=nope debug=packet")
    assert err is not None and "does not exist" in err.message


def test_fuzz_never_raises_and_bad_lines_change_nothing() -> None:
    """Random mixes of AR words, parameters and junk: the parser never raises, and a
    rejected line leaves the model as it was (checked against a replay without it)."""
    import random

    rng = random.Random(20021)
    words = ["CREATE", "SET", "DESTROY", "ENABLE", "DISABLE", "ADD", "PURGE", "IPSEC", "ISAKMP",
             "ENCO", "IP", "SASPEC=1", "SASPEC=300", "BUNDLE=1", "POLICY=vpn", "POLICY=", "KEY=1",
             "KEYMAN=ISAKMP", "KEYMAN=MANUAL", "PROT=ESP", "PROT=AH", "ENCALG=DES", "ENCALG=NULL",
             "HASHALG=SHA", "HASHALG=NULL", 'STRING="1 and 3"', 'STRING="1,"', "INT=ppp0",
             "ACTION=IPSEC", "ACTION=PERMIT", "PEER=2.2.2.2", "PEER=DYNAMIC", "LAD=1.2.3.4-1.2.3.9",
             "LMA=255.255.0.0", "RAD=ANY", "LPORT=70000", "TRANSPORT=UDP", "POSITION=1",
             "MODE=AGGR", "GROUP=3", "REKEY=ON", "=", '"', "ÿ", "SENDN=MAYBE"]  # fmt: skip
    good: list[str] = []
    cfg = parse_ar(BASE, "f")
    for _ in range(400):
        line = " ".join(rng.choice(words) for _ in range(rng.randint(1, 8)))
        before = copy.deepcopy(cfg)
        err = apply_line(cfg, line)
        if err is not None:
            assert err.message.startswith("Error (") and err.text == line.strip()
            assert cfg == before, line
        else:
            good.append(line)
    # the accepted lines alone rebuild the same configuration
    replay = parse_ar(BASE + "\n".join(good) + "\n", "f")
    cfg.ignored, replay.ignored = [], []
    assert replay.errors == [] and replay.ar == cfg.ar


def _entry(cfg):
    """The crypto map entry derived from policy vpn."""
    return cfg.crypto_maps["ppp0"].ordered()[0]


@pytest.mark.parametrize(
    "line,ok,check",
    [
        # EXPIRYKBYTES above 4193280 is stored as 4193280, not refused (L2109)
        ('CREATE IPSEC BUNDLE=9 KEYMAN=ISAKMP STRING="1" EXPIRYKBYTES=5000000', True,
         lambda c: c.ar.bundles[9].expiry_kbytes == 4193280),
        ('CREATE IPSEC BUNDLE=9 KEYMAN=ISAKMP STRING="1" EXPIRYSECONDS=31449601', False, None),
        ('CREATE IPSEC BUNDLE=256 KEYMAN=ISAKMP STRING="1"', False, None),
        # up to 10 comma-separated candidates (L2091-2093)
        ('CREATE IPSEC BUNDLE=9 KEYMAN=ISAKMP STRING="' + ", ".join(["1"] * 10) + '"', True,
         lambda c: len(c.ar.bundles[9].candidates) == 10),
        ('CREATE IPSEC BUNDLE=9 KEYMAN=ISAKMP STRING="' + ", ".join(["1"] * 11) + '"', False, None),
        ('CREATE IPSEC BUNDLE=9 KEYMAN=ISAKMP STRING=""', False, None),
        # SET IPSEC BUNDLE changes lifetimes only (L4096-4098)
        ('SET IPSEC BUNDLE=1 STRING="3"', False, None),
        ("SET IPSEC BUNDLE=1 EXPIRYSECONDS=600", True,
         lambda c: _entry(c).lifetime_seconds == 600),
        # SET IPSEC SASPEC cannot change KEYMANAGEMENT/PROTOCOL (L4359-4364)
        ("SET IPSEC SASPEC=1 PROTOCOL=AH", False, None),
        ("SET IPSEC SASPEC=1 ANTIREPLAYENABLED=TRUE REPLAYWINDOWSIZE=128", True,
         lambda c: _entry(c).replay_window == 128 and not _entry(c).replay_disabled),
        ("SET IPSEC SASPEC=1 REPLAYWINDOWSIZE=100", False, None),
        # booleans ON/OFF ≡ TRUE/FALSE (L2562-2573); values abbreviate (MODE=AGGR, L2832)
        ("SET ISAKMP POLICY=i NATTRAVERSAL=ON MODE=AGGR", True,
         lambda c: c.globals.nat_transparency and c.find_peer("2.2.2.2").aggressive_mode),
        ("SET ISAKMP POLICY=i ENCALG=AES256 HASHALG=MD5 GROUP=2 EXPIRYSECONDS=3600", True,
         lambda c: (c.isakmp_policies[0].cipher_name, c.isakmp_policies[0].prf_name,
                    c.isakmp_policies[0].group, c.isakmp_policies[0].lifetime)
         == ("aes256", "md5", 2, 3600)),
        # PFS only with ACTION=IPSEC/ISAKMP (L2287-2291, L2349-2354)
        ("SET IPSEC POLICY=vpn USEPFSKEY=TRUE GROUP=2", True,
         lambda c: _entry(c).pfs_group == 2),
        ("SET IPSEC POLICY=isa USEPFSKEY=TRUE", False, None),
        # DFBIT → the entry's df-bit (L2275-2285)
        ("SET IPSEC POLICY=vpn DFBIT=COPY", True, lambda c: _entry(c).df_bit == "copy"),
        # MANUAL keying needs keys and SPIs (L2480-2499)
        ("CREATE IPSEC SASPEC=5 KEYMAN=MANUAL PROT=AH HASHALG=SHA", False, None),
    ],
)  # fmt: skip
def test_documented_ranges_and_rules(line: str, ok: bool, check) -> None:
    cfg = parse_ar(BASE, "f")
    err = apply_line(cfg, line)
    assert (err is None) == ok, err
    if check is not None:
        assert check(cfg)


def test_address_range_selectors_are_summarised() -> None:
    """LADDRESS=a-b (L2142-2145): the range becomes the covering prefixes, nothing more."""
    cfg = parse_ar(BASE)
    assert (
        apply_line(cfg, "SET IPSEC POLICY=vpn LAD=192.168.10.1-192.168.10.6 LMA=255.255.255.0")
        is None
    )
    acl = cfg.access_lists["ar-vpn"]
    srcs = [str(a.src) for a in acl.permits]
    assert srcs == ["192.168.10.1/32", "192.168.10.2/31", "192.168.10.4/31", "192.168.10.6/32"]
    assert acl.matches("192.168.10.6", "192.168.20.1")
    assert not acl.matches("192.168.10.7", "192.168.20.1")


def test_peer_dynamic_needs_isakmp_keying() -> None:
    """PEERADDRESS=ANY/DYNAMIC only with KEYMANAGEMENT=ISAKMP (L2234-2236)."""
    pre = BASE + "CREATE ENCO KEY=2 TYPE=DES VALUE=0x0102030405060708\n"
    pre += "CREATE IPSEC SASPEC=7 KEYMAN=MANUAL PROT=ESP ENCALG=DES ENCKEY=2 HASHALG=NULL "
    pre += 'INSPI=300 OUTSPI=301\nCREATE IPSEC BUNDLE=7 KEYMAN=MANUAL STRING="7"\n'
    cfg = parse_ar(pre)
    assert cfg.errors == []
    err = apply_line(cfg, "CREATE IPSEC POLICY=m INT=ppp0 ACTION=IPSEC KEYMAN=MANUAL BUNDLE=7 "
                          "PEER=DYNAMIC")  # fmt: skip
    assert err is not None and "requires KEYMANAGEMENT=ISAKMP" in err.message
