"""IOS-style syslog lines: to the engine log and, optionally, a UDP collector.

Line format as IOS prints them::

    *Mar  1 00:00:12.345: %CRYPTO-6-ISAKMP_ON_OFF: ISAKMP is ON

UDP messages follow RFC 3164 (``<PRI>`` + timestamp + host + message),
facility local7 as IOS uses by default.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

log = logging.getLogger("engine.syslog")

FACILITY_LOCAL7 = 23


class SyslogSink:
    """Writes ``Log`` events (``engine.ike.events.Log``) to the log and a collector."""

    def __init__(self, host: str, collector: tuple[str, int] | None, clock: Any) -> None:
        self.host = host or "Router"
        self.collector = collector
        self.clock = clock
        self.lines: list[str] = []  # recent lines (``show logging``, tests)
        self.sock: socket.socket | None = None
        if collector is not None:
            fam = socket.AF_INET6 if ":" in collector[0] else socket.AF_INET
            self.sock = socket.socket(fam, socket.SOCK_DGRAM)
            from engine.dataplane.policy import ENGINE_MARK
            from engine.dataplane.sockets import SO_MARK

            try:
                self.sock.setsockopt(socket.SOL_SOCKET, SO_MARK, ENGINE_MARK)
            except OSError:
                pass

    def stamp(self) -> str:
        t = self.clock.wall_time()
        tm = time.gmtime(t)
        return time.strftime("%b %e %H:%M:%S", tm) + f".{int((t % 1) * 1000):03d}"

    def emit(self, event: Any) -> str:
        line = f"*{self.stamp()}: {event}"
        self.lines.append(line)
        del self.lines[:-1000]
        log.info("%s", line)
        if self.sock is not None and self.collector is not None:
            pri = FACILITY_LOCAL7 * 8 + int(getattr(event, "severity", 7))  # Debug: 7
            msg = f"<{pri}>{self.stamp()} {self.host}: {event}".encode()
            try:
                self.sock.sendto(msg, self.collector)
            except OSError as exc:
                log.debug("syslog to %s failed: %s", self.collector, exc)
        return line

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
