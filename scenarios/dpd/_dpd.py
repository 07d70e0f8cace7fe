"""Observation helpers of the DPD / failover / idle-timer scenarios.

Timing is read from capture timestamps (``lab.capture`` records
``time.time()`` per frame) and converted to protocol time with the node's
``--clock-scale``: protocol seconds = real seconds x scale.

IKE Informational exchanges (RFC 2408 §4.8, exchange type 5) are encrypted;
which one is an R-U-THERE is known from its direction: the far end of these
topologies runs no DPD of its own (no ``crypto isakmp keepalive``), so every
Informational it sends answers ours (R-U-THERE-ACK, RFC 3706 §5), and every
Informational we send before the tunnel dies is an R-U-THERE.
"""

from __future__ import annotations

import re
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

INFO, MAIN_MODE, QUICK_MODE = 5, 2, 32


@dataclass(frozen=True)
class Pkt:
    """One IPv4 packet of a capture."""

    t: float  #: real time (time.time())
    src: str
    dst: str
    kind: str  #: "ike", "esp", "icmp", "other"
    exch: int = 0  #: ISAKMP exchange type (IKE only)
    msgid: int = 0
    spi: int = 0  #: ESP SPI
    length: int = 0
    icookie: bytes = b""
    rcookie: bytes = b""


def _ip(b: bytes) -> str:
    return ".".join(str(x) for x in b)


def parse(raw: list[tuple[float, bytes, bool]]) -> list[Pkt]:
    """Decode ``Capture.raw`` frames (Ethernet II + IPv4) without scapy."""
    out: list[Pkt] = []
    for ts, data, _outgoing in raw:
        if len(data) < 34 or data[12:14] != b"\x08\x00":
            continue
        ip = data[14:]
        ihl = (ip[0] & 0x0F) * 4
        proto, src, dst = ip[9], _ip(ip[12:16]), _ip(ip[16:20])
        body = ip[ihl:]
        if proto == 17 and len(body) >= 8:
            sport, dport = struct.unpack("!HH", body[:4])
            udp = body[8:]
            if 4500 in (sport, dport):
                if udp[:4] != b"\0\0\0\0":
                    if len(udp) >= 8:
                        out.append(Pkt(ts, src, dst, "esp", spi=struct.unpack("!I", udp[:4])[0],
                                       length=len(ip)))
                    continue
                udp = udp[4:]
            elif 500 not in (sport, dport):
                out.append(Pkt(ts, src, dst, "other", length=len(ip)))
                continue
            if len(udp) >= 28:
                exch, msgid = udp[18], struct.unpack("!I", udp[20:24])[0]
                out.append(Pkt(ts, src, dst, "ike", exch, msgid, length=len(ip),
                               icookie=udp[:8], rcookie=udp[8:16]))
        elif proto == 50 and len(body) >= 8:
            out.append(Pkt(ts, src, dst, "esp", spi=struct.unpack("!I", body[:4])[0],
                           length=len(ip)))
        elif proto == 1:
            out.append(Pkt(ts, src, dst, "icmp", length=len(ip)))
        else:
            out.append(Pkt(ts, src, dst, "other", length=len(ip)))
    return out


def packets(cap: Any) -> list[Pkt]:
    return parse(list(cap.raw))


def info(pkts: list[Pkt], src: str, dst: str) -> list[Pkt]:
    """Informational messages from ``src`` to ``dst`` (R-U-THERE, ACK, DELETE)."""
    return [p for p in pkts if p.kind == "ike" and p.exch == INFO and p.src == src
            and p.dst == dst]


def phase1_attempts(pkts: list[Pkt], src: str) -> list[Pkt]:
    """First Main Mode message 1 of each Phase 1 that ``src`` initiated (new initiator
    cookie, zero responder cookie; retransmissions are not counted)."""
    seen: set[bytes] = set()
    out = []
    for p in pkts:
        if (p.kind == "ike" and p.exch in (MAIN_MODE, 4) and p.src == src
                and p.rcookie == bytes(8) and p.icookie not in seen):
            seen.add(p.icookie)
            out.append(p)
    return out


def gaps(times: list[float], scale: float) -> list[float]:
    """Protocol-time spacing of consecutive instants (rounded to ms)."""
    return [round((b - a) * scale, 3) for a, b in zip(times, times[1:])]


def answered(probes: list[Pkt], acks: list[Pkt], within: float) -> list[bool]:
    """For each probe: an answer came back within ``within`` real seconds."""
    return [any(0 <= a.t - p.t <= within for a in acks) for p in probes]


def wait_until(probe, within: float, interval: float = 0.05) -> Any:
    """Poll ``probe()`` until it returns something truthy or ``within`` real seconds pass."""
    deadline = time.monotonic() + within
    while True:
        v = probe()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def isakmp_peers(node: Any) -> list[str]:
    """Peers with an established IKE SA (``show crypto isakmp sa``, QM_IDLE rows)."""
    text = node.cli("show crypto isakmp sa")
    rows = re.findall(r"^\s*\S*/\S*\s+([\d.]+)\s+([\d.]+)\s+QM_IDLE", text, re.M)
    rows += re.findall(r"^\s*([\d.]+)\s+([\d.]+)\s+QM_IDLE", text, re.M)
    peers = set()
    for a, b in rows:
        peers.update({a, b})
    return sorted(peers)


def ipsec_peers(node: Any) -> list[str]:
    """Remote endpoints that have IPsec SAs with a current outbound SPI."""
    text = node.cli("show crypto ipsec sa")
    out = []
    pat = r"remote crypto endpt\.: ([\d.]+).*?current outbound spi: (?:0x)?([0-9A-Fa-f]+)"
    for m in re.finditer(pat, text, re.S):
        if int(m.group(2), 16):
            out.append(m.group(1))
    return sorted(set(out))


def syslog(node: Any) -> list[str]:
    data = node.cli("lab syslog", json=True)
    return list(data) if isinstance(data, list) else []


class Pinger:
    """``ping -D`` in the background on a host; reply times for outage measurement."""

    def __init__(self, node: Any, dst: str, interval: float = 0.1, count: int = 600,
                 wait: float = 1.0) -> None:
        self.proc = node.popen(["ping", "-n", "-D", "-O", "-i", f"{interval:g}", "-c", str(count),
                                "-W", f"{wait:g}", dst], stdout=-1, stderr=-1, text=True)
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def replies(self) -> list[float]:
        """Real times of received echo replies."""
        out = []
        for line in list(self.lines):
            m = re.match(r"\[(\d+\.\d+)\] \d+ bytes from", line)
            if m:
                out.append(float(m.group(1)))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except Exception:
                self.proc.kill()
                self.proc.wait(timeout=3)
        self._t.join(timeout=3)

    def __enter__(self) -> Pinger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def longest_gap(times: list[float], after: float | None = None) -> tuple[float, float, float]:
    """(gap seconds, start, end) of the longest silence between consecutive replies."""
    ts = sorted(t for t in times if after is None or t >= after - 5)
    best = (0.0, 0.0, 0.0)
    for a, b in zip(ts, ts[1:]):
        if b - a > best[0]:
            best = (b - a, a, b)
    return best


SERVICE = "192.168.2.10"  # service address present at every hub site (hubs/*.yaml)


def add_service_address(lab: Any, hosts: tuple[str, ...]) -> None:
    """Give every hub-site host the shared service address ``SERVICE``/32 on eth0."""
    from pyroute2 import IPRoute

    for name in hosts:
        node = lab.node(name)
        with IPRoute(netns=node.netns) as ipr:
            idx = ipr.link_lookup(ifname="eth0")[0]
            ipr.addr("add", index=idx, address=SERVICE, prefixlen=32)


def outbound_spis(node: Any) -> list[str]:
    """Current outbound SPIs of ``show crypto ipsec sa`` (hex text, 0 skipped)."""
    text = node.cli("show crypto ipsec sa")
    spis = re.findall(r"current outbound spi: (?:0x)?([0-9A-Fa-f]+)", text)
    return sorted({s.upper() for s in spis if int(s, 16)})


def final_burst(pkts: list[Pkt], src: str, dst: str, window: float = 0.05) -> list[Pkt]:
    """The DELETE notifications with which ``src`` removed an SA pair and then its ISAKMP
    SA: the last Informationals ``src`` sent to ``dst`` (within ``window`` real seconds of
    the last one), less one per answer ``dst`` sent after them (an R_U_THERE of periodic
    DPD may leave in the same instant; a DELETE is never answered)."""
    sent = info(pkts, src, dst)
    if not sent:
        return []
    last = sent[-1].t
    burst = [p for p in sent if p.t >= last - window]
    answers = sum(1 for p in info(pkts, dst, src) if p.t >= burst[0].t)
    return burst[answers:] if answers < len(burst) else []
