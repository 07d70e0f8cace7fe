"""Sending outer packets: egress MTU lookup and user-space fragmentation.

The kernel refuses (EMSGSIZE) IP_HDRINCL packets larger than the egress MTU
instead of fragmenting them, so outer packets that do not fit are
fragmented here (post-fragmentation, RFC 791 §3.2) unless DF is set.
"""

from __future__ import annotations

import errno
import logging
import struct
import time
from collections import Counter
from typing import Any

from engine.esp.fragment import fragment_ipv4

log = logging.getLogger("engine.output")

MTU_CACHE_SECONDS = 10.0


class Outbound:
    """Sends complete IPv4 packets on the engine's raw socket."""

    def __init__(self, sockets: Any, stats: Counter[str], mark: int = 0) -> None:
        self.sockets = sockets
        self.mark = mark
        self.stats = stats
        self._mtu: dict[str, tuple[float, int]] = {}
        self._ident = 0

    def mtu_to(self, dst: str) -> int:
        """Egress MTU towards ``dst`` (route lookup, cached)."""
        now = time.monotonic()
        hit = self._mtu.get(dst)
        if hit is not None and now - hit[0] < MTU_CACHE_SECONDS:
            return hit[1]
        mtu = 1500
        try:
            import socket as _s

            from pyroute2 import IPRoute

            fam = _s.AF_INET6 if ":" in dst else _s.AF_INET
            with IPRoute() as ipr:
                # with the engine's mark: the route its raw socket really takes (a crypto
                # ACL covering the peer's own address would otherwise answer "ipsec0")
                routes = ipr.route("get", dst=dst, family=fam, mark=self.mark)
                oif = routes[0].get_attr("RTA_OIF") if routes else None
                if oif:
                    links = ipr.get_links(oif)
                    if links:
                        mtu = links[0].get_attr("IFLA_MTU") or mtu
        except Exception as exc:
            log.debug("MTU lookup to %s failed: %s", dst, exc)
        self._mtu[dst] = (now, mtu)
        return mtu

    def send_outer(self, packet: bytes, dst: str) -> None:
        """Send a protected packet, fragmenting it if it exceeds the egress MTU."""
        mtu = self.mtu_to(dst)
        try:
            if len(packet) <= mtu:
                self.sockets.send_ip(packet, dst)
                self.stats["tx_packets"] += 1
                return
            if packet[0] >> 4 == 6:
                self.stats["tx_v6_too_big"] += 1  # IPv6: Egress answers PTB before protect
                return
            if struct.unpack_from("!H", packet, 6)[0] & 0x4000:
                self.stats["tx_df_too_big"] += 1  # DF set: the packet cannot pass
                return
            if packet[4:6] == b"\0\0":  # fragments need one non-zero Identification
                self._ident = (self._ident + 1) & 0xFFFF or 1
                packet = packet[:4] + struct.pack("!H", self._ident) + packet[6:]
            for frag in fragment_ipv4(packet, mtu):
                self.sockets.send_ip(frag, dst)
                self.stats["tx_fragments"] += 1
            self.stats["tx_packets"] += 1
        except OSError as exc:
            self.stats["tx_errors"] += 1
            if exc.errno == errno.EMSGSIZE:  # MTU changed under us
                self._mtu.pop(dst, None)
            log.debug("send to %s failed: %s", dst, exc)

    def send_clear(self, packet: bytes, dst: str) -> None:
        """Forward a bypass packet unchanged (the engine's mark routes it via main)."""
        if packet[0] >> 4 == 6 and (packet[24] == 0xFF or packet[8:10] == b"\xfe\x80"):
            self.stats["bypass_v6_local_dropped"] += 1  # link-local/multicast: not routed
            return
        self.send_outer(packet, dst)


__all__ = ["Outbound", "fragment_ipv4"]
