"""The lab's Python API: ``Lab.up(topology)`` and node objects.

    with Lab.up("topologies/chain.yaml") as lab:
        lab.node("h1").ping(lab.addr("h2"), count=3)

Teardown is guaranteed by the context manager, an atexit hook and SIGTERM
handling; what a SIGKILLed run leaves is removed by ``python -m lab down --all``.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from lab import names, nsexec, realize
from lab.capture import Capture
from lab.daemons import DAEMONS, NodeContext, load_plugins
from lab.errors import LabError
from lab.faults import Faults
from lab.model import DAEMON_KINDS, Topology, topology_from_dict
from lab.schema import load_topology
from lab.state import RunState, state_root

if TYPE_CHECKING:
    from lab.syslog import SyslogCollector

_LIVE: set["Lab"] = set()
_LIVE_LOCK = threading.Lock()


class CommandResult(NamedTuple):
    """Outcome of :meth:`Node.exec`; unpacks as ``rc, stdout, stderr``."""

    rc: int
    stdout: str
    stderr: str

    @property
    def returncode(self) -> int:
        return self.rc


@dataclass
class PingResult:
    sent: int
    received: int
    loss: float              # percent
    rtt_avg_ms: float | None
    output: str


_PING_RE = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_RTT_RE = re.compile(r"= [\d.]+/([\d.]+)/")


class Node:
    """One node of a running lab."""

    def __init__(self, lab: "Lab", name: str) -> None:
        self.lab = lab
        self.name = name
        self.spec = lab.topo.nodes[name]
        self.kind = self.spec.kind
        self.netns = names.node_ns(lab.run, name)
        self.dir = lab.workdir / name
        self.proc: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"<Node {self.name} ({self.kind}) of {self.lab.run}>"

    @property
    def ctx(self) -> NodeContext:
        return NodeContext(run=self.lab.run, node=self.name, netns=self.netns, node_dir=self.dir,
                           config=self.spec.config, spec=self.spec, env=self.lab.env)

    def exec(self, argv: list[str] | str, *, check: bool = True, timeout: float = 30.0,
             input: str | None = None) -> CommandResult:
        """Run a command inside the node; raise LabCommandError on rc != 0 unless not ``check``."""
        if isinstance(argv, str):
            argv = shlex.split(argv)
        r = nsexec.run_in(self.netns, argv, node=self.name, check=check, timeout=timeout,
                          input=input, env=self.lab.env)
        return CommandResult(r.returncode, r.stdout, r.stderr)

    def popen(self, argv: list[str], **kw: Any) -> subprocess.Popen:
        """Start a background command inside the node (environment carries LAB_RUN)."""
        kw.setdefault("env", self.lab.env)
        return nsexec.popen_in(self.netns, argv, **kw)

    def ping(self, dst: str, count: int = 3, *, interval: float = 0.2, wait: float = 1.0,
             size: int | None = None, timeout: float | None = None) -> PingResult:
        """Ping ``dst`` ``count`` times; never raises for lost replies."""
        argv = ["ping", "-n", "-q", "-c", str(count), "-i", f"{interval:g}", "-W", f"{wait:g}"]
        if size is not None:
            argv += ["-s", str(size)]
        argv.append(dst)
        limit = timeout if timeout is not None else count * interval + wait + 5.0
        r = self.exec(argv, check=False, timeout=limit)
        m = _PING_RE.search(r.stdout)
        if not m:
            raise LabError(f"node {self.name}: ping {dst} failed: {r.stderr.strip() or r.stdout}")
        sent, received = int(m[1]), int(m[2])
        rtt = _RTT_RE.search(r.stdout)
        return PingResult(sent, received, 100.0 * (sent - received) / sent if sent else 100.0,
                          float(rtt[1]) if rtt else None, r.stdout)

    def addr(self, family: int = 4) -> str:
        """First address (no prefix length) of this node in ``family`` (4 or 6)."""
        for a in self.lab.topo.addresses(self.name):
            ip = a.split("/")[0]
            if (":" in ip) == (family == 6):
                return ip
        raise LabError(f"node {self.name} has no IPv{family} address")

    # -- daemon ------------------------------------------------------------
    @property
    def log_path(self) -> Path | None:
        """The daemon's log file (None for nodes without one)."""
        plugin = DAEMONS.get(self.kind)
        fn = getattr(plugin, "log_path", None)
        if callable(fn):
            return Path(fn(self.ctx))
        for name in (f"{self.kind}.log", "charon.log", "engine.log"):
            if (self.dir / name).exists():
                return self.dir / name
        return None

    @property
    def daemon(self) -> Any:
        d = DAEMONS.get(self.kind)
        if d is None:
            raise LabError(f"node {self.name}: no daemon plug-in for kind {self.kind!r}")
        return d

    @property
    def daemon_pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    def start_daemon(self) -> None:
        self.proc = self.daemon.start(self.ctx)
        with self.lab._state_lock:
            self.lab.state.add_process(self.name, self.proc.pid, f"daemon:{self.kind}")

    def stop_daemon(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            realize.kill_pids([self.proc.pid])
            self.proc.wait()
        else:
            self.daemon.stop(self.ctx, self.proc)
        with self.lab._state_lock:
            self.lab.state.drop_process(self.proc.pid)
        self.proc = None

    def restart_daemon(self, kill: bool = True) -> None:
        """Stop (SIGKILL with ``kill``, a "peer reboot") and start the daemon again."""
        self.stop_daemon(kill=kill)
        self.start_daemon()

    def cli(self, command: str, json: bool = False) -> Any:
        """Device command on the node's daemon: text, or data with ``json=True``."""
        if self.daemon_pid is None:
            why = " (daemon: false)" if not self.spec.daemon else (
                "" if self.kind in ("engine", "strongswan") else f" (kind {self.kind})")
            raise LabError(f"node {self.name} has no running daemon{why}")
        return self.daemon.cli(self.ctx, command, json=json)


class Lab:
    """A running topology."""

    def __init__(self, topo: Topology, state: RunState, *, daemons: bool = True) -> None:
        self.topo = topo
        self.state = state
        self.run = state.run
        self.workdir = Path(state.workdir)
        self.env = {**os.environ, "LAB_RUN": self.run}
        self.nodes = {n: Node(self, n) for n in topo.nodes}
        self.faults = Faults(self)
        self.want_daemons = daemons
        self._down = False
        self._pid = os.getpid()
        self._state_lock = threading.Lock()

    # -- life cycle ----------------------------------------------------------
    @classmethod
    @contextmanager
    def up(cls, topology: str | Path | Topology, **kw: Any) -> Iterator["Lab"]:
        """Bring ``topology`` up for the ``with`` block, tear it down after."""
        lab = cls.start(topology, **kw)
        try:
            yield lab
        finally:
            lab.down()

    @classmethod
    def start(cls, topology: str | Path | Topology, *, run: str | None = None,
              workdir: str | Path | None = None, daemons: bool = True,
              persistent: bool = False) -> "Lab":
        """Bring up ``topology``; on any failure remove what was created and re-raise."""
        topo = topology if isinstance(topology, Topology) else load_topology(topology)
        realize.check_host()
        if daemons:
            load_plugins()
        run = run or names.new_run(topo.name)
        if not names.RUN_RE.match(run):
            raise LabError(f"invalid run name {run!r}")
        st = RunState(run=run, topology=str(topo.path or ""), owner_pid=os.getpid(),
                      workdir=str(Path(workdir).resolve() if workdir else state_root() / run
                                  / "work"), persistent=persistent)
        if st.path.exists():
            raise LabError(f"run {run} exists already ({st.path})")
        st.save()
        (st.dir / "topology.json").write_text(json.dumps(topo.to_dict(), indent=1))
        Path(st.workdir).mkdir(parents=True, exist_ok=True)
        lab = cls(topo, st, daemons=daemons)
        if not persistent:
            _register(lab)
        realizer = realize.Realizer(topo, st)
        try:
            realizer.build()
            realizer.close()
            for node in lab.nodes.values():
                node.dir.mkdir(exist_ok=True)
            if daemons:
                lab._start_daemons([n for n in lab.nodes.values()
                                    if n.spec.daemon and n.kind in DAEMON_KINDS])
        except BaseException:
            realizer.close()
            lab.down()
            raise
        return lab

    def _start_daemons(self, nodes: list[Node]) -> None:
        """Start daemons in parallel (each start waits for its daemon to answer)."""
        if not nodes:
            return
        with ThreadPoolExecutor(max_workers=min(8, len(nodes))) as pool:
            futures = [pool.submit(n.start_daemon) for n in nodes]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]

    @classmethod
    def attach(cls, run: str) -> "Lab":
        """A handle on a lab started elsewhere (``python -m lab up``)."""
        try:
            st = RunState.load(run)
            topo = topology_from_dict(json.loads((st.dir / "topology.json").read_text()))
        except OSError:
            raise LabError(f"no running lab named {run!r} (see `python -m lab ls`)") from None
        load_plugins()
        lab = cls(topo, st)
        for p in st.processes:
            if p.what.startswith("daemon:") and p.alive():
                lab.nodes[p.node].proc = _Adopted(p.pid)  # type: ignore[assignment]
        return lab

    def down(self) -> None:
        """Stop daemons, remove namespaces and state. Safe to call twice."""
        if self._down or os.getpid() != self._pid:
            return
        self._down = True
        errors = []
        running = [n for n in self.nodes.values() if n.proc is not None]
        if running:
            with ThreadPoolExecutor(max_workers=min(8, len(running))) as pool:
                futures = {n.name: pool.submit(n.stop_daemon) for n in running}
            errors += [f"node {name}: stopping daemon: {f.exception()}"
                       for name, f in futures.items() if f.exception() is not None]
        self.faults.close()
        errors += destroy(self.state)
        _unregister(self)
        if errors:
            raise LabError("teardown of run " + self.run + ": " + "; ".join(errors))

    def keep(self) -> None:
        """Leave the lab running after this process (like ``python -m lab up``)."""
        self.state.persistent = True
        self.state.save()
        self._down = True
        _unregister(self)

    # -- access ----------------------------------------------------------------
    def node(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise LabError(f"run {self.run} has no node {name!r} "
                           f"(nodes: {', '.join(self.nodes)})") from None

    def __getattr__(self, name: str) -> Node:
        nodes = self.__dict__.get("nodes") or {}
        if name in nodes:
            return nodes[name]
        raise AttributeError(name)

    def addr(self, node: str, family: int = 4) -> str:
        """First address of ``node`` (no prefix length)."""
        return self.node(node).addr(family)

    def addresses(self) -> dict[str, str]:
        """Every interface address (no prefix length) -> its node's name."""
        out: dict[str, str] = {}
        for node in self.topo.nodes:
            for a in self.topo.addresses(node):
                out.setdefault(a.split("/")[0], node)
            for rule in self.topo.nodes[node].nat:
                if rule.external and "/" not in rule.external:
                    out.setdefault(rule.external, node)
        return out

    address_names = addresses

    def _iface(self, spec: str) -> tuple[Node, str]:
        node, _, ifname = spec.partition(":")
        n = self.node(node)
        if not ifname or ifname not in {i.name for i in self.topo.interfaces(node)}:
            raise LabError(f"{spec!r}: node {node} has no interface {ifname!r}")
        return n, ifname

    def peer_of(self, spec: str) -> tuple[str, str]:
        """(netns, ifname) at the other end of the point-to-point link of ``node:if``."""
        node, ifname = self._iface(spec)
        for link in self.topo.links:
            for me, other in ((link.a, link.b), (link.b, link.a)):
                if (me.node, me.ifname) == (node.name, ifname):
                    return names.node_ns(self.run, other.node), other.ifname
        raise LabError(f"{spec} is on a segment (bridge), not a point-to-point link")

    def sender_of(self, netns: str, ifname: str) -> tuple[str, str]:
        """(netns, ifname) whose transmitted frames arrive on ``ifname`` in ``netns``."""
        for link in self.topo.links:
            for me, other in ((link.a, link.b), (link.b, link.a)):
                if (names.node_ns(self.run, me.node), me.ifname) == (netns, ifname):
                    return names.node_ns(self.run, other.node), other.ifname
        for i, seg in enumerate(self.topo.segments):
            for j, m in enumerate(seg.members):
                if (names.node_ns(self.run, m.iface.node), m.iface.ifname) == (netns, ifname):
                    return names.bridge_ns(self.run), names.bridge_port(i, j)
        raise LabError(f"no interface {ifname} in {netns}")

    def inject(self, spec: str, packets: Any) -> int:
        """Deliver IP packets so they *arrive* on ``node:if`` (e.g. replay a captured ESP packet).

        ``packets``: one or a list of scapy packets (an Ether layer is replaced)
        or raw IPv4/IPv6 bytes. The frames are sent from the other end of the
        link with the receiving interface's MAC as destination. Returns the count.
        """
        from lab.impair import inject_frame, mac_of

        node, ifname = self._iface(spec)
        src_ns, src_if = self.sender_of(node.netns, ifname)
        dst_mac, src_mac = mac_of(node.netns, ifname), mac_of(src_ns, src_if)
        if not isinstance(packets, (list, tuple)):
            packets = [packets]
        for pkt in packets:
            raw = _l3_bytes(pkt)
            ethertype = b"\x86\xdd" if raw[0] >> 4 == 6 else b"\x08\x00"
            inject_frame(src_ns, src_if, dst_mac + src_mac + ethertype + raw)
        return len(packets)

    def syslog(self, node: str, port: int = 514) -> "SyslogCollector":
        """Syslog collector listening on udp/``port`` of ``node`` (context manager)."""
        from lab.syslog import SyslogCollector

        return SyslogCollector(self.node(node).netns, port, label=f"{node}:udp/{port}")

    def capture(self, spec: str, *, pcap: str | Path | None = None, count: int | None = None
                ) -> Capture:
        """Capture on ``node:ifname`` (context manager); packets are decoded with scapy."""
        node, ifname = self._iface(spec)
        if pcap is None:
            cdir = node.dir / "captures"
            cdir.mkdir(parents=True, exist_ok=True)
            n = len(list(cdir.glob(f"{ifname}-*.pcap")))
            pcap = cdir / f"{ifname}-{n}.pcap"
        self.state.captures.append(str(pcap))
        self.state.save()
        return Capture(node.netns, ifname, Path(pcap), count=count, label=spec)


def _l3_bytes(pkt: Any) -> bytes:
    """IPv4/IPv6 bytes of a scapy packet (Ether stripped) or of raw bytes."""
    if isinstance(pkt, (bytes, bytearray)):
        return bytes(pkt)
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    for layer in (IP, IPv6):
        if layer in pkt:
            return bytes(pkt[layer])
    raise LabError(f"inject: not an IP packet: {pkt!r}")


class _Adopted:
    """Stand-in for a Popen of a daemon started by another process."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and not realize._alive(self.pid):
            self.returncode = -9
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.02)
        return self.returncode or 0

    def send_signal(self, sig: int) -> None:
        realize._signal(self.pid, sig)

    terminate = lambda self: self.send_signal(signal.SIGTERM)  # noqa: E731
    kill = lambda self: self.send_signal(signal.SIGKILL)  # noqa: E731


def destroy(st: RunState) -> list[str]:
    """Remove everything ``st`` records (and anything left in its namespaces)."""
    live = [p.pid for p in st.processes if p.alive()]
    realize.kill_pids(live, grace=2.0 if live else 0.0)
    ns = list(dict.fromkeys(st.namespaces + [names.node_ns(st.run, n) for n in st.nodes]
                            + [names.bridge_ns(st.run)]))
    errors = realize.remove_namespaces(ns)
    realize.kill_pids(realize.pids_with_run(st.run))
    if not errors:
        st.remove()
    return errors


def _register(lab: Lab) -> None:
    with _LIVE_LOCK:
        _LIVE.add(lab)
    _install_handlers()


def _unregister(lab: Lab) -> None:
    with _LIVE_LOCK:
        _LIVE.discard(lab)


def _forget_in_child() -> None:
    """A forked child (pyroute2 forks helpers) must never tear down its parent's labs."""
    _LIVE.clear()


os.register_at_fork(after_in_child=_forget_in_child)
_OWNER_PID = os.getpid()


def _down_all_live() -> None:
    if os.getpid() != _OWNER_PID:
        return
    with _LIVE_LOCK:
        labs = list(_LIVE)
    for lab in labs:
        try:
            lab.down()
        except Exception as exc:  # at exit: report, go on with the others
            print(f"lab: teardown of {lab.run} failed: {exc}", file=__import__("sys").stderr)


_handlers_installed = False


def _install_handlers() -> None:
    """atexit + SIGTERM -> SystemExit (so `with` blocks and finalizers run)."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_down_all_live)
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: object) -> None:
    if os.getpid() != _OWNER_PID:   # a forked helper inherited the handler
        os._exit(128 + signum)
    raise SystemExit(128 + signum)
