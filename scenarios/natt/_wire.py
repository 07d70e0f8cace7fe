"""What the NAT-T scenarios look for on the wire, decoded from raw frames.

The decoder is independent of the engine's own code: it walks Ethernet/IPv4/
UDP and the ISAKMP generic payload chain itself (RFC 2408 §3.1-3.2) and
classifies port-4500 datagrams as RFC 3948 §2.2 says (4 zero bytes = non-ESP
marker → IKE, the single byte 0xFF = NAT keepalive, anything else = ESP).
NAT-D hashes are recomputed from the cookies and the addresses *at the
capture point* (RFC 3947 §3.2), so a capture on each side of a NAT box shows
exactly where the translation happened.
"""

from __future__ import annotations

import hashlib
import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Any, Iterable

NAT_D, NAT_D_DRAFT, VENDOR_ID = 20, 130, 13
MAIN_MODE, AGGRESSIVE, QUICK_MODE, INFO = 2, 4, 32, 5
RFC3947_VID = bytes.fromhex("4a131c81070358455c5728f20e95452f")
DRAFT_VIDS = {
    bytes.fromhex(h)
    for h in (
        "cd60464335df21f87cfdb2fc68b6a448",
        "90cb80913ebb696e086381b5ec427b1f",
        "7d9419a65310ca6f2c179d9215529d56",
    )
}


@dataclass
class Pkt:
    """One IPv4 packet at a capture point, classified."""

    t: float
    src: str
    dst: str
    kind: str  # "ike", "esp" (IP 50), "esp-udp", "keepalive", "udp", "icmp", "other"
    sport: int = 0
    dport: int = 0
    udp_csum: int | None = None
    marker: bool = False  # non-ESP marker in front of IKE on 4500
    exch: int | None = None
    icookie: bytes = b""
    rcookie: bytes = b""
    encrypted: bool = False
    natd: list[bytes] = field(default_factory=list)
    vids: list[bytes] = field(default_factory=list)
    spi: int | None = None
    size: int = 0
    icmp: tuple[int, int] | None = None  # (type, code)

    @property
    def ends(self) -> tuple[tuple[str, int], tuple[str, int]]:
        return (self.src, self.sport), (self.dst, self.dport)

    def label(self) -> str:
        what = {MAIN_MODE: "MM", AGGRESSIVE: "AM", QUICK_MODE: "QM", INFO: "INFO"}.get(
            self.exch or -1, self.kind
        )
        return f"{self.src}:{self.sport} -> {self.dst}:{self.dport} {what}"


def decode(frames: Iterable[Any]) -> list[Pkt]:
    """Classify every IPv4 packet of ``frames`` (scapy packets or raw Ethernet bytes)."""
    out = []
    for f in frames:
        raw = bytes(f)
        t = float(getattr(f, "time", 0.0))
        if len(raw) < 34 or raw[12:14] != b"\x08\x00":
            continue
        p = _ipv4(raw[14:], t)
        if p is not None:
            out.append(p)
    return out


def _ipv4(ip: bytes, t: float) -> Pkt | None:
    ihl = (ip[0] & 0x0F) * 4
    if ip[0] >> 4 != 4 or len(ip) < ihl:
        return None
    proto = ip[9]
    src, dst = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20]))
    body = ip[ihl:]
    if proto == 50:
        spi = struct.unpack_from("!I", body)[0] if len(body) >= 4 else None
        return Pkt(t, src, dst, "esp", spi=spi, size=len(ip))
    if proto == 1 and len(body) >= 2:
        return Pkt(t, src, dst, "icmp", icmp=(body[0], body[1]), size=len(ip))
    if proto != 17 or len(body) < 8:
        return Pkt(t, src, dst, "other", size=len(ip))
    sport, dport, _ln, csum = struct.unpack_from("!HHHH", body)
    data = body[8:]
    p = Pkt(t, src, dst, "udp", sport, dport, csum, size=len(ip))
    if 4500 in (sport, dport):
        if data == b"\xff":
            p.kind = "keepalive"
            return p
        if data[:4] == b"\0\0\0\0":
            p.marker = True
            data = data[4:]
        else:
            p.kind = "esp-udp"
            p.spi = struct.unpack_from("!I", data)[0] if len(data) >= 4 else None
            return p
    elif 500 not in (sport, dport):
        return p
    if len(data) >= 28:
        p.kind = "ike"
        p.icookie, p.rcookie = data[:8], data[8:16]
        p.exch, flags = data[18], data[19]
        p.encrypted = bool(flags & 1)
        if not p.encrypted:
            for ptype, pbody in _payloads(data):
                if ptype in (NAT_D, NAT_D_DRAFT):
                    p.natd.append(pbody)
                elif ptype == VENDOR_ID:
                    p.vids.append(pbody)
    return p


def _payloads(msg: bytes) -> list[tuple[int, bytes]]:
    out, np, off = [], msg[16], 28
    while np and off + 4 <= len(msg):
        nxt, _res, plen = struct.unpack_from("!BBH", msg, off)
        if plen < 4:
            break
        out.append((np, msg[off + 4 : off + plen]))
        np, off = nxt, off + plen
    return out


def natd_hash(icookie: bytes, rcookie: bytes, addr: str, port: int, hash_: str = "sha1") -> bytes:
    """RFC 3947 §3.2: HASH(CKY-I | CKY-R | IP | Port) with the negotiated hash."""
    data = icookie + rcookie + ipaddress.ip_address(addr).packed + struct.pack("!H", port)
    return hashlib.new(hash_, data).digest()


def natd_view(p: Pkt, hash_: str = "sha1") -> dict[str, Any]:
    """Do the NAT-D hashes of ``p`` match its addresses at this capture point?

    The first NAT-D is the destination, the rest the sender's own addresses
    (seed 000 L2840-2845, RFC 3947 §3.2).
    """
    if len(p.natd) < 2:
        return {"natd": len(p.natd), "dst_match": None, "src_match": None}
    dst = natd_hash(p.icookie, p.rcookie, p.dst, p.dport, hash_)
    src = natd_hash(p.icookie, p.rcookie, p.src, p.sport, hash_)
    return {
        "natd": len(p.natd),
        "dst_match": p.natd[0] == dst,
        "src_match": any(h == src for h in p.natd[1:]),
    }


def phase1_natd(pkts: list[Pkt]) -> list[Pkt]:
    """Main/Aggressive Mode messages that carry NAT-D payloads (MM3/MM4, AM2/AM3)."""
    return [p for p in pkts if p.kind == "ike" and p.exch in (MAIN_MODE, AGGRESSIVE) and p.natd]


def summary(pkts: list[Pkt], between: tuple[str, str] | None = None) -> dict[str, Any]:
    """Counts and port pairs of what crossed a capture point (optionally between 2 hosts)."""
    sel = [p for p in pkts if between is None or {p.src, p.dst} == set(between)]
    ike = [p for p in sel if p.kind == "ike"]
    return {
        "ike_500": sum(1 for p in ike if 500 in (p.sport, p.dport)),
        "ike_4500": sum(1 for p in ike if 4500 in (p.sport, p.dport) or p.marker),
        "ike_4500_marker": all(p.marker for p in ike if p.dport == 4500 or p.sport == 4500),
        "esp_proto50": sum(1 for p in sel if p.kind == "esp"),
        "esp_udp": sum(1 for p in sel if p.kind == "esp-udp"),
        "esp_udp_csum_nonzero": sum(1 for p in sel if p.kind == "esp-udp" and p.udp_csum),
        "keepalives": sum(1 for p in sel if p.kind == "keepalive"),
        "natt_vid": any(RFC3947_VID in p.vids or DRAFT_VIDS & set(p.vids) for p in ike),
        "port_pairs": sorted(
            {
                (p.src, p.sport, p.dst, p.dport)
                for p in sel
                if p.kind in ("esp-udp", "ike", "keepalive")
            }
        ),
    }


def keepalive_gaps(pkts: list[Pkt], src: str | None = None) -> list[float]:
    """Seconds between consecutive keepalives (from ``src`` if given)."""
    ts = [p.t for p in pkts if p.kind == "keepalive" and (src is None or p.src == src)]
    return [round(b - a, 3) for a, b in zip(ts, ts[1:])]
