"""A syslog collector inside a node: UDP socket opened in the namespace, lines kept in order.

    with lab.syslog("nms") as log:                     # listens on udp/514 of node nms
        ...
        m = log.wait_for(r"%CRYPTO-5-SESS_UP", timeout=5)

Messages are parsed leniently (RFC 3164 ``<PRI>text``; the rest kept raw).
"""

from __future__ import annotations

import re
import select
import socket
import threading
import time
from dataclasses import dataclass

from lab import realize
from lab.errors import LabTimeout

_PRI = re.compile(r"^<(\d{1,3})>(.*)$", re.S)


@dataclass
class SyslogMessage:
    time: float
    src: tuple[str, int]
    facility: int | None
    severity: int | None
    text: str
    raw: bytes


class SyslogCollector:
    """Collects syslog datagrams sent to ``port`` of a node (all its addresses)."""

    def __init__(self, netns: str, port: int = 514, label: str = "") -> None:
        self.netns, self.port, self.label = netns, port, label or netns
        self.messages: list[SyslogMessage] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        def opener() -> socket.socket:
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)   # IPv4 too
            s.bind(("::", port))
            return s

        self.sock = realize.in_ns(netns, opener)
        self._thread = threading.Thread(target=self._loop, name=f"syslog:{self.label}",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            stopping = self._stop.is_set()
            r, _, _ = select.select([self.sock], [], [], 0 if stopping else 0.05)
            if not r:
                if stopping:
                    return
                continue
            data, addr = self.sock.recvfrom(65535)
            msg = parse(data, (addr[0].removeprefix("::ffff:"), addr[1]))
            with self._cond:
                self.messages.append(msg)
                self._cond.notify_all()

    @property
    def lines(self) -> list[str]:
        with self._cond:
            return [m.text for m in self.messages]

    def wait_for(self, pattern: str, timeout: float = 5.0, start: int = 0) -> re.Match[str]:
        """Wait for a message (index >= ``start``) matching regex ``pattern``; return the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = start
        with self._cond:
            while True:
                for m in self.messages[seen:]:
                    hit = rx.search(m.text)
                    if hit:
                        return hit
                seen = max(seen, len(self.messages))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LabTimeout(f"syslog line matching {pattern!r} at {self.label}",
                                     timeout)
                self._cond.wait(left)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def __enter__(self) -> "SyslogCollector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def parse(data: bytes, src: tuple[str, int]) -> SyslogMessage:
    """Lenient RFC 3164 parse: never raises."""
    text = data.decode("utf-8", errors="replace").rstrip("\r\n\0")
    m = _PRI.match(text)
    if m and int(m[1]) < 192:
        pri = int(m[1])
        return SyslogMessage(time.time(), src, pri >> 3, pri & 7, m[2], data)
    return SyslogMessage(time.time(), src, None, None, text, data)
