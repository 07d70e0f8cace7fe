"""Wire analysis for the IPv6 IPsec scenarios: outer IPv6 with AH (51) and/or
ESP (50), raw or in UDP 4500, decrypted with the engines' exported keys."""

from __future__ import annotations

from typing import Any

from reports.ladder import scapy_esp_sa


def protected(packets: list[Any], keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per IPsec packet on the wire: outer addresses, AH/ESP SPIs, UDP
    encapsulation, ESP next header and the decrypted inner packet (None if no key)."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.ipsec import AH, ESP

    by_spi = {k["spi"]: k for k in keys if k.get("proto") == "esp"}
    out = []
    for p in packets:
        if IPv6 not in p:
            continue
        ip6 = p[IPv6]
        rec: dict[str, Any] = {"src": ip6.src, "dst": ip6.dst, "ah_spi": None, "esp_spi": None,
                               "udp": False, "inner": None, "next_header": ip6.nh,
                               "tclass": int(ip6.tc)}
        if UDP in p and 4500 in (p[UDP].sport, p[UDP].dport):
            raw = bytes(p[UDP].payload)
            if len(raw) < 8 or raw[:4] == b"\0\0\0\0" or raw == b"\xff":
                continue  # IKE (non-ESP marker) or NAT keepalive
            esp, rec["udp"] = ESP(raw), True
        elif AH in p:
            rec["ah_spi"] = p[AH].spi
            if p[AH].nh != 50:
                continue
            esp = ESP(bytes(p[AH].payload))
        elif ESP in p:
            esp = p[ESP]
        else:
            continue
        rec["esp_spi"], rec["esp_seq"] = esp.spi, esp.seq
        k = by_spi.get(esp.spi)
        if k is not None:
            try:
                dec = scapy_esp_sa(k).decrypt(IPv6(src=ip6.src, dst=ip6.dst, nh=50) / esp)
                # scapy keeps the outer header in tunnel mode: the inner packet follows it
                rec["inner"] = dec.payload if isinstance(dec.payload, (IPv6, IP)) else dec
            except Exception as exc:  # evidence, not a crash
                rec["error"] = f"{type(exc).__name__}: {exc}"
        out.append(rec)
    return out


def clear_icmp6_echo(packets: list[Any], src: str, dst: str, requests_only: bool = False) -> int:
    """ICMPv6 echo requests/replies between ``src`` and ``dst`` visible in clear
    (``requests_only``: requests from ``src`` to ``dst``)."""
    from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
    from scapy.layers.ipsec import ESP

    n = 0
    for p in packets:
        if IPv6 not in p or ESP in p:
            continue
        if requests_only:
            n += (p[IPv6].src, p[IPv6].dst) == (src, dst) and ICMPv6EchoRequest in p
        elif {p[IPv6].src, p[IPv6].dst} == {src, dst} and (
                ICMPv6EchoRequest in p or ICMPv6EchoReply in p):
            n += 1
    return n


def inner_echoes(recs: list[dict[str, Any]], src: str, dst: str) -> int:
    """Decrypted inner IPv6 ICMPv6 echo requests/replies between the hosts."""
    from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6

    n = 0
    for r in recs:
        inner = r.get("inner")
        if inner is not None and IPv6 in inner and {inner[IPv6].src, inner[IPv6].dst} == \
                {src, dst} and (ICMPv6EchoRequest in inner or ICMPv6EchoReply in inner):
            n += 1
    return n


def sa_spis(flows: list[dict[str, Any]], key: str) -> set[int]:
    """SPIs of ``show crypto ipsec sa`` JSON flows (``inbound_esp``, ``outbound_ah``, ...)."""
    return {sa["spi"] for f in flows for sa in f.get(key, []) if sa.get("status") == "ACTIVE"}
