"""Packet capture inside a node's namespace: AF_PACKET socket -> pcap + scapy packets.

The socket is opened by a short-lived thread that entered the namespace; a
socket stays bound to the namespace it was created in, so the reader thread
runs in the root namespace. Decoding never raises: what scapy cannot parse
stays ``Raw``.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from lab import realize
from lab.errors import LabError, LabTimeout

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
LINKTYPE_ETHERNET = 1
SNAPLEN = 262144


def open_packet_socket(netns: str, ifname: str, who: str = "capture") -> socket.socket:
    """An AF_PACKET socket bound to ``ifname`` inside ``netns`` (``who`` prefixes errors)."""
    def fn() -> socket.socket:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            s.bind((ifname, ETH_P_ALL))
        except OSError as exc:
            s.close()
            raise LabError(f"{who}: no interface {ifname} in {netns}: {exc.strerror}") from None
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        return s

    return realize.in_ns(netns, fn)


class PcapFile:
    """Minimal libpcap writer (microsecond timestamps, Ethernet link type)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET))
        self.f.flush()

    def write(self, ts: float, data: bytes) -> None:
        sec = int(ts)
        self.f.write(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(data), len(data)))
        self.f.write(data)
        self.f.flush()

    def close(self) -> None:
        self.f.close()


class Capture:
    """Context manager capturing one interface of a node.

    Attributes:
        pcap: path of the pcap file being written.
        packets: decoded scapy packets (``Ether``), each with ``.time`` and
            ``.sniffed_on``; ``.direction`` is "out" for packets the node sent.
    """

    def __init__(self, netns: str, ifname: str, pcap: Path, *, count: int | None = None,
                 label: str = "") -> None:
        self.netns, self.ifname, self.pcap = netns, ifname, Path(pcap)
        self.count = count
        self.label = label or f"{netns}:{ifname}"
        self.raw: list[tuple[float, bytes, bool]] = []   # (time, frame, outgoing)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._decoded: list[Any] | None = None

    def start(self) -> "Capture":
        self._sock = open_packet_socket(self.netns, self.ifname)
        self._writer = PcapFile(self.pcap)
        self._thread = threading.Thread(target=self._loop, name=f"capture:{self.label}",
                                        daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        assert self._sock is not None
        sock = self._sock
        while True:
            # After stop(): drain what is already queued on the socket, then end,
            # so packets that passed just before the `with` block closed are kept.
            stopping = self._stop.is_set()
            r, _, _ = select.select([sock], [], [], 0 if stopping else 0.05)
            if not r:
                if stopping:
                    break
                continue
            try:
                data, addr = sock.recvfrom(SNAPLEN)
            except OSError:
                break
            ts = time.time()
            self._writer.write(ts, data)
            with self._cond:
                self.raw.append((ts, data, addr[2] == PACKET_OUTGOING))
                self._decoded = None
                self._cond.notify_all()
            if self.count is not None and len(self.raw) >= self.count:
                break

    def stop(self) -> None:
        """Stop capturing (packets already seen stay available)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self._writer.close()

    def __enter__(self) -> "Capture":
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def packets(self) -> list[Any]:
        with self._cond:
            raw = list(self.raw)
            if self._decoded is not None and len(self._decoded) == len(raw):
                return list(self._decoded)
        self._decoded = [decode(ts, data, out, self.label) for ts, data, out in raw]
        return list(self._decoded)

    def wait_for(self, pred: Callable[[Any], bool], timeout: float = 5.0,
                 what: str = "a matching packet") -> Any:
        """Block until a packet satisfying ``pred`` was captured; return it."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            with self._cond:
                raw = self.raw[seen:]
                seen += len(raw)
            for ts, data, out in raw:
                pkt = decode(ts, data, out, self.label)
                try:
                    if pred(pkt):
                        return pkt
                except (AttributeError, IndexError, TypeError):
                    continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise LabTimeout(f"{what} on {self.label}", timeout)
            with self._cond:
                if len(self.raw) == seen:
                    self._cond.wait(min(left, 0.2))

    def wait_count(self, n: int, timeout: float = 5.0) -> None:
        """Block until at least ``n`` packets were captured."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.raw) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LabTimeout(f"{n} packets on {self.label}", timeout)
                self._cond.wait(left)


def decode(ts: float, data: bytes, outgoing: bool, label: str = "") -> Any:
    """Decode one frame with scapy; never raises (undecodable -> Raw)."""
    import scapy.layers.inet  # noqa: F401 - bind IPv4/UDP/ICMP
    import scapy.layers.inet6  # noqa: F401 - bind IPv6/ICMPv6
    import scapy.layers.ipsec  # noqa: F401 - bind ESP/AH
    import scapy.layers.isakmp  # noqa: F401 - bind ISAKMP on UDP 500
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    try:
        pkt = Ether(data)
    except Exception:  # lenient decoder (STYLE.md rule 2)
        pkt = Raw(data)
    pkt.time = ts
    pkt.sniffed_on = label
    pkt.direction = "out" if outgoing else "in"
    return pkt
