"""Decode a pcap into a packet ladder (who sent what to whom, when).

Lenient by design (STYLE §2): a packet that does not decode becomes a
``raw`` event with a note, never an exception. IKE payload chains are walked
from the generic payload header (RFC 2408 §3.2) so encrypted messages still
show their header fields; ESP is decrypted with the engine's exported keys
(``lab keys``) through scapy's ``SecurityAssociation`` when they match.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

MAX_EVENTS = 400

#: RFC 2408 §3.1 exchange types (+ RFC 2409 §5.5 Quick Mode, §5.7 New Group).
EXCHANGES = {1: "Base", 2: "Main Mode", 3: "Auth Only", 4: "Aggressive Mode",
             5: "Informational", 32: "Quick Mode", 33: "New Group"}
#: RFC 2408 §3.1 payload types, RFC 3947 §3 NAT-D/NAT-OA (and the draft numbers).
PAYLOADS = {1: "SA", 2: "P", 3: "T", 4: "KE", 5: "ID", 6: "CERT", 7: "CR", 8: "HASH",
            9: "SIG", 10: "NONCE", 11: "N", 12: "D", 13: "VID", 20: "NAT-D", 21: "NAT-OA",
            130: "NAT-D", 131: "NAT-OA"}
#: RFC 2408 §3.14.1 notify message types used by the documents (+ RFC 3706 DPD).
NOTIFIES = {1: "INVALID-PAYLOAD-TYPE", 4: "INVALID-COOKIE", 9: "INVALID-MESSAGE-ID",
            11: "INVALID-SPI", 14: "NO-PROPOSAL-CHOSEN", 16: "PAYLOAD-MALFORMED",
            18: "INVALID-ID-INFORMATION", 23: "INVALID-HASH-INFORMATION",
            24: "AUTHENTICATION-FAILED", 24576: "RESPONDER-LIFETIME", 24578: "INITIAL-CONTACT",
            36136: "R-U-THERE", 36137: "R-U-THERE-ACK"}

#: Engine algorithm names (engine/crypto/algorithms.py) → scapy names.
SCAPY_CRYPT = {"null": "NULL", "des": "DES", "3des": "3DES", "aes128": "AES-CBC",
               "aes192": "AES-CBC", "aes256": "AES-CBC", "aes128gcm16": "AES-GCM",
               "aes192gcm16": "AES-GCM", "aes256gcm16": "AES-GCM"}
SCAPY_AUTH = {"hmac-md5-96": "HMAC-MD5-96", "hmac-sha1-96": "HMAC-SHA1-96",
              "hmac-sha256-128": "SHA2-256-128", "hmac-sha384-192": "SHA2-384-192",
              "hmac-sha512-256": "SHA2-512-256", None: "NULL", "": "NULL", "null": "NULL"}


def ike_summary(data: bytes) -> dict[str, Any]:
    """Header fields and payload list of one ISAKMP message (RFC 2408 §3.1)."""
    if len(data) < 28:
        return {"label": "IKE (truncated)", "cls": "ike", "detail": data.hex()[:64]}
    icookie, rcookie = data[0:8].hex(), data[8:16].hex()
    nxt, ver, exch, flags, msgid, length = struct.unpack("!BBBBII", data[16:28])
    encrypted = bool(flags & 1)
    payloads: list[str] = []
    notify = ""
    off = 28
    if not encrypted:
        guard = 0
        while nxt and off + 4 <= len(data) and guard < 32:
            guard += 1
            plen = struct.unpack("!H", data[off + 2:off + 4])[0]
            name = PAYLOADS.get(nxt, f"#{nxt}")
            if nxt == 11 and off + 12 <= len(data):  # RFC 2408 §3.14 notify type
                ntype = struct.unpack("!H", data[off + 10:off + 12])[0]
                notify = NOTIFIES.get(ntype, str(ntype))
                name = f"N({notify})"
            payloads.append(name)
            if plen < 4:
                payloads.append("(malformed)")
                break
            nxt = data[off]
            off += plen
    return {"exch": EXCHANGES.get(exch, f"exchange {exch}"), "exch_type": exch,
            "icookie": icookie, "rcookie": rcookie, "msgid": msgid, "encrypted": encrypted,
            "payloads": payloads, "notify": notify, "length": length, "cls": "ike"}


def scapy_esp_sa(key: dict[str, Any]) -> Any:
    """scapy ``SecurityAssociation`` for one exported ESP key record (``lab keys``).

    Raises:
        KeyError: an algorithm scapy has no name for here.
    """
    from scapy.layers.ipsec import ESP, SecurityAssociation

    return SecurityAssociation(
        ESP, spi=key["spi"], crypt_algo=SCAPY_CRYPT[key.get("encr") or "null"],
        crypt_key=bytes.fromhex(key.get("encr_key") or ""),
        auth_algo=SCAPY_AUTH[key.get("integ")],
        auth_key=bytes.fromhex(key.get("integ_key") or "") or None)


def _sa_for(keys: list[dict[str, Any]], spi: int, dst: str) -> Any | None:
    for k in keys:
        if k.get("spi") != spi or k.get("proto", "esp") != "esp":
            continue
        if k.get("dst") and str(k["dst"]) != dst:
            continue
        try:
            return scapy_esp_sa(k)
        except Exception:
            return None
    return None


def _decrypt(ip_cls: Any, src: str, dst: str, esp_bytes: bytes,
             keys: list[dict[str, Any]]) -> str:
    """Inner packet summary of an ESP packet, or '' when no key fits."""
    if not keys or len(esp_bytes) < 8:
        return ""
    spi = struct.unpack("!I", esp_bytes[:4])[0]
    sa = _sa_for(keys, spi, dst)
    if sa is None:
        return ""
    try:
        from scapy.layers.ipsec import ESP

        inner = sa.decrypt(ip_cls(src=src, dst=dst, proto=50) / ESP(esp_bytes))
        return "decrypted: " + _inner_summary(inner)
    except Exception as exc:
        return f"not decrypted ({type(exc).__name__})"


def _inner_summary(pkt: Any) -> str:
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.inet6 import IPv6

    while isinstance(pkt, (IP, IPv6)) and isinstance(pkt.payload, (IP, IPv6)):
        pkt = pkt.payload  # transport-mode decryption of a tunnel SA keeps the outer header
    if pkt.haslayer(IP) and pkt.haslayer(ICMP):
        ip, icmp = pkt[IP], pkt[ICMP]
        kind = {8: "echo-request", 0: "echo-reply"}.get(icmp.type, f"type {icmp.type}")
        return f"{ip.src} → {ip.dst} ICMP {kind} seq={icmp.seq}"
    return pkt.summary()


def _event(pkt: Any, keys: list[dict[str, Any]]) -> dict[str, Any] | None:
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6

    if pkt.haslayer(IP):
        ip, ip_cls = pkt[IP], IP
        proto = ip.proto
    elif pkt.haslayer(IPv6):
        ip, ip_cls = pkt[IPv6], IPv6
        proto = ip.nh
    else:
        return None
    ev: dict[str, Any] = {"src": ip.src, "dst": ip.dst, "len": len(ip), "detail": ""}
    if isinstance(ip, IP):
        ev["df"] = bool(int(ip.flags) & 2)
        if ip.frag or int(ip.flags) & 1:
            ev["detail"] = f"fragment off={ip.frag * 8} MF={int(ip.flags) & 1}"
    payload = bytes(ip.payload)
    if proto == 17 and pkt.haslayer(UDP):
        udp = pkt[UDP]
        data = bytes(udp.payload)
        ports = f"{udp.sport}→{udp.dport}"
        if 500 in (udp.sport, udp.dport) and 4500 not in (udp.sport, udp.dport):
            s = ike_summary(data)
            ev.update(s, label=_ike_label(s), ports=ports)
        elif 4500 in (udp.sport, udp.dport):
            if data == b"\xff":
                ev.update(cls="natt", label="NAT-keepalive", ports=ports)
            elif data[:4] == b"\0\0\0\0":
                s = ike_summary(data[4:])
                ev.update(s, label=_ike_label(s) + " (4500)", ports=ports)
            else:
                ev.update(_esp(data), ports=ports)
                ev["label"] += " (UDP-encap)"
                ev["inner"] = _decrypt(ip_cls, ip.src, ip.dst, data, keys)
        else:
            ev.update(cls="other", label=f"UDP {ports} len={len(data)}")
    elif proto == 50:
        ev.update(_esp(payload))
        ev["inner"] = _decrypt(ip_cls, ip.src, ip.dst, payload, keys)
    elif proto == 51 and len(payload) >= 12:
        nh, plen = payload[0], (payload[1] + 2) * 4  # RFC 4302 §2.2 payload length
        spi, seq = struct.unpack("!II", payload[4:12])
        ev.update(cls="ah", label=f"AH spi=0x{spi:08x} seq={seq}", spi=spi, seq=seq)
        rest = payload[plen:]
        if nh == 50 and len(rest) >= 8:
            esp = _esp(rest)
            ev["label"] += " + " + esp["label"]
            ev["inner"] = _decrypt(ip_cls, ip.src, ip.dst, rest, keys)
        elif nh in (4, 41):
            try:
                inner = (IP if nh == 4 else IPv6)(rest)
                ev["inner"] = "inner: " + _inner_summary(inner)
            except Exception:
                ev["inner"] = ""
    elif pkt.haslayer(ICMP):
        icmp = pkt[ICMP]
        kind = {8: "echo-request", 0: "echo-reply", 3: "unreachable",
                11: "time-exceeded"}.get(icmp.type, f"type {icmp.type}")
        extra = f" id={icmp.id} seq={icmp.seq}" if icmp.type in (0, 8) else f" code={icmp.code}"
        ev.update(cls="icmp", label=f"ICMP {kind}{extra}")
    elif proto == 6 and pkt.haslayer(TCP):
        tcp = pkt[TCP]
        ev.update(cls="other", label=f"TCP {tcp.sport}→{tcp.dport} [{tcp.flags}]")
    else:
        ev.update(cls="other", label=f"IP proto {proto}")
    return ev


def _esp(data: bytes) -> dict[str, Any]:
    if len(data) < 8:
        return {"cls": "raw", "label": "ESP (truncated)"}
    spi, seq = struct.unpack("!II", data[:8])  # RFC 4303 §2
    return {"cls": "esp", "label": f"ESP spi=0x{spi:08x} seq={seq}", "spi": spi, "seq": seq}


def _ike_label(s: dict[str, Any]) -> str:
    return s.get("exch") or s.get("label", "IKE")


def _number_ike(events: list[dict[str, Any]]) -> None:
    """Number IKE messages per exchange (Main Mode #1..#6, Quick Mode #1..#3)."""
    counts: dict[tuple, int] = {}
    for ev in events:
        if ev.get("cls") != "ike" or "exch_type" not in ev:
            continue
        key = (ev["icookie"], ev["exch_type"], ev["msgid"])
        counts[key] = counts.get(key, 0) + 1
        ev["msgno"] = counts[key]
        label = f"{ev['exch']} #{counts[key]}"
        if ev.get("encrypted"):
            label += " [encrypted]"
        elif ev.get("payloads"):
            label += " [" + ", ".join(ev["payloads"]) + "]"
        if ev["msgid"]:
            label += f" msgid=0x{ev['msgid']:08x}"
        ev["label"] = label + (" (4500)" if ev["label"].endswith("(4500)") else "")


def decode_pcap(path: str | Path, keys: list[dict[str, Any]] | None = None,
                names: dict[str, str] | None = None) -> dict[str, Any]:
    """Decode ``path`` into ``{"lanes", "names", "events", "total", "error"}``."""
    # Link-layer bindings must be registered before reading, or scapy returns Raw.
    import scapy.layers.inet  # noqa: F401
    import scapy.layers.inet6  # noqa: F401
    import scapy.layers.l2  # noqa: F401
    from scapy.utils import PcapReader

    keys = keys or []
    names = names or {}
    events: list[dict[str, Any]] = []
    total = 0
    hidden = 0
    truncated = False
    t0: float | None = None
    error = ""
    try:
        with PcapReader(str(path)) as reader:
            for pkt in reader:
                total += 1
                if len(events) >= MAX_EVENTS:
                    truncated = True
                    continue
                ts = float(pkt.time)
                t0 = ts if t0 is None else t0
                try:
                    ev = _event(pkt, keys)
                except Exception as exc:
                    ev = {"src": "?", "dst": "?", "cls": "raw",
                          "label": f"undecodable ({type(exc).__name__})", "detail": ""}
                if ev is None:
                    continue
                if str(ev["dst"]).lower().startswith("ff02:"):
                    hidden += 1  # IPv6 link-local multicast (ND/MLD) noise
                    continue
                ev["t_ms"] = round((ts - t0) * 1000, 3)
                events.append(ev)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    _number_ike(events)
    lanes: list[str] = []
    for ev in events:
        for addr in (ev["src"], ev["dst"]):
            if addr not in lanes:
                lanes.append(addr)
    return {"lanes": lanes, "names": {a: names[a] for a in lanes if a in names},
            "events": events, "total": total, "hidden": hidden, "truncated": truncated,
            "error": error}
