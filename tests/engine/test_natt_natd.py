"""NAT-D payloads on the wire (RFC 3947 §3.2, seed 000 L2838-2845) and bad NAT-D input.

Back-to-back IkeEngines (tests/engine/ike_helpers.Wire); raw ISAKMP bytes are
walked here so that the checks do not trust the engine's own decoder.
"""

from __future__ import annotations

import hashlib
import struct

import pytest

from engine.ike import IkeEngine
from engine.ike.events import ChildSaUp, IkeSaUp
from engine.ike.natt import natd_hash
from tests.engine.ike_helpers import R1_OUT, R2_OUT, Wire, make_config, pair_configs, ping

NAT_D, NAT_D_DRAFT, VID = 20, 130, 13
RFC3947_VID = bytes.fromhex("4a131c81070358455c5728f20e95452f")


def payloads(msg: bytes) -> list[tuple[int, bytes]]:
    """(type, body) of each payload of a plain ISAKMP message (RFC 2408 §3.1-3.2)."""
    out, np, off = [], msg[16], 28
    while np and off + 4 <= len(msg):
        nxt, _res, plen = struct.unpack_from("!BBH", msg, off)
        out.append((np, msg[off + 4 : off + plen]))
        np, off = nxt, off + plen
    return out


def with_natd_bodies(msg: bytes, bodies: list[bytes]) -> bytes:
    """``msg`` with its NAT-D payload bodies replaced (lengths fixed up)."""
    out, np, off, i = bytearray(msg[:28]), msg[16], 28, 0
    while np and off + 4 <= len(msg):
        nxt, res, plen = struct.unpack_from("!BBH", msg, off)
        body = msg[off + 4 : off + plen]
        if np in (NAT_D, NAT_D_DRAFT) and i < len(bodies):
            body, i = bodies[i], i + 1
        out += struct.pack("!BBH", nxt, res, 4 + len(body)) + body
        np, off = nxt, off + plen
    struct.pack_into("!I", out, 24, len(out))
    return bytes(out)


def sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()


def negotiate(w: Wire) -> None:
    assert ping(w)
    w.pump()
    w.advance(30)


def test_vendor_ids_and_natd_order_without_nat() -> None:
    c1, c2 = pair_configs(hash_="sha")
    w = Wire(IkeEngine(c1, [R1_OUT]), IkeEngine(c2, [R2_OUT]))
    negotiate(w)
    mm = [(who, data, src, dst) for who, data, src, dst in w.log if data[18] == 2]
    mm1, mm2, mm3, mm4 = (m[1] for m in mm[:4])
    assert RFC3947_VID in [b for t, b in payloads(mm1) if t == VID]  # MM1/MM2 (L2819-2822)
    assert RFC3947_VID in [b for t, b in payloads(mm2) if t == VID]
    icky, rcky = mm3[:8], mm3[8:16]
    for msg, (src, dst) in (
        (mm3, ((R1_OUT, 500), (R2_OUT, 500))),
        (mm4, ((R2_OUT, 500), (R1_OUT, 500))),
    ):
        natd = [b for t, b in payloads(msg) if t == NAT_D]
        # destination first, then source (L2840-2845)
        assert natd == [natd_hash(sha1, icky, rcky, *dst), natd_hash(sha1, icky, rcky, *src)]
    assert all(m[2][1] == 500 and m[3][1] == 500 for m in mm)  # no NAT: no float
    assert not w.of("a", IkeSaUp)[0].nat_t
    assert w.of("a", ChildSaUp)[0].pair.udp_encap is None  # ESP stays IP protocol 50


def test_nat_t_disabled_sends_no_natt_vendor_id_or_natd() -> None:
    c1, c2 = pair_configs(nat_t=False)
    w = Wire(IkeEngine(c1, [R1_OUT]), IkeEngine(c2, [R2_OUT]))
    negotiate(w)
    first = [d for who, d, _s, _t in w.log if who == "a" and d[18] == 2]
    assert all(RFC3947_VID not in [b for t, b in payloads(m) if t == VID] for m in first[:1])
    assert all(not [t for t, _ in payloads(m) if t in (NAT_D, NAT_D_DRAFT)] for m in first[:2])
    assert w.of("a", ChildSaUp) and w.of("b", ChildSaUp)


@pytest.mark.parametrize(
    "bodies",
    [
        [b"", b""],  # empty hashes
        [b"\x01" * 7, b"\x02" * 7],  # shorter than SHA-1's 20 bytes
        [b"\x01" * 21, b"\x02" * 64],  # longer
    ],
    ids=["empty", "short", "long"],
)
def test_natd_wrong_length_dropped_and_counted(bodies: list[bytes]) -> None:
    """A NAT-D whose length is not the negotiated hash's is malformed (RFC 3947 §3.2):
    the message is dropped and counted, the genuine retransmission completes, and the
    broken payload does not fake a NAT."""
    c1, c2 = pair_configs(hash_="sha")
    w = Wire(IkeEngine(c1, [R1_OUT]), IkeEngine(c2, [R2_OUT]))
    state = {"done": False}

    def drop(who: str, data: bytes) -> bool:
        if (
            who == "a"
            and data[18] == 2
            and not state["done"]
            and any(t == NAT_D for t, _ in payloads(data))
        ):
            state["done"] = True
            w.b.receive_datagram(
                with_natd_bodies(data, bodies), (R1_OUT, 500), (R2_OUT, 500), w.now
            )
            return True
        return False

    w.drop = drop
    negotiate(w)
    assert state["done"]
    assert w.b.counters.malformed >= 1
    assert w.of("a", ChildSaUp) and w.of("b", ChildSaUp)
    assert not w.of("b", IkeSaUp)[0].nat_t


def _natted_wire(**kw) -> tuple[Wire, list]:
    """r1 behind a PAT box (10.0.0.1 -> 10.0.0.99, ports remapped) talking to r2."""
    nat_ip = "10.0.0.99"
    c1, _ = pair_configs(**kw)
    kw.pop("aggressive", None)
    c2 = make_config(R2_OUT, nat_ip, "192.168.2.0/24", "192.168.1.0/24", **kw)
    a, b = IkeEngine(c1, [R1_OUT]), IkeEngine(c2, [R2_OUT])
    mapping: dict[int, int] = {}
    log: list = []

    class NatWire(Wire):
        def _pump_once(self) -> int:
            moved = 0
            for d in self.a.datagrams_to_send(self.now):
                pub = mapping.setdefault(d.src[1], 40000 + len(mapping))
                log.append(("a", d.data, (nat_ip, pub), d.dst))
                self.b.receive_datagram(d.data, (nat_ip, pub), d.dst, self.now)
                moved += 1
            for d in self.b.datagrams_to_send(self.now):
                inside = {v: k for k, v in mapping.items()}[d.dst[1]]
                log.append(("b", d.data, d.src, (R1_OUT, inside)))
                self.a.receive_datagram(d.data, d.src, (R1_OUT, inside), self.now)
                moved += 1
            for eng, out in ((self.a, self.events_a), (self.b, self.events_b)):
                while (ev := eng.next_event()) is not None:
                    out.append(ev)
            return moved

    return NatWire(a, b), log


def test_aggressive_mode_natd_in_am2_am3_and_float() -> None:
    """Seed 000 L2843-2845: Aggressive Mode carries NAT-D in AM2 and AM3; AM3 floats."""
    w, log = _natted_wire(aggressive=True)
    negotiate(w)
    am = [m for m in log if m[1][18] == 4]
    assert len(am) == 3
    assert [len([t for t, _ in payloads(m[1]) if t == NAT_D]) for m in am[:2]] == [0, 2]
    if not am[2][1][19] & 1:  # AM3 in the clear: its NAT-D payloads are visible
        assert len([t for t, _ in payloads(am[2][1]) if t == NAT_D]) == 2
    assert am[0][3][1] == 500 and am[2][3][1] == 4500  # AM1 to 500, AM3 floated to 4500
    assert w.of("a", IkeSaUp)[0].nat_t and w.of("b", IkeSaUp)[0].nat_t
    assert w.of("a", ChildSaUp)[0].pair.udp_encap == (4500, 4500)


def test_transport_mode_is_udp_encapsulated_behind_nat() -> None:
    """RFC 3947 §5.1 UDP-Encapsulated-Transport, negotiated in Quick Mode (L2847-2856)."""
    w, _log = _natted_wire(mode="transport")
    negotiate(w)
    (ca,) = w.of("a", ChildSaUp)
    (cb,) = w.of("b", ChildSaUp)
    assert (ca.pair.mode, cb.pair.mode) == ("transport", "transport")
    assert ca.pair.udp_encap == (4500, 4500) and cb.pair.udp_encap == (4500, 40001)


def test_draft_only_peer_gets_draft_natd_and_encapsulation(monkeypatch) -> None:
    """A peer announcing only draft-ietf-ipsec-nat-t-ike-02/03: NAT-D type 130 and the
    draft UDP-encapsulated modes (61443/61444) instead of RFC 3947's 20 and 3/4."""
    from engine.ike import natt
    from engine.ike.registry import VendorIds

    monkeypatch.setattr(natt, "NATT_VENDOR_IDS", tuple(VendorIds.NATT_DRAFTS))
    w, log = _natted_wire()
    negotiate(w)
    mm = [m for m in log if m[1][18] == 2]
    assert RFC3947_VID not in [b for t, b in payloads(mm[0][1]) if t == VID]
    types = [[t for t, _ in payloads(m[1]) if t in (NAT_D, NAT_D_DRAFT)] for m in mm[2:4]]
    assert types == [[NAT_D_DRAFT] * 2, [NAT_D_DRAFT] * 2]
    assert natt.encapsulation_mode("tunnel", True, "draft") == 61443
    assert w.of("a", ChildSaUp)[0].pair.udp_encap == (4500, 4500)
    assert w.of("b", ChildSaUp)[0].pair.udp_encap == (4500, 40001)
