"""IOS show formatters against the documents' sample outputs, dispatcher, JSON form.

The samples (``tests/engine/configs/samples/``) are verbatim seed extracts;
the PDF extraction lost IOS's indentation, so texts are compared line by line
after trimming and collapsing whitespace, blank lines dropped.  Volatile
fields (SPIs, conn ids, lifetimes, counters) are masked where the test feeds
values of its own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.config import load_config
from engine.config.ios import parse_ios
from engine.show import (
    Ident,
    IpsecCounters,
    IpsecFlowView,
    IpsecSaEntryView,
    IsakmpSaView,
    ShowState,
    dispatch,
)
from engine.show.adapter import views_from_runner

CONFIGS = Path(__file__).parent / "configs"
SAMPLES = CONFIGS / "samples"


def sample(name: str) -> list[str]:
    """Sample lines without the seed header and the command echo."""
    lines = (SAMPLES / f"{name}.txt").read_text(encoding="utf-8").splitlines()[1:]
    if re.match(r"^\S+# ", lines[0]):
        lines = lines[1:]
    return norm("\n".join(lines))


def norm(text: str) -> list[str]:
    return [" ".join(ln.split()) for ln in text.splitlines() if ln.strip()]


VOLATILE = [
    (re.compile(r"spi: 0x[0-9A-F]+\(\d+\)"), "spi: 0xSPI(N)"),
    (re.compile(r"current outbound spi: [0-9A-F]+"), "current outbound spi: SPI"),
    (re.compile(r"conn id: \d+, flow_id: \d+"), "conn id: C, flow_id: F"),
    (re.compile(r"\(k/sec\): \(\d+/\d+\)"), "(k/sec): (K/S)"),
    (re.compile(r"(#[a-z .]+:?) \d+"), r"\1 N"),
]


def mask(lines: list[str]) -> list[str]:
    out = []
    for ln in lines:
        for rx, rep in VOLATILE:
            ln = rx.sub(rep, ln)
        out.append(ln)
    return out


def out(cmd: str, state: ShowState, cfg) -> str:
    reply = dispatch(cmd, state, True, config=cfg)
    assert reply["ok"], reply
    json.dumps(reply["data"])  # the JSON form must serialise
    return reply["output"]


# -- seed 000 ch. 4: invalid SPI recovery, Router A and B -------------------------------------


def sa(
    spi: int,
    proto: str,
    direction: str,
    transform: str,
    conn: int,
    flow: int,
    kb: int,
    sec: int,
    iv: int | None,
) -> IpsecSaEntryView:
    return IpsecSaEntryView(
        spi,
        proto,
        direction,
        transform,
        conn_id=conn,
        flow_id=flow,
        crypto_map="testtag1",
        engine_type="Hardware",
        remaining_kb=kb,
        remaining_sec=sec,
        iv_size=iv,
    )


def router_state(router: str) -> ShowState:
    """Views with the values of seed 000 L1137-1257."""
    if router == "a":
        intf, local, peer, l_id, r_id = (
            "FastEthernet0/0",
            "10.1.1.1",
            "10.2.2.2",
            "10.0.0.1",
            "10.0.2.2",
        )
        spis = (0x249C5062, 0xB16D1587, 0x7AA69CB7, 0x1214F0D)
        life = ((4537831, 3595), (4537835, 3595), (4537835, 3594))
    else:
        intf, local, peer, l_id, r_id = (
            "FastEthernet1/0",
            "10.2.2.2",
            "10.1.1.1",
            "10.0.2.2",
            "10.0.0.1",
        )
        spis = (0x7AA69CB7, 0x1214F0D, 0x249C5062, 0xB16D1587)
        life = ((4421281, 3593), (4421285, 3593), (4421285, 3592))
    h32 = "255.255.255.255"
    flow = IpsecFlowView(
        intf,
        "testtag1",
        local,
        Ident(l_id, h32),
        Ident(r_id, h32),
        peer,
        counters=IpsecCounters(10, 10, 10, 10, 10, 10),
    )
    flow.inbound_esp.append(sa(spis[0], "esp", "in", "esp-des esp-sha-hmac", 5123, 1, *life[0], 8))
    flow.inbound_ah.append(sa(spis[1], "ah", "in", "ah-sha-hmac", 5121, 1, *life[0], None))
    flow.outbound_esp.append(
        sa(spis[2], "esp", "out", "esp-des esp-sha-hmac", 5124, 2, *life[1], 8)
    )
    flow.outbound_ah.append(sa(spis[3], "ah", "out", "ah-sha-hmac", 5122, 2, *life[2], None))
    isakmp = IsakmpSaView(dst=peer, src=local, state="QM_IDLE", conn_id=1, local=local, remote=peer)
    return ShowState([isakmp], [flow])


@pytest.mark.parametrize("router,intf_arg", [("a", "fastethernet0/0"), ("b", "Fastethernet1/0")])
def test_ipsec_sa_matches_document(router: str, intf_arg: str) -> None:
    cfg = load_config(CONFIGS / f"s000_invalid_spi_router_{router}.cfg")
    text = out(f"show crypto ipsec sa interface {intf_arg}", router_state(router), cfg)
    assert norm(text) == sample(f"ipsec_sa_router_{router}")


def test_ipsec_sa_masked_with_other_values() -> None:
    cfg = load_config(CONFIGS / "s000_invalid_spi_router_a.cfg")
    state = router_state("a")
    f = state.ipsec_flows[0]
    f.counters = IpsecCounters(7, 7, 7, 9, 9, 9)
    f.outbound_esp[0].spi = 0xDEAD
    f.outbound_esp[0].remaining_sec = 17
    text = out("show crypto ipsec sa", state, cfg)
    assert "current outbound spi: DEAD" in text and "#pkts encaps: 7," in text
    assert mask(norm(text)) == mask(sample("ipsec_sa_router_a"))


def test_isakmp_sa_matches_document() -> None:
    cfg = load_config(CONFIGS / "s000_invalid_spi_router_a.cfg")
    assert norm(out("show crypto isakmp sa", router_state("a"), cfg)) == sample(
        "isakmp_sa_router_a"
    )


def test_after_clear_matches_document() -> None:
    """seed 000 L1265-1292: deleted ISAKMP SA row; flow kept with zero counters, no SAs."""
    cfg = load_config(CONFIGS / "s000_invalid_spi_router_b.cfg")
    flow = IpsecFlowView(
        "FastEthernet1/0",
        "testtag1",
        "10.2.2.2",
        Ident("10.0.2.2", "255.255.255.255"),
        Ident("10.0.0.1", "255.255.255.255"),
        "10.1.1.1",
    )
    deleted = IsakmpSaView(
        dst="10.2.2.2", src="10.1.1.1", state="MM_NO_STATE", conn_id=1, status="DELETED"
    )
    state = ShowState([deleted], [flow])
    want = [ln.replace("10.2.2.2.", "10.2.2.2") for ln in sample("isakmp_sa_deleted")]  # seed typo
    assert norm(out("show crypto isakmp sa", state, cfg)) == want
    assert norm(out("show crypto ipsec sa", state, cfg)) == sample("ipsec_sa_cleared")


# -- seed 001 ----------------------------------------------------------------------------------


def test_session_matches_document() -> None:
    cfg = parse_ios("interface FastEthernet0/1\n ip address 172.0.0.1 255.255.255.0\n")
    flow = IpsecFlowView(
        "FastEthernet0/1",
        "m",
        "172.0.0.1",
        Ident("10.10.10.0", "255.255.255.0"),
        Ident("10.30.30.0", "255.255.255.0"),
        "172.0.0.2",
    )
    flow.inbound_esp.append(IpsecSaEntryView(1, "esp", "in"))
    flow.outbound_esp.append(IpsecSaEntryView(2, "esp", "out"))
    ike = IsakmpSaView(dst="172.0.0.2", src="172.0.0.1", local="172.0.0.1", remote="172.0.0.2")
    assert norm(out("show crypto session", ShowState([ike], [flow]), cfg)) == sample("session")


def test_session_detail_matches_document() -> None:
    cfg = parse_ios(
        "crypto isakmp peer address 10.1.1.3\n description this is my peer at 10.1.1.3:500 Green\n"
    )
    h = "255.255.255.255"
    gre = IpsecFlowView(
        "Tunnel0", "m", "10.1.1.4", Ident("10.1.1.4", h, 47), Ident("10.1.1.3", h, 47), "10.1.1.3"
    )
    ip = IpsecFlowView(
        "Tunnel0",
        "m",
        "10.1.1.4",
        Ident("10.1.1.4", h),
        Ident("10.1.1.3", h),
        "10.1.1.3",
        counters=IpsecCounters(encrypt=4, decrypt=4, send_errors=1),
    )
    for n, (d, p) in enumerate([("in", "esp"), ("in", "ah"), ("out", "esp"), ("out", "ah")]):
        getattr(ip, f"{'inbound' if d == 'in' else 'outbound'}_{p}").append(
            IpsecSaEntryView(100 + n, p, d, remaining_kb=4605665, remaining_sec=2949)
        )
    ike = IsakmpSaView(
        dst="10.1.1.3",
        src="10.1.1.4",
        conn_id=3,
        local="10.1.1.4",
        remote="10.1.1.3",
        lifetime_remaining=22 * 3600 + 3 * 60 + 24,
    )
    state = ShowState([ike], [gre, ip])
    assert norm(out("show crypto session detail", state, cfg)) == sample("session_detail")


def test_isakmp_peer_matches_document() -> None:
    cfg = parse_ios("crypto isakmp peer address 10.2.2.9\n description connection from site A\n")
    assert norm(out("show crypto isakmp peer", ShowState(), cfg)) == sample("isakmp_peer")


def test_default_policy_and_transform_sets_match_document() -> None:
    cfg = parse_ios("")
    assert norm(out("show crypto isakmp default policy", ShowState(), cfg)) == sample(
        "isakmp_default_policy"
    )
    assert norm(out("show crypto ipsec default transform-set", ShowState(), cfg)) == sample(
        "ipsec_default_transform_set"
    )
    off = parse_ios("no crypto isakmp default policy\nno crypto ipsec default transform-set\n")
    assert out("show crypto isakmp default policy", ShowState(), off) == ""  # seed 001 L2541-2546
    assert out("show crypto ipsec default transform-set", ShowState(), off) == ""


def test_crypto_map_matches_document() -> None:
    """seed 001 L3320-3337: RouterA with no transform set → default transform sets listed."""
    cfg = load_config(CONFIGS / "s001_default_transform_set_router_a.cfg")
    assert norm(out("show crypto map", ShowState(), cfg)) == sample("crypto_map_router_a")


def test_isakmp_policy_user_and_default() -> None:
    cfg = load_config(CONFIGS / "s000_dpd_site_to_site.cfg")
    text = out("show crypto isakmp policy", ShowState(), cfg)
    assert norm(text)[:6] == [
        "Global IKE policy",
        "Protection suite of priority 1",
        "encryption algorithm: AES - Advanced Encryption Standard (128 bit key.)",
        "hash algorithm: Secure Hash Standard",
        "authentication method: Pre-Shared Key",
        "Diffie-Hellman group: #14 (2048 bit)",
    ]
    assert "Default protection suite" not in text
    none = out("show crypto isakmp policy", ShowState(), parse_ios(""))
    assert norm(none).count("Default protection suite of priority 65507") == 1


def test_transform_set_show() -> None:
    cfg = load_config(CONFIGS / "s000_df_bit.cfg")
    assert norm(out("show crypto ipsec transform-set", ShowState(), cfg)) == [
        "Transform set exampleset: { ah-md5-hmac }",
        "will negotiate = { Tunnel, },",
        "{ esp-des }",
        "will negotiate = { Tunnel, },",
    ]


# -- dispatcher -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cmd,same_as",
    [
        ("sh cry isa sa", "show crypto isakmp sa"),
        ("sh crypto ipsec sa", "show crypto ipsec sa"),
        ("show cry ips sa det", "show crypto ipsec sa detail"),
        ("sh cry ses", "show crypto session"),
        ("sh cry map", "show crypto map"),
        ("sh cry ipsec sa peer 10.2.2.2", "show crypto ipsec sa"),
        ("show crypto ipsec sa map testtag1", "show crypto ipsec sa"),
    ],
)
def test_abbreviations(cmd: str, same_as: str) -> None:
    cfg = load_config(CONFIGS / "s000_invalid_spi_router_a.cfg")
    st = router_state("a")
    assert out(cmd, st, cfg) == out(same_as, st, cfg)


@pytest.mark.parametrize(
    "cmd,error",
    [
        (
            "show crypto foo",
            "ipseca-71a#show crypto foo\n" + " " * 23 + "^\n"
            "% Invalid input detected at '^' marker.",
        ),
        ("show crypto", "% Incomplete command."),
        ("sh cr i sa", '% Ambiguous command:  "sh cr i"'),
        ("show crypto ipsec sa peer", "% Incomplete command."),
        ("show crypto isakmp sa | frobnicate x", None),
    ],
)
def test_dispatch_errors(cmd: str, error: str | None) -> None:
    cfg = load_config(CONFIGS / "s000_invalid_spi_router_a.cfg")
    reply = dispatch(cmd, ShowState(), config=cfg)
    assert reply["ok"] is False
    if error is not None:
        assert reply["error"] == error


def test_output_modifiers() -> None:
    cfg = load_config(CONFIGS / "s000_invalid_spi_router_a.cfg")
    text = out("show crypto ipsec sa | include ^ +spi:", router_state("a"), cfg)
    assert norm(text) == [
        "spi: 0x249C5062(614223970)",
        "spi: 0xB16D1587(2976716167)",
        "spi: 0x7AA69CB7(2057739447)",
        "spi: 0x1214F0D(18960141)",
    ]
    begin = out("show crypto ipsec sa | begin outbound esp", router_state("a"), cfg)
    assert norm(begin)[0] == "outbound esp sas:"


def test_json_form() -> None:
    cfg = load_config(CONFIGS / "s000_invalid_spi_router_a.cfg")
    data = dispatch("show crypto ipsec sa", router_state("a"), True, config=cfg)["data"]
    assert data[0]["current_outbound_spi"] == 0x7AA69CB7
    assert data[0]["counters"]["encaps"] == 10 and data[0]["active_sas"] == 4
    assert data[0]["inbound_esp"][0]["spi"] == 0x249C5062
    m = dispatch("show crypto map", ShowState(), True, config=cfg)["data"]
    assert m[0]["transform_sets"] == ["auth2"] and m[0]["interfaces"] == ["FastEthernet0/0"]
    isa = dispatch("show crypto isakmp sa", router_state("a"), True, config=cfg)["data"]
    assert isa[0]["state"] == "QM_IDLE" and isa[0]["deleted"] is False


# -- adapter from the runner's objects --------------------------------------------------------


def test_adapter_from_runner_objects() -> None:
    """The runner's dict (SaEntry/IpsecSaPair/IkeSaUp) becomes the same views."""
    import ipaddress

    from engine.ike.events import IkeSaUp, IpsecSaPair, SaKeys, TrafficSelector
    from engine.sadb import SaDatabase

    cfg = load_config(CONFIGS / "s000_invalid_spi_router_a.cfg")
    k = bytes(8)
    pair = IpsecSaPair(
        peer="10.2.2.2",
        local="10.1.1.1",
        mode="tunnel",
        inbound=(
            SaKeys(0x1111, "ah", None, b"", "hmac-sha1-96", bytes(20)),
            SaKeys(0x2222, "esp", "des", k, "hmac-sha1-96", bytes(20)),
        ),
        outbound=(
            SaKeys(0x3333, "ah", None, b"", "hmac-sha1-96", bytes(20)),
            SaKeys(0x4444, "esp", "des", k, "hmac-sha1-96", bytes(20)),
        ),
        local_ts=TrafficSelector(ipaddress.ip_network("10.0.0.1/32")),
        remote_ts=TrafficSelector(ipaddress.ip_network("10.0.2.2/32")),
        lifetime_seconds=3600,
        lifetime_kilobytes=4608000,
        created=0.0,
        crypto_map="testtag1",
        crypto_map_seq=10,
    )
    sadb = SaDatabase()
    sadb.install(pair, 0.0, interface="FastEthernet0/0")
    ike = IkeSaUp(
        ("10.2.2.2", 500),
        ("10.1.1.1", 500),
        b"i" * 8,
        b"r" * 8,
        "main",
        True,
        "des",
        "sha1",
        "psk",
        1,
        86400,
        False,
        1,
    )
    state = views_from_runner({"config": cfg, "sadb": sadb, "ike_sas": {1: ike}, "now": 5.0})
    text = out("show crypto ipsec sa", state, cfg)
    assert mask(norm(text))[:18] == mask(sample("ipsec_sa_router_a"))[:18]
    assert "spi: 0x4444(17476)" in text and "transform: esp-des esp-sha-hmac ," in text
    assert "sa timing: remaining key lifetime (k/sec): (4608000/3595)" in text
    assert norm(out("show crypto isakmp sa", state, cfg)) == sample("isakmp_sa_router_a")
    reply = dispatch(
        "show crypto session", {"config": cfg, "sadb": sadb, "ike_sas": {1: ike}, "now": 5.0}
    )
    assert reply["ok"] and "Session status: UP-ACTIVE" in reply["output"]


# -- show running-config ---------------------------------------------------------------------


def _model(cfg) -> dict:
    """The configuration model without source bookkeeping (ignored lines, ACE source text)."""
    from dataclasses import asdict

    d = asdict(cfg)
    for k in ("ignored", "errors", "warnings"):
        d.pop(k)
    for acl in d["access_lists"].values():
        for ace in acl["entries"]:
            ace.pop("text")
    return d


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.cfg")))
def test_running_config_round_trip(name: str) -> None:
    cfg = load_config(CONFIGS / name)
    text = out("show running-config", ShowState(), cfg)
    again = parse_ios(text, "running", repair=False)
    assert again.errors == [], [str(e) for e in again.errors]
    assert _model(again) == _model(cfg)


def test_running_config_df_bit_rendering() -> None:
    """seed 000 L3431-3433: the DF-bit setting is verified with show running-config."""
    text = out("sh run", ShowState(), load_config(CONFIGS / "s000_df_bit.cfg"))
    assert "crypto ipsec df-bit clear" in text
    intf = text.split("interface FastEthernet\n", 1)[1].split("!", 1)[0]
    assert " crypto ipsec df-bit copy" in intf
    ka = out("sh run", ShowState(), load_config(CONFIGS / "s003_dpd_site_to_site.cfg"))
    assert "crypto isakmp keepalive 10 2 periodic" in ka and "on-demand" not in ka


def test_adapter_uses_live_ike_states() -> None:
    """With the IKE engine at hand, negotiating SAs show their Main Mode state."""
    from engine.ike.sa import IsakmpSa, Phase1Proposal

    class FakeIke:
        def __init__(self, sas):
            self.sas = sas

        def isakmp_sas(self):
            return self.sas

    cfg = load_config(CONFIGS / "s000_invalid_spi_router_a.cfg")
    up = IsakmpSa(
        b"i" * 8,
        b"r" * 8,
        True,
        "main",
        ("10.1.1.1", 500),
        ("10.2.2.2", 500),
        b"k",
        [],
        conn_id=1,
        created=0.0,
        state="established",
        proposal=Phase1Proposal("aes128", "sha1", "pre-share", 5, 86400),
    )
    up.expires_at = 100.0
    half = IsakmpSa(
        b"j" * 8,
        b"",
        True,
        "main",
        ("10.1.1.1", 500),
        ("10.3.3.3", 500),
        b"k",
        [],
        conn_id=2,
        created=0.0,
        state="mm_sent3",
    )
    state = views_from_runner(
        {"config": cfg, "sadb": None, "ike": FakeIke([up, half]), "now": 40.0}
    )
    rows = norm(out("show crypto isakmp sa", state, cfg))
    assert rows[1:] == ["/ 10.2.2.2 10.1.1.1 QM_IDLE 1 0", "/ 10.3.3.3 10.1.1.1 MM_SA_SETUP 2 0"]
    detail = norm(out("show crypto isakmp sa detail", state, cfg))
    assert "1 10.1.1.1 10.2.2.2 ACTIVE aes sha psk 5 00:01:00" in detail


def test_vti_generated_crypto_map() -> None:
    """seed 000 L5412-5424 (T50): a VTI gets a crypto map without any "crypto map" command."""
    cfg = load_config(CONFIGS / "s000_vti_ipv6.cfg")
    text = out("show crypto map", ShowState(), cfg)
    assert norm(text) == [
        'Crypto Map IPv6 "Tunnel0-head-0" 65536 ipsec-isakmp',
        "Profile name: profile0",
        "Security association lifetime: 4608000 kilobytes/3600 seconds",
        "PFS (Y/N): N",
        "Transform sets={",
        "Trans1: { ah-sha-hmac esp-aes },",
        "}",
        # the profile instance (engine/config/vti.py): peer = tunnel destination, any/any
        'Crypto Map IPv6 "Tunnel0-head-0" 65537 ipsec-isakmp',
        "Map is a PROFILE INSTANCE.",
        "Peer = 3ffe:2002::a8bb:ccff:fe01:2c02",
        "IPv6 access list Tunnel0-head-0-acl",
        "access-list Tunnel0-head-0-acl permit ipv6 any any",
        "Current peer: 3ffe:2002::a8bb:ccff:fe01:2c02",
        "Security association lifetime: 4608000 kilobytes/3600 seconds",
        "PFS (Y/N): N",
        "Transform sets={",
        "Trans1: { ah-sha-hmac esp-aes },",
        "}",
        "Interfaces using crypto map Tunnel0-head-0:",
        "Tunnel0",
    ]


def test_detailed_spelling_and_ipv6_filter() -> None:
    cfg = load_config(CONFIGS / "s000_invalid_spi_router_a.cfg")
    st = router_state("a")
    assert out("show crypto ipsec sa detailed", st, cfg) == out(
        "show crypto ipsec sa detail", st, cfg
    )
    assert out("show crypto ipsec sa ipv6 detail", st, cfg) == ""  # IPv4 flows only
    assert "##pkts replay failed (rcv): 0" in out("show crypto ipsec sa det", st, cfg)


def test_adapter_responder_prints_remote_as_dst() -> None:
    """Seed 000 L1119-1131: Router B (the responder) prints dst = 10.1.1.1 (remote)."""
    from engine.ike.sa import IsakmpSa, Phase1Proposal

    class FakeIke:
        def isakmp_sas(self):
            return [sa]

    cfg = load_config(CONFIGS / "s000_invalid_spi_router_a.cfg")
    sa = IsakmpSa(
        b"i" * 8, b"r" * 8, False, "main", ("10.2.2.2", 500), ("10.1.1.1", 500), b"k", [],
        conn_id=1, created=0.0, state="established",
        proposal=Phase1Proposal("aes128", "sha1", "pre-share", 5, 86400),
    )
    sa.expires_at = 100.0
    state = views_from_runner({"config": cfg, "sadb": None, "ike": FakeIke(), "now": 1.0})
    rows = norm(out("show crypto isakmp sa", state, cfg))
    assert rows[1:] == ["/ 10.1.1.1 10.2.2.2 QM_IDLE 1 0"]
