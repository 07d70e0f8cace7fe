"""Raw ESP/AH sockets, the IP_HDRINCL send socket and IKE UDP sockets.

Every socket carries the engine's fwmark (``SO_MARK``) so that the policy
rules never route the engine's own packets back into the TUN.

Inbound ESP/AH arrive on raw sockets (proto 50/51) with the IPv4 header;
the kernel has already reassembled fragments for local delivery
(``ip_local_deliver`` defragments before raw delivery). IKE arrives on UDP
500 and 4500 bound to the wildcard address with ``IP_PKTINFO`` so that the
local address of each datagram is known and replies leave from it.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
SO_MARK = getattr(socket, "SO_MARK", 36)
UDP_ENCAP = 100  # linux/udp.h (not used: the kernel has no ESP decap here)

_PKTINFO = struct.Struct("=I4s4s")  # struct in_pktinfo {ifindex; spec_dst; addr}
_PKTINFO6 = struct.Struct("=16sI")  # struct in6_pktinfo {addr; ifindex}
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)


def _mark(s: socket.socket, mark: int) -> None:
    s.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)


def raw_receiver(proto: int, mark: int, rcvbuf: int = 4 << 20) -> socket.socket:
    """Non-blocking raw IPv4 socket receiving every packet of ``proto``."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
    _mark(s, mark)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.setblocking(False)
    return s


def raw_sender(mark: int, sndbuf: int = 4 << 20) -> socket.socket:
    """IPPROTO_RAW socket: sends complete IPv4 packets (IP_HDRINCL implied)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    _mark(s, mark)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    return s


def udp_socket(port: int, mark: int, address: str = "0.0.0.0") -> socket.socket:
    """Non-blocking UDP socket on ``port`` with IP_PKTINFO enabled."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    _mark(s, mark)
    s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((address, port))
    s.setblocking(False)
    return s


def raw_receiver6(proto: int, mark: int, rcvbuf: int = 4 << 20) -> socket.socket:
    """Non-blocking raw IPv6 socket for ``proto``: payload only, addresses via pktinfo."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, proto)
    _mark(s, mark)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
    s.setblocking(False)
    return s


def raw_sender6(mark: int, sndbuf: int = 4 << 20) -> socket.socket:
    """AF_INET6 IPPROTO_RAW socket: sends complete IPv6 packets (header included)."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
    _mark(s, mark)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    return s


def udp_socket6(port: int, mark: int) -> socket.socket:
    """Non-blocking IPv6-only UDP socket on ``port`` with IPV6_RECVPKTINFO."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    _mark(s, mark)
    s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
    s.bind(("::", port))
    s.setblocking(False)
    return s


def recv6(s: socket.socket, size: int = 65535) -> tuple[bytes, tuple[str, int], str | None]:
    """One datagram/packet from an IPv6 socket: (data, (src, port), local address)."""
    data, anc, _flags, src = s.recvmsg(size, socket.CMSG_SPACE(_PKTINFO6.size))
    local = None
    for level, ctype, cdata in anc:
        if level == socket.IPPROTO_IPV6 and ctype == IPV6_PKTINFO and \
                len(cdata) >= _PKTINFO6.size:
            local = socket.inet_ntop(socket.AF_INET6, _PKTINFO6.unpack_from(cdata)[0])
    return data, (src[0].split("%")[0], src[1]), local


def recv_udp(s: socket.socket) -> tuple[bytes, tuple[str, int], str | None]:
    """One datagram: (data, (src ip, port), local address or None)."""
    data, anc, _flags, src = s.recvmsg(65535, socket.CMSG_SPACE(_PKTINFO.size))
    local = None
    for level, ctype, cdata in anc:
        if level == socket.IPPROTO_IP and ctype == IP_PKTINFO and len(cdata) >= _PKTINFO.size:
            _idx, _spec, addr = _PKTINFO.unpack_from(cdata)
            local = socket.inet_ntoa(addr)
    return data, (src[0], src[1]), local


def send_udp(s: socket.socket, data: bytes, dst: tuple[str, int], src: str | None) -> None:
    """Send ``data`` to ``dst`` from local address ``src`` (IP_PKTINFO / IPV6_PKTINFO)."""
    if s.family == socket.AF_INET6:
        anc6 = []
        if src and src != "::":
            anc6 = [(socket.IPPROTO_IPV6, IPV6_PKTINFO,
                     _PKTINFO6.pack(socket.inet_pton(socket.AF_INET6, src), 0))]
        s.sendmsg([data], anc6, 0, dst)
        return
    anc = []
    if src and src != "0.0.0.0":
        anc = [(socket.IPPROTO_IP, IP_PKTINFO, _PKTINFO.pack(0, socket.inet_aton(src), b"\0" * 4))]
    s.sendmsg([data], anc, 0, dst)


@dataclass
class Sockets:
    """All data-plane and IKE sockets of one engine."""

    mark: int
    esp: socket.socket | None = None
    ah: socket.socket | None = None
    raw_out: socket.socket | None = None
    ike: socket.socket | None = None
    natt: socket.socket | None = None
    esp6: socket.socket | None = None
    ah6: socket.socket | None = None
    raw_out6: socket.socket | None = None
    ike6: socket.socket | None = None
    natt6: socket.socket | None = None
    extra: list[socket.socket] = field(default_factory=list)

    @classmethod
    def open(cls, mark: int, ike_port: int = 500, natt_port: int = 4500) -> "Sockets":
        s = cls(mark)
        s.esp = raw_receiver(socket.IPPROTO_ESP if hasattr(socket, "IPPROTO_ESP") else 50, mark)
        s.ah = raw_receiver(getattr(socket, "IPPROTO_AH", 51), mark)
        s.raw_out = raw_sender(mark)
        s.ike = udp_socket(ike_port, mark)
        s.natt = udp_socket(natt_port, mark)
        try:  # IPv6 is optional (disabled in some namespaces)
            s.esp6 = raw_receiver6(50, mark)
            s.ah6 = raw_receiver6(51, mark)
            s.raw_out6 = raw_sender6(mark)
            s.ike6 = udp_socket6(ike_port, mark)
            s.natt6 = udp_socket6(natt_port, mark)
        except OSError:
            for sock in (s.esp6, s.ah6, s.raw_out6, s.ike6, s.natt6):
                if sock is not None:
                    sock.close()
            s.esp6 = s.ah6 = s.raw_out6 = s.ike6 = s.natt6 = None
        return s

    def send_ip(self, packet: bytes, dst: str) -> None:
        """Send a complete IPv4 or IPv6 packet (header included)."""
        if packet[0] >> 4 == 6:
            if self.raw_out6 is None:
                raise OSError(97, "IPv6 unavailable")
            self.raw_out6.sendto(packet, (dst, 0))
            return
        assert self.raw_out is not None
        self.raw_out.sendto(packet, (dst, 0))

    def close(self) -> None:
        for sock in (self.esp, self.ah, self.raw_out, self.ike, self.natt, self.esp6, self.ah6,
                     self.raw_out6, self.ike6, self.natt6, *self.extra):
            if sock is not None:
                sock.close()
