"""engine.dataplane.fragpolicy: seed 000 Table 2 (L587–734) on real ESP/AH packets."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, UDP, IPerror
from scapy.layers.ipsec import AH, ESP

from engine.dataplane.fragpolicy import (
    TABLE2,
    Egress,
    decide,
    equal_fragments,
    outer_df,
)
from engine.esp import InboundBundle, InboundSa, OutboundBundle, OutboundSa, SaParams
from engine.esp.fragment import Reassembler

MTU = 1400
ROUTER = bytes([10, 0, 0, 1])


def _params(proto: str, spi: int, encr: str, integ: str, replay: int = 0) -> SaParams:
    return SaParams(
        spi=spi,
        proto=proto,
        mode="tunnel",
        encr=encr,
        encr_key=bytes(range(8)) if encr == "des" else b"",
        integ=integ,
        integ_key=bytes(range(16)),
        local="10.0.0.1",
        remote="10.0.0.2",
        replay_window=replay,
    )


def _bundle(ah: bool = False) -> tuple[OutboundBundle, InboundBundle]:
    esp = _params("esp", 0x1001, "des", "hmac-md5-96")
    ahp = _params("ah", 0x2001, "null", "hmac-md5-96") if ah else None
    out = OutboundBundle(OutboundSa(esp), OutboundSa(ahp) if ahp else None)
    inn = InboundBundle(InboundSa(esp), InboundSa(ahp) if ahp else None)
    return out, inn


def _inner(size: int, df: bool) -> bytes:
    pkt = (
        IP(src="192.168.1.10", dst="192.168.2.10", id=77, flags="DF" if df else 0)
        / UDP(sport=1000, dport=2000)
        / bytes(size - 28)
    )
    return bytes(pkt)


def test_decide_reproduces_every_table2_row() -> None:
    for r in TABLE2:
        frag = "before-encryption" if r.prefrag else "after-encryption"
        d = decide(r.inner_df, r.df_mode, frag, too_big=True)
        assert (d.action, d.row) == (r.result, r.row), r


def test_table2_has_twelve_distinct_rows() -> None:
    keys = {(r.prefrag, r.df_mode, r.inner_df) for r in TABLE2}
    assert len(keys) == 12 and [r.row for r in TABLE2] == list(range(1, 13))


@pytest.mark.parametrize(
    "mode,inner,expect",
    [
        ("clear", False, False),
        ("clear", True, False),
        ("set", False, True),
        ("set", True, True),
        ("copy", False, False),
        ("copy", True, True),
    ],
)
def test_outer_df(mode: str, inner: bool, expect: bool) -> None:
    assert outer_df(mode, inner) is expect


def test_fitting_packet_is_sent_whatever_the_settings() -> None:
    d = decide(True, "copy", "after-encryption", too_big=False)
    assert d.action == "send" and d.outer_df and d.row is None


def test_transport_mode_ignores_df_bit_and_prefragmentation() -> None:
    assert decide(False, "set", "before-encryption", True, tunnel=False).action == "post-fragment"
    assert decide(True, "clear", "before-encryption", True, tunnel=False).action == "drop"


def test_bad_keywords_raise() -> None:
    with pytest.raises(ValueError, match="df-bit mode 'sometimes'"):
        decide(False, "sometimes", "before-encryption", True)
    with pytest.raises(ValueError, match="fragmentation 'later'"):
        decide(False, "copy", "later", True)


def test_equal_fragments_are_near_equal_and_reassemble() -> None:
    pkt = _inner(1460, df=True)
    frags = equal_fragments(pkt, 1000)
    assert len(frags) == 2
    sizes = [len(f) for f in frags]
    assert max(sizes) - min(sizes) <= 8 and max(sizes) <= 1000
    assert all(not IP(f).flags.DF for f in frags)
    r = Reassembler()
    out = [r.add(f, 0.0) for f in frags][-1]
    assert out is not None and bytes(IP(out).payload) == bytes(IP(pkt).payload)


@pytest.mark.parametrize("row", TABLE2, ids=lambda r: f"row{r.row}")
@pytest.mark.parametrize("ah", [False, True], ids=["esp", "ah+esp"])
def test_egress_on_the_wire(row, ah: bool) -> None:
    out, inn = _bundle(ah)
    eg = Egress()
    inner = _inner(1450, row.inner_df)
    res = eg.process(
        inner,
        protect=out.protect,
        max_inner=out.max_inner_len(MTU),
        mtu=MTU,
        df_mode=row.df_mode,
        fragmentation="before-encryption" if row.prefrag else "after-encryption",
        tunnel=True,
        router=ROUTER,
    )
    assert res.decision.row == row.row
    want_df = outer_df(row.df_mode, row.inner_df)
    if row.result == "drop":
        assert res.packets == []
        icmp = IP(res.icmp)
        assert icmp.src == "10.0.0.1" and icmp.dst == "192.168.1.10"
        assert (icmp[ICMP].type, icmp[ICMP].code) == (3, 4)
        assert icmp[ICMP].nexthopmtu == out.max_inner_len(MTU)
        assert icmp[IPerror].id == 77
        return
    assert res.icmp is None
    assert all(len(p) <= MTU for p in res.packets)
    layer = AH if ah else ESP
    if row.result == "pre-fragment":
        assert len(res.packets) == 2 and res.pieces == 2
        inners = []
        for p in res.packets:
            ip = IP(p)
            assert ip.flags.MF == 0 and ip.frag == 0 and layer in ip
            assert bool(ip.flags.DF) is want_df
            inners.append(inn.unprotect(p))
        assert all(IP(i).flags.MF or IP(i).frag for i in inners)
        r = Reassembler()
        whole = [r.add(i, 0.0) for i in inners][-1]
    else:
        assert len(res.packets) == 2
        first, second = IP(res.packets[0]), IP(res.packets[1])
        assert first.flags.MF and second.frag > 0 and first.id == second.id
        assert all(bool(IP(p).flags.DF) is want_df for p in res.packets)
        r = Reassembler()
        outer = [r.add(p, 0.0) for p in res.packets][-1]
        assert outer is not None
        whole = inn.unprotect(outer)
    assert whole is not None
    assert bytes(IP(whole)[UDP].payload) == bytes(IP(inner)[UDP].payload)


@pytest.mark.parametrize("mode", ["clear", "set", "copy"])
def test_small_packet_outer_df_patched_even_with_ah(mode: str) -> None:
    out, inn = _bundle(ah=True)
    res = Egress().process(
        _inner(200, True),
        protect=out.protect,
        max_inner=1000,
        mtu=MTU,
        df_mode=mode,
        fragmentation="after-encryption",
        tunnel=True,
        router=ROUTER,
    )
    (p,) = res.packets
    assert bool(IP(p).flags.DF) is outer_df(mode, True)
    assert IP(inn.unprotect(p)).flags.DF  # inner untouched; AH still verifies (DF mutable)


def test_bundle_max_inner_len_is_exact() -> None:
    for ah in (False, True):
        out, _ = _bundle(ah)
        n = out.max_inner_len(MTU)
        assert len(out.protect(_inner(n, False))) <= MTU
        assert len(out.protect(_inner(n + 8, False))) > MTU
