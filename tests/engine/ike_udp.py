"""Drive an IkeEngine over real UDP sockets (ports 500/4500) inside a lab node's
network namespace: the sockets are created by a thread that entered the
namespace (setns is per thread), then used from a driver thread."""

from __future__ import annotations

import select
import socket
import threading
import time
from dataclasses import dataclass, field

from engine.ike import IkeEngine
from engine.ike.events import Event
from lab import nsexec

NON_ESP_MARKER = b"\x00\x00\x00\x00"  # RFC 3948 §2.2


def sockets_in_netns(netns: str, address: str) -> dict[int, socket.socket]:
    out: dict[int, socket.socket] = {}
    err: list[BaseException] = []

    def make() -> None:
        try:
            nsexec.enter_netns(netns)
            for port in (500, 4500):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((address, port))
                out[port] = s
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            err.append(e)

    t = threading.Thread(target=make)
    t.start()
    t.join()
    if err:
        raise err[0]
    return out


@dataclass
class UdpDriver:
    engine: IkeEngine
    socks: dict[int, socket.socket]
    events: list[Event] = field(default_factory=list)
    esp_seen: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    t0: float = field(default_factory=time.monotonic)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def flush(self) -> None:
        for d in self.engine.datagrams_to_send(self.now()):
            data = NON_ESP_MARKER + d.data if d.dst[1] == 4500 else d.data
            self.socks[d.src[1]].sendto(data, d.dst)
        while (ev := self.engine.next_event()) is not None:
            self.events.append(ev)

    def run(self) -> None:
        while not self._stop.is_set():
            timer = self.engine.get_timer()
            wait = 0.05 if timer is None else max(0.0, min(0.05, timer - self.now()))
            r, _, _ = select.select(list(self.socks.values()), [], [], wait)
            with self.lock:
                for s in r:
                    data, src = s.recvfrom(65535)
                    port = s.getsockname()[1]
                    if port == 4500:
                        if data[:4] != NON_ESP_MARKER:
                            self.esp_seen += 1  # UDP-encapsulated ESP, not ours to handle
                            continue
                        data = data[4:]
                    self.engine.receive_datagram(data, src, s.getsockname(), self.now())
                t = self.engine.get_timer()
                if t is not None and t <= self.now():
                    self.engine.handle_timer(self.now())
                self.flush()

    def start(self) -> "UdpDriver":
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(2)
        for s in self.socks.values():
            s.close()

    def wait_for(self, kind: type, timeout: float = 10.0, count: int = 1) -> list:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = [e for e in list(self.events) if isinstance(e, kind)]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"no {kind.__name__} within {timeout}s; events: {self.events}")
