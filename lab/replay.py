"""Hold, reorder, duplicate and replay IPsec packets inside a lab (anti-replay tests).

Two tools, both working from inside a node's namespace, never the root one:

* :func:`inject` sends complete IPv4 packets (e.g. ESP packets captured
  earlier) from a node through a raw socket (``IP_HDRINCL``): the packet takes
  the node's routing as if it had been forwarded, source address untouched.
* :class:`Hold` is a deterministic in-path stage on a router node: an nft rule
  (own table, prerouting hook) drops the selected packets arriving on one
  interface, an AF_PACKET socket on that interface sees them first, and a
  thread forwards each one itself with a raw socket — or keeps it back when
  the test asked to hold it. Held packets are released later, in any order,
  as often as wanted (duplicates). Non-selected traffic is not touched.

Usage::

    from lab import replay
    with replay.Hold(lab, "isp:eth0", protos=("esp", "ah"), src="10.1.1.1") as h:
        h.hold_next(1)                       # keep the next selected packet
        lab.node("h1").ping(...)             # the rest is forwarded at once
        h.wait_held(1); h.release()          # now deliver it, out of order

Exposed as functions/classes taking the lab (the lab API module is not changed).
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from lab import nsexec, realize
from lab.capture import PACKET_OUTGOING, open_packet_socket
from lab.errors import LabError, LabTimeout

if TYPE_CHECKING:
    from lab.api import Lab

ETH_P_IP = 0x0800
PROTOS = {"esp": 50, "ah": 51, "udp": 17, "icmp": 1}
NFT_TABLE = "ilab_hold"
_ACTIVE: set[str] = set()  # namespaces with a running Hold (one nft table each)
_ACTIVE_LOCK = threading.Lock()


def _raw_socket(netns: str) -> socket.socket:
    return realize.in_ns(netns, lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW,
                                                      socket.IPPROTO_RAW))


def _l3(pkt: Any) -> bytes:
    """Raw IPv4 bytes of a scapy packet (Ether stripped) or of bytes."""
    if isinstance(pkt, (bytes, bytearray, memoryview)):
        data = bytes(pkt)
    else:
        from scapy.layers.inet import IP

        if IP not in pkt:
            raise LabError(f"replay: not an IPv4 packet: {pkt!r}")
        data = bytes(pkt[IP])
    if len(data) < 20 or data[0] >> 4 != 4:
        raise LabError("replay: only IPv4 packets can be injected")
    return data


def _fix_udp_checksum(data: bytes) -> bytes:
    """Recompute the UDP checksum of an IPv4 packet (RFC 768).

    A packet taken off a veth inside the lab may carry a partial checksum
    (CHECKSUM_PARTIAL: the sender's kernel left it to the "hardware"); sent
    again as it is, the receiver would drop it. A zero checksum (none) stays.
    """
    if len(data) < 28 or data[9] != 17 or int.from_bytes(data[6:8], "big") & 0x3FFF:
        return data
    ihl = (data[0] & 0xF) * 4
    ulen = int.from_bytes(data[ihl + 4 : ihl + 6], "big")
    if data[ihl + 6 : ihl + 8] == b"\0\0" or ulen < 8 or ihl + ulen > len(data):
        return data
    seg = bytearray(data[ihl : ihl + ulen])
    seg[6:8] = b"\0\0"
    pseudo = data[12:20] + bytes((0, 17)) + ulen.to_bytes(2, "big")
    buf = pseudo + bytes(seg) + (b"\0" if ulen % 2 else b"")
    total = sum(struct.unpack(f"!{len(buf) // 2}H", buf))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    csum = ~total & 0xFFFF or 0xFFFF
    seg[6:8] = csum.to_bytes(2, "big")
    return data[:ihl] + bytes(seg) + data[ihl + ulen :]


def _dst(data: bytes) -> str:
    return socket.inet_ntoa(data[16:20])


def inject(lab: "Lab", node: str, packets: Any, *, gap: float = 0.0) -> int:
    """Send IPv4 packets (scapy or bytes, one or a list) from inside ``node``.

    The packets leave by ``node``'s routing table towards their destination
    address, unchanged (addresses, IP ID, ESP SPI and sequence number). Use it to
    replay captured ESP/AH packets to the receiving router. Returns the count.
    """
    if not isinstance(packets, (list, tuple)):
        packets = [packets]
    raw = [_fix_udp_checksum(_l3(p)) for p in packets]
    s = _raw_socket(lab.node(node).netns)
    try:
        for i, data in enumerate(raw):
            if i and gap:
                time.sleep(gap)
            s.sendto(data, (_dst(data), 0))
    finally:
        s.close()
    return len(raw)


def ipsec_seq(data: bytes) -> tuple[str, int, int] | None:
    """(protocol, SPI, sequence number) of an IPv4 ESP, AH or ESP-in-UDP packet."""
    if len(data) < 20 or data[0] >> 4 != 4 or int.from_bytes(data[6:8], "big") & 0x1FFF:
        return None
    ihl = (data[0] & 0xF) * 4
    p = data[9]
    if p == 50 and len(data) >= ihl + 8:
        spi, seq = struct.unpack_from("!II", data, ihl)
        return "esp", spi, seq
    if p == 51 and len(data) >= ihl + 12:
        spi, seq = struct.unpack_from("!II", data, ihl + 4)
        return "ah", spi, seq
    if p == 17 and len(data) >= ihl + 16:
        sport, dport = struct.unpack_from("!HH", data, ihl)
        spi, seq = struct.unpack_from("!II", data, ihl + 8)
        if 4500 in (sport, dport) and spi != 0:
            return "esp", spi, seq
    return None


@dataclass
class HeldPacket:
    """A packet kept back by :class:`Hold`."""

    data: bytes
    at: float

    @property
    def seq(self) -> int | None:
        info = ipsec_seq(self.data)
        return info[2] if info else None


class Hold:
    """In-path hold/forward stage for packets arriving on ``node:ifname``.

    Args:
        lab: the running lab.
        spec: ``node:ifname`` of a forwarding node (a router between the peers).
        protos: IP protocols taken off the kernel path (``esp``, ``ah``, ``udp``,
            ``icmp``).
        holdable: which of those :meth:`hold_next` may keep back; default ESP, AH and
            ESP-in-UDP data packets (never IKE or NAT keepalives), the rest is forwarded.
        src: only packets from this source address (None: any).
    """

    def __init__(
        self,
        lab: "Lab",
        spec: str,
        *,
        protos: Iterable[str] = ("esp", "ah"),
        src: str | None = None,
        holdable: Callable[[bytes], bool] | None = None,
    ) -> None:
        node, _, ifname = spec.partition(":")
        self.label = spec
        self.netns = lab.node(node).netns
        self.node = node
        self.ifname = ifname
        unknown = [p for p in protos if p not in PROTOS]
        if unknown or not ifname:
            raise LabError(f"replay.Hold({spec!r}): bad interface or protocols {unknown}")
        self.protos = {PROTOS[p] for p in protos}
        self.src = socket.inet_aton(src) if src else None
        self._srcs = src
        self.holdable = holdable or (lambda data: ipsec_seq(data) is not None)
        self.held: list[HeldPacket] = []
        self.forwarded = 0
        self.released = 0
        self._to_hold = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rx: socket.socket | None = None
        self._tx: socket.socket | None = None

    # -- selection ---------------------------------------------------------------------

    def _nft_match(self) -> str:
        protos = ", ".join(str(p) for p in sorted(self.protos))
        m = f'iifname "{self.ifname}" ip protocol {{ {protos} }}'
        if self._srcs:
            m += f" ip saddr {self._srcs}"
        return m

    def _selected(self, data: bytes) -> bool:
        if len(data) < 20 or data[0] >> 4 != 4 or data[9] not in self.protos:
            return False
        # the Python side must select exactly what the nft rule drops
        return self.src is None or data[12:16] == self.src

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> "Hold":
        with _ACTIVE_LOCK:
            if self.netns in _ACTIVE:
                raise LabError(f"replay.Hold: node {self.node} already has a hold stage")
            _ACTIVE.add(self.netns)
        try:
            return self._start()
        except BaseException:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(self.netns)
            raise

    def _start(self) -> "Hold":
        self._rx = open_packet_socket(self.netns, self.ifname, "replay")
        self._tx = _raw_socket(self.netns)
        t = NFT_TABLE
        rules = (
            f"table inet {t}\ndelete table inet {t}\ntable inet {t} {{\n"
            f"  chain pre {{ type filter hook prerouting priority -350; policy accept;\n"
            f"    {self._nft_match()} drop\n  }}\n}}\n"
        )
        try:
            nsexec.run_in(self.netns, ["nft", "-f", "-"], input=rules, node=self.node)
        except Exception:
            self._rx.close()
            self._tx.close()
            raise
        self._thread = threading.Thread(target=self._loop, name=f"hold:{self.label}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Remove the rule (traffic flows normally again); held packets are discarded."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        try:
            nsexec.run_in(
                self.netns,
                ["nft", "delete", "table", "inet", NFT_TABLE],
                node=self.node,
                check=False,
                timeout=10,
            )
        finally:
            for s in (self._rx, self._tx):
                if s is not None:
                    s.close()
            self._rx = self._tx = None
            with _ACTIVE_LOCK:
                _ACTIVE.discard(self.netns)

    def __enter__(self) -> "Hold":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        rx = self._rx
        assert rx is not None
        while not self._stop.is_set():
            r, _, _ = select.select([rx], [], [], 0.05)
            if not r:
                continue
            try:
                frame, addr = rx.recvfrom(65535)
            except OSError:
                return
            if addr[2] == PACKET_OUTGOING or len(frame) < 34:
                continue
            if int.from_bytes(frame[12:14], "big") != ETH_P_IP:
                continue
            data = frame[14:]
            total = int.from_bytes(data[2:4], "big")
            data = data[:total]
            if not self._selected(data):
                continue
            with self._cond:
                # only ESP/AH data packets are held (never IKE or NAT keepalives on UDP)
                if self._to_hold > 0 and self.holdable(data):
                    self._to_hold -= 1
                    self.held.append(HeldPacket(data, time.monotonic()))
                    self._cond.notify_all()
                    continue
            self._send(data)
            with self._cond:
                self.forwarded += 1
                self._cond.notify_all()

    def _send(self, data: bytes) -> None:
        assert self._tx is not None
        try:
            self._tx.sendto(_fix_udp_checksum(data), (_dst(data), 0))
        except OSError:
            pass  # a packet the router could not forward either (no route, MTU)

    # -- test interface ----------------------------------------------------------------

    def hold_next(self, n: int) -> None:
        """Keep back the next ``n`` selected packets (the rest is forwarded)."""
        with self._cond:
            self._to_hold += n

    def wait_held(self, n: int, timeout: float = 5.0) -> list[HeldPacket]:
        """Wait until ``n`` packets are held; raise LabTimeout naming the stage."""
        return (
            self._wait(lambda: len(self.held) >= n, f"{n} packets held on {self.label}", timeout)
            or self.held
        )

    def wait_forwarded(self, n: int, timeout: float = 5.0) -> None:
        """Wait until ``n`` selected packets have been forwarded."""
        self._wait(lambda: self.forwarded >= n, f"{n} packets forwarded on {self.label}", timeout)

    def _wait(self, pred: Any, what: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LabTimeout(
                        f"replay: {what} (held {len(self.held)}, forwarded {self.forwarded})",
                        timeout,
                    )
                self._cond.wait(left)
        return None

    def release(self, order: Iterable[int] | None = None, *, keep: bool = False) -> int:
        """Forward held packets now: ``order`` lists indices into :attr:`held`
        (default: all, in arrival order). ``keep=True`` keeps them held, so a
        later release sends them again (duplicates). Returns the count sent."""
        with self._cond:
            items = list(self.held)
            idx = list(order) if order is not None else list(range(len(items)))
            if not keep:
                self.held = [p for i, p in enumerate(items) if i not in set(idx)]
        for i in idx:
            self._send(items[i].data)
        self.released += len(idx)
        return len(idx)


__all__ = ["Hold", "HeldPacket", "inject", "ipsec_seq"]
