"""Delay, duplication and reordering of packets arriving on a node interface (NFQUEUE).

An nft rule in the node queues packets arriving on the interface (before
conntrack); a thread in the test process holds them and issues verdicts
late (delay), out of order (reorder), and injects copies (duplicate) from
the other end of the link with an AF_PACKET socket. The kernel has no netem
here (DESIGN.md), so this is how scenarios get a lossy, jittery path.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import select
import threading
import time
from dataclasses import dataclass

from lab import nsexec
from lab.capture import open_packet_socket
from lab.errors import LabError
from lab.nfqueue import NF_ACCEPT, NfQueue, QueuedPacket

TABLE = "ilab_impair"
MARK = 0x40000000          # packet mark bit meaning "queue me" (cleared before conntrack)
KEEP = ~MARK & 0xFFFFFFFF


@dataclass
class Policy:
    """What happens to each matching packet."""

    delay: float = 0.0         # seconds added to every packet
    jitter: float = 0.0        # + uniform(0, jitter) seconds
    duplicate: float = 0.0     # percent of packets delivered twice
    reorder: float = 0.0       # percent of packets held back until the next one passed
    seed: int | None = None    # for reproducible runs


@dataclass
class Stats:
    seen: int = 0
    duplicated: int = 0
    reordered: int = 0


class Impairment:
    """A running impairment of ``node:ifname`` (ingress); stop() removes it."""

    def __init__(self, netns: str, ifname: str, queue_num: int, policy: Policy,
                 inject_ns: str, inject_if: str, dst_mac: bytes, match: str = "",
                 label: str = "") -> None:
        self.netns, self.ifname, self.num = netns, ifname, queue_num
        self.policy = policy
        self.label = label or f"{netns}:{ifname}"
        self.stats = Stats()
        self.rng = random.Random(policy.seed)
        self.dst_mac = dst_mac
        self.match = match
        self.q = NfQueue(netns, queue_num)
        self.inject = open_packet_socket(inject_ns, inject_if)
        self._own: dict[bytes, int] = {}        # digests of injected copies -> count
        self._heap: list[tuple[float, int, int]] = []   # (release time, order, packet id)
        self._held: int | None = None           # reorder: id waiting for the next packet
        self._order = 0
        self._stop = threading.Event()
        self._load_rule()
        self._thread = threading.Thread(target=self._loop, name=f"impair:{self.label}",
                                        daemon=True)
        self._thread.start()

    def _iptables(self, op: str) -> list[list[str]]:
        # This kernel has no nft `queue` (CONFIG_NFT_QUEUE unset) but has the xt
        # NFQUEUE target: nft selects and marks, iptables queues the marked packets.
        spec = ["-t", "raw", op, "PREROUTING", "-i", self.ifname, "-m", "mark", "--mark",
                f"{MARK:#x}/{MARK:#x}", "-j", "NFQUEUE", "--queue-num", str(self.num),
                "--queue-bypass"]
        return [["iptables-legacy", "-w", *spec], ["ip6tables-legacy", "-w", *spec]]

    def _load_rule(self) -> None:
        m = f"{MARK:#x}"
        rules = (f"table inet {TABLE} {{\n"
                 f"  chain sel{self.num} {{ type filter hook prerouting priority -450; "
                 f"policy accept;\n"
                 f'    iifname "{self.ifname}" {self.match} meta mark set meta mark or {m}\n'
                 f"  }}\n"
                 f"  chain clr{self.num} {{ type filter hook prerouting priority -250; "
                 f"policy accept;\n"
                 f'    iifname "{self.ifname}" meta mark set meta mark and {KEEP:#x}\n'
                 f"  }}\n}}\n")
        nsexec.run_in(self.netns, ["nft", "-f", "-"], input=rules, node=self.label)
        for argv in self._iptables("-A"):
            nsexec.run_in(self.netns, argv, node=self.label)

    def _remove_rule(self) -> None:
        for argv in self._iptables("-D"):
            nsexec.run_in(self.netns, argv, check=False, node=self.label)
        for chain in (f"sel{self.num}", f"clr{self.num}"):
            nsexec.run_in(self.netns, ["nft", "delete", "chain", "inet", TABLE, chain],
                          check=False, node=self.label)

    def _release_at(self, when: float, pid: int) -> None:
        self._order += 1
        heapq.heappush(self._heap, (when, self._order, pid))

    def _handle(self, pkt: QueuedPacket, now: float) -> None:
        digest = hashlib.blake2b(pkt.payload, digest_size=16).digest()
        if self._own.get(digest):
            self._own[digest] -= 1                 # our own copy: straight through
            if not self._own[digest]:
                del self._own[digest]
            self.q.verdict(pkt.id, NF_ACCEPT)
            return
        p = self.policy
        self.stats.seen += 1
        delay = p.delay + (self.rng.uniform(0, p.jitter) if p.jitter else 0.0)
        if p.duplicate and self.rng.uniform(0, 100) < p.duplicate:
            self.stats.duplicated += 1
            self._own[digest] = self._own.get(digest, 0) + 1
            frame = self.dst_mac + (pkt.hwaddr or b"\x02\0\0\0\0\x01")[:6] + \
                pkt.hw_protocol.to_bytes(2, "big") + pkt.payload
            try:
                self.inject.send(frame)
            except OSError:
                self._own.pop(digest, None)
        if self._held is None and p.reorder and self.rng.uniform(0, 100) < p.reorder:
            self.stats.reordered += 1
            self._held = pkt.id                     # released right after the next packet
            return
        self._release_at(now + delay, pkt.id)
        if self._held is not None:
            self._release_at(now + delay, self._held)
            self._held = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                _, _, pid = heapq.heappop(self._heap)
                self.q.verdict(pid, NF_ACCEPT)
            wait = 0.05
            if self._heap:
                wait = max(0.0, min(wait, self._heap[0][0] - now))
            r, _, _ = select.select([self.q], [], [], wait)
            if r:
                try:
                    batch = self.q.receive()
                except OSError:
                    continue   # ENOBUFS: kernel dropped some, go on
                for pkt in batch:
                    self._handle(pkt, time.monotonic())

    def stop(self) -> None:
        """Remove the rule, release everything still held, close the queue."""
        if self._stop.is_set():
            return
        self._remove_rule()
        self._stop.set()
        self._thread.join()
        for _, _, pid in sorted(self._heap):
            self.q.verdict(pid, NF_ACCEPT)
        if self._held is not None:
            self.q.verdict(self._held, NF_ACCEPT)
        self.q.close()
        self.inject.close()

    def __enter__(self) -> "Impairment":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def mac_of(netns: str, ifname: str) -> bytes:
    """Hardware address of ``ifname`` inside ``netns``."""
    from pyroute2 import IPRoute

    with IPRoute(netns=netns) as ipr:
        links = ipr.link("get", ifname=ifname)
        if not links:
            raise LabError(f"{netns}: no interface {ifname}")
        return bytes.fromhex(links[0].get_attr("IFLA_ADDRESS").replace(":", ""))


def inject_frame(netns: str, ifname: str, frame: bytes) -> None:
    """Send one Ethernet frame out of ``ifname`` in ``netns``."""
    s = open_packet_socket(netns, ifname)
    try:
        s.send(frame)
    finally:
        s.close()

