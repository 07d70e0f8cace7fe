"""The engine's runner: one selector loop that ties everything together.

It owns the sockets (TUN, raw ESP/AH, UDP 500/4500, control), the scaled
clock and policy routing, drives the sans-I/O ``IkeEngine`` (aioquic style:
``receive_datagram``/``datagrams_to_send``/``get_timer``/``handle_timer``/
``next_event``) and pushes packets through the ESP/AH SA objects held in the
SA database. Every per-packet exception is caught, counted and logged: the
engine never dies of input.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import os
import queue
import selectors
import socket
import struct
import threading
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

from engine.clock import Clock
from engine.config.model import Config, ConfigError
from engine.control import ControlServer
from engine.dataplane import dplog
from engine.dataplane import packet as pk
from engine.dataplane.commands import RunnerCommands
from engine.dataplane.fragpolicy import Egress
from engine.dataplane.idle import IdleTimers
from engine.dataplane.natkeepalive import NatKeepalive
from engine.dataplane.output import Outbound
from engine.dataplane.policy import ENGINE_MARK, PolicyRouting
from engine.dataplane.sockets import Sockets, recv6, recv_udp, send_udp
from engine.dataplane.spd import Spd
from engine.dataplane.syslog import SyslogSink
from engine.esp.errors import ReplayError
from engine.ike.events import (
    ChildSaDown,
    ChildSaUp,
    Debug,
    IkeSaDown,
    IkeSaUp,
    Log,
    NegotiationFailed,
    PacketSelector,
)
from engine.sadb import SaDatabase, SaEntry

log = logging.getLogger("engine")

BATCH = 64  # packets read per readiness event and socket
ACQUIRE_QUEUE = 4  # packets kept per flow while IKE negotiates (IOS keeps a few)
ACQUIRE_HOLD = 3.0  # real seconds a queued packet waits for its SA
ACQUIRE_RETRY = 1.0  # real seconds between acquires of one flow
NON_ESP_MARKER = b"\x00\x00\x00\x00"  # RFC 3948 §2.2
ORPHAN_MAX = 64  # inbound packets with an unknown SPI held while IKE catches up
ORPHAN_HOLD = 0.5  # real seconds they are held
TUN_QUEUE_MAX = 4096  # inner packets waiting for the TUN writer thread
SERVICE_EVERY = 0.05  # real seconds between housekeeping runs when nothing is due


def load_config(path: Path, dialect: str, ifmap: dict[str, str]) -> tuple[Config, list[str]]:
    """Parse ``path`` in ``dialect``; return the model and device-format error texts."""
    try:
        text = path.read_text()
    except OSError as exc:
        return Config(dialect=dialect), [f"% Cannot read configuration {path}: {exc.strerror}"]
    if dialect == "ios":
        from engine.config.ios import format_error, parse_ios

        config = parse_ios(text, file=str(path))
    else:
        from engine.config.ar import format_error, parse_ar  # type: ignore[no-redef]

        config = parse_ar(text, file=str(path))
    missing = config.apply_interface_map(ifmap)
    errors = []
    for err in config.errors:
        body = format_error(err) if format_error else err.device_text()
        errors.append(f"{err.file}:{err.line}: {body}")
    errors += [f"% interface {dev} (--interfaces) is not in {path}" for dev in missing]
    return config, errors


class Runner(RunnerCommands):
    """One engine instance (control plane + data plane) in this namespace."""

    def __init__(self, config: Config, args: argparse.Namespace) -> None:
        self.config = config
        self.args = args
        self.name = args.name or config.globals.hostname
        self.clock = Clock(scale=args.clock_scale)
        self.sel = selectors.DefaultSelector()
        self.stats: Counter[str] = Counter()
        self.sadb = SaDatabase(replay_window=config.entry_replay_window(_DummyEntry()))
        self.ike_sas: dict[tuple[bytes, bytes], IkeSaUp] = {}
        self.pending: dict[pk.FlowKey, deque[tuple[float, bytes]]] = {}
        self.orphans: deque[tuple[float, bytes, str, Any]] = deque()
        self._traffic_seen: dict[tuple[str, bool], float] = {}
        self._next_mtu_refresh = 0.0
        self._log_limit: dict[Any, float] = {}
        self.debug_isakmp = False
        self.started = time.time()
        self.event_log: deque[tuple[float, Any]] = deque(maxlen=500)  # AR SHOW LOG
        self.egress = Egress()
        self.idle = IdleTimers()
        self.natka = NatKeepalive(interval=config.globals.nat_keepalive)
        self._draining = False
        self.last_acquire: dict[Any, float] = {}
        self.syslog = SyslogSink(self.name, args.syslog, self.clock)
        self._running = True
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.sel.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        self.sockets: Sockets | None = None
        self._tun_q: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._tun_thread: threading.Thread | None = None
        self.out: Outbound | None = None
        self.tun_fd: int | None = None
        self.policy: PolicyRouting | None = None
        self.vti: Any = None  # engine.dataplane.vti.VtiManager (IPsec tunnel interfaces)
        self.spd: Spd | None = None
        self.ike = self._make_ike()
        if not args.no_dataplane:
            self._open_dataplane()
        self.mgmt = _management(self)
        try:
            self.install_manual_sas()
        except Exception:  # a bad manual SA must not stop the engine
            log.exception("manual SAs")
        self.control = ControlServer(args.control, self.handle_command, self.sel)
        log.info("engine %s up: clock scale %g, %d crypto selectors", self.name,
                 self.clock.scale, len(config.protected_selectors()))

    # -- set-up ------------------------------------------------------------------------

    def local_addresses(self) -> list[str]:
        """Addresses of the config's interfaces and of this namespace."""
        addrs = [str(a.ip) for i in self.config.interfaces.values()
                 for a in (*i.addresses, *i.addresses_v6)]
        try:
            from pyroute2 import IPRoute

            with IPRoute() as ipr:
                for msg in ipr.get_addr():
                    a = msg.get_attr("IFA_ADDRESS")
                    if a and not a.startswith(("127.", "::1", "fe80")) and a not in addrs:
                        addrs.append(a)
        except Exception as exc:  # netlink unavailable: config addresses only
            log.warning("cannot list addresses: %s", exc)
        return addrs

    def _make_ike(self) -> Any:
        try:
            from engine.ike import IkeEngine
        except ImportError as exc:
            log.error("IKE engine unavailable (%s): no negotiation possible", exc)
            return None
        return IkeEngine(self.config, self.local_addresses())

    def _open_dataplane(self) -> None:
        from engine.dataplane import tun

        tun_name = "ipsec0"
        for path in ("net/ipv4/conf/all/rp_filter", "net/ipv4/conf/default/rp_filter"):
            tun.set_sysctl(path, "0")
        tun.set_sysctl("net/ipv4/ip_forward", "1")
        tun.set_sysctl("net/ipv6/conf/all/forwarding", "1")
        tun.set_sysctl("net/ipv6/conf/default/addr_gen_mode", "1")
        self.tun_fd = tun.open_tun(tun_name)
        self._tun_thread = threading.Thread(target=self._tun_writer, name="tun-writer",
                                            daemon=True)
        self._tun_thread.start()
        idx = tun.link_up(tun_name, mtu=1500)
        tun.set_sysctl(f"net/ipv4/conf/{tun_name}/rp_filter", "0")
        tun.set_sysctl(f"net/ipv4/conf/{tun_name}/accept_local", "1")
        self.policy = PolicyRouting(tun_name, idx)
        self.policy.install(self.config, set(self.local_addresses()))
        self.spd = Spd(ENGINE_MARK)
        self.spd.apply(self.config)  # AR dialect only
        self.sockets = Sockets.open(ENGINE_MARK, self.args.ike_port, self.args.natt_port)
        self.out = Outbound(self.sockets, self.stats, ENGINE_MARK)
        s = self.sockets
        self.sel.register(self.tun_fd, selectors.EVENT_READ, self._on_tun)
        self.sel.register(s.esp, selectors.EVENT_READ, lambda m: self._on_raw(s.esp, "esp"))
        self.sel.register(s.ah, selectors.EVENT_READ, lambda m: self._on_raw(s.ah, "ah"))
        self.sel.register(s.ike, selectors.EVENT_READ, lambda m: self._on_udp(s.ike, 500))
        self.sel.register(s.natt, selectors.EVENT_READ, lambda m: self._on_udp(s.natt, 4500))
        if s.esp6 is not None:
            self.sel.register(s.esp6, selectors.EVENT_READ, lambda m: self._on_raw6(s.esp6, "esp6"))
            self.sel.register(s.ah6, selectors.EVENT_READ, lambda m: self._on_raw6(s.ah6, "ah6"))
            self.sel.register(s.ike6, selectors.EVENT_READ, lambda m: self._on_udp(s.ike6, 500))
            self.sel.register(s.natt6, selectors.EVENT_READ,
                              lambda m: self._on_udp(s.natt6, 4500))
        from engine.dataplane.vti import VtiManager

        self.vti = VtiManager(self)
        self.vti.open()

    # -- loop --------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to end (signal-safe)."""
        self._running = False
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _on_wake(self, _mask: int) -> None:
        try:
            self._wake_r.recv(64)
        except OSError:
            pass

    def run(self) -> None:
        """Serve until :meth:`stop`; then send IKE DELETEs where possible.

        Housekeeping (:meth:`_service`) runs when a timer is due and at most
        every ``SERVICE_EVERY`` real seconds otherwise, not after every batch.
        """
        next_service = 0.0
        while self._running:
            deadlines = [d for d in (self._ike_timer(), self.sadb.next_deadline(),
                                     self.idle.next_deadline(), self.natka.get_timer()) if d]
            timeout = self.clock.real_until(min(deadlines)) if deadlines else 1.0
            timeout = min(timeout if timeout is not None else 1.0, 1.0)
            if self.orphans or self.pending:
                timeout = min(timeout, 0.1)
            for key, mask in self.sel.select(timeout):
                try:
                    key.data(mask)
                except Exception:
                    self.stats["loop_errors"] += 1
                    log.exception("error in handler")
            real = time.monotonic()
            due = timeout <= 0 or real >= next_service
            if not due and deadlines:
                due = self.clock.now() >= min(deadlines)
            if due:
                self._service(self.clock.now())
                next_service = real + SERVICE_EVERY
        self._shutdown_ike()
        if self.mgmt is not None:
            self.mgmt.close()

    def _ike_timer(self) -> float | None:
        if self.ike is None:
            return None
        try:
            return self.ike.get_timer()
        except Exception:
            log.exception("IkeEngine.get_timer failed")
            return None

    def _service(self, now: float) -> None:
        """Timers, IKE output and events, lifetimes, queued packets."""
        if self.ike is not None:
            timer = self._ike_timer()
            if timer is not None and timer <= now:
                self._ike_call("handle_timer", now)
            self._flush_ike(now)
        self._lifetimes(now)
        if self.mgmt is not None:
            self.mgmt.service(now)
        if self.vti is not None:
            self.vti.service(now)
        self._idle(now)
        self._keepalives(now)
        self._expire_pending(now)
        self._retry_orphans(expire_only=True)
        if self.out is not None and time.monotonic() >= self._next_mtu_refresh:
            self._next_mtu_refresh = time.monotonic() + 2.0
            for e in self.sadb.entries:
                e.mtu = self.out.mtu_to(e.pair.peer)
                e.inner_limit = self._inner_limit(e, e.mtu)

    def _ike_call(self, method: str, *args: Any) -> Any:
        if self.ike is None:
            return None
        try:
            return getattr(self.ike, method)(*args)
        except Exception:
            self.stats[f"ike_{method}_errors"] += 1
            log.exception("IkeEngine.%s failed", method)
            return None

    def _flush_ike(self, now: float) -> None:
        for _ in range(1000):
            sent_any = False
            for dg in self._ike_call("datagrams_to_send", now) or ():
                sent_any = True
                self._send_ike(dg.data, dg.src, dg.dst)
            ev_any = False
            while True:
                ev = self._ike_call("next_event")
                if ev is None:
                    break
                ev_any = True
                try:
                    self._on_event(ev, now)
                except Exception:
                    self.stats["event_errors"] += 1
                    log.exception("handling %r failed", ev)
            if not (sent_any or ev_any):
                return

    def _send_ike(self, data: bytes, src: tuple[str, int], dst: tuple[str, int]) -> None:
        if self.sockets is None:
            return
        try:
            v6 = ":" in dst[0]
            s = self.sockets
            if dst[1] == 4500 or src[1] == 4500:
                send_udp(s.natt6 if v6 else s.natt, NON_ESP_MARKER + data, dst, src[0])
                self.natka.activity((src[0], 4500), tuple(dst), self.clock.now())
            else:
                send_udp(s.ike6 if v6 else s.ike, data, dst, src[0])
            self.stats["ike_tx"] += 1
        except OSError as exc:
            self.stats["ike_tx_errors"] += 1
            log.warning("IKE send %s -> %s failed: %s", src, dst, exc)

    # -- IKE events --------------------------------------------------------------------

    def _on_event(self, ev: Any, now: float) -> None:
        if self.mgmt is not None:  # first: a Stop record still reads the SA counters
            self.mgmt.on_event(ev, now)
        if isinstance(ev, (IkeSaUp, ChildSaUp, NegotiationFailed)):
            self.event_log.append((time.time(), ev))
        if isinstance(ev, (Log, Debug)):
            self.syslog.emit(ev)
        elif isinstance(ev, IkeSaUp):
            self.ike_sas[(ev.icookie, ev.rcookie)] = ev
            if ev.nat_t and self._nat_local(ev.icookie):
                self.natka.track(tuple(ev.local), tuple(ev.peer), now)
        elif isinstance(ev, IkeSaDown):
            up = self.ike_sas.pop((ev.icookie, ev.rcookie), None)
            self.natka.untrack(tuple(ev.local), tuple(ev.peer))
            if up is not None:
                self.natka.untrack(tuple(up.local), tuple(up.peer))
        elif isinstance(ev, ChildSaUp):
            self._install(ev, now)
        elif isinstance(ev, ChildSaDown):
            self.last_acquire.clear()  # the next packet may acquire at once
            gone = self.sadb.remove_spis(ev.inbound_spis + ev.outbound_spis)
            if self.policy is not None:
                for e in gone:
                    if not any(o.pair.local_ts == e.pair.local_ts and
                               o.pair.remote_ts == e.pair.remote_ts for o in self.sadb.entries):
                        self.policy.release_pair(e.pair)
            log.info("IPsec SA down (%s): %d pair(s) removed", ev.reason, len(gone))
        elif isinstance(ev, NegotiationFailed):
            self.stats["negotiation_failed"] += 1
            log.info("negotiation with %s failed (phase %d): %s", ev.peer, ev.phase, ev.reason)

    def _nat_local(self, icookie: bytes) -> bool:
        """Are we the side behind NAT on this ISAKMP SA (RFC 3947 §4)?"""
        if self.ike is None:
            return False
        for sa in self._ike_call("isakmp_sas") or ():
            if getattr(sa, "icookie", None) == icookie or \
                    getattr(sa, "cookies", (None,))[0] == icookie:
                return bool(getattr(sa, "nat_local", False))
        return False

    def _install(self, ev: ChildSaUp, now: float) -> None:
        pair = ev.pair
        entry = self._map_entry(pair.crypto_map, pair.crypto_map_seq)
        window = self.config.entry_replay_window(entry) if entry else self.sadb.replay_window
        intf = self._interface_for_map(pair.crypto_map)
        df = self.config.effective_df_bit(intf) if intf else self.config.globals.df_bit
        if window and window % 32:
            window = ((window + 31) // 32) * 32
        new = self.sadb.install(pair, now, replay_window=min(window, 1024), df=df,
                                interface=intf.name if intf else None)
        vti = self.vti is not None and self.vti.claim(new)  # tunnel interface: no rules
        if not vti and self.policy is not None and (entry is None or entry.dynamic_map):
            self.policy.ensure_pair(pair)  # dynamic maps: route the SA's selectors in
        for old in self.sadb.entries:
            if old is not new and set(old.pair.inbound_spis) & set(ev.rekey_of):
                old.rekey_requested = True
        log.info("IPsec SA up: peer %s in %s out %s (%s)", pair.peer,
                 [hex(s) for s in pair.inbound_spis], [hex(s) for s in pair.outbound_spis],
                 pair.mode)
        self.last_acquire.clear()
        if not vti:
            self._release_pending(new)
        self._retry_orphans()

    def _map_entry(self, name: str | None, seq: int | None) -> Any:
        cmap = self.config.crypto_maps.get(name or "")
        return cmap.entries.get(seq) if cmap is not None and seq is not None else None

    def _interface_for_map(self, name: str | None) -> Any:
        for intf in self.config.interfaces.values():
            if name and name in (intf.crypto_map, intf.crypto_map_v6):
                return intf
        return None

    # -- lifetimes ---------------------------------------------------------------------

    def _lifetimes(self, now: float) -> None:
        if not self.sadb.entries:
            return
        rekey, expired = self.sadb.due(now)
        for e in rekey:
            e.rekey_requested = True
            sel = _selector_of(e)
            log.info("IPsec SA to %s near its kilobyte lifetime: rekeying", e.pair.peer)
            self._ike_call("acquire", sel, now)
        for e in expired:
            log.info("IPsec SA to %s expired (in 0x%08x)", e.pair.peer, e.spi_in)
            self._ike_call("delete_child", e.spi_in, now)
            self.sadb.remove(e)

    def _idle(self, now: float) -> None:
        """SA idle timers (``set security-association idletime``, seed 000 L3606-3968)."""
        if not self.sadb.entries:
            return
        for e, _setting in self.idle.poll(now, self.sadb.entries, self.config):
            log.info("IPsec SA to %s idle: deleting (in 0x%08x)", e.pair.peer, e.spi_in)
            self._ike_call("idle_expired", e.spi_in, now, _setting.default)
            self.sadb.remove(e)
            self._flush_ike(now)

    def _keepalives(self, now: float) -> None:
        """NAT keepalives (RFC 3948 §2.3) for peerings where we are behind NAT."""
        t = self.natka.get_timer()
        if t is None or t > now or self.sockets is None:
            return
        self.natka.handle_timer(now)
        for dg in self.natka.datagrams_to_send(now):
            try:
                send_udp(self.sockets.natt, dg.data, dg.dst, dg.src[0])
                self.stats["natt_keepalives_tx"] += 1
            except OSError as exc:
                log.debug("NAT keepalive to %s failed: %s", dg.dst, exc)

    def _rate_ok(self, tag: Any, every: float = 1.0) -> bool:
        """True at most once per ``every`` real seconds per ``tag`` (log rate limit)."""
        real = time.monotonic()
        if real - self._log_limit.get(tag, -1e9) < every:
            return False
        if len(self._log_limit) > 4096:
            self._log_limit.clear()
        self._log_limit[tag] = real
        return True

    # -- data path: outbound (TUN → ESP) -----------------------------------------------

    def _on_tun(self, _mask: int) -> None:
        """Fast path: option-less IPv4 flows already mapped to a pair skip the
        generic lookup (``sadb.fast``); the first packet of a flow fills it."""
        assert self.tun_fd is not None and self.sockets is not None
        read, fd = os.read, self.tun_fd
        fast = self.sadb.fast
        send = self.sockets.raw_out.sendto
        sent: set[SaEntry] = set()
        for _ in range(BATCH):
            try:
                pkt = read(fd, 65535)
            except BlockingIOError:
                break
            try:
                key = pk.fast_key(pkt)
                entry = fast.get(key) if key is not None else None
                if entry is None or entry.dead or len(pkt) > entry.inner_limit:
                    self.outbound_packet(pkt, key)
                    continue
                outer = entry.out_bundle.protect(pkt)
                if len(outer) <= entry.mtu:
                    send(outer, (entry.pair.peer, 0))
                    self.stats["tx_packets"] += 1
                else:
                    self.out.send_outer(outer, entry.pair.peer)  # type: ignore[union-attr]
                sent.add(entry)
            except Exception as exc:
                self.stats["out_errors"] += 1
                if self._rate_ok(("out-drop", type(exc).__name__)):
                    log.warning("outbound packet dropped: %s: %s", type(exc).__name__, exc)
        for entry in sent:
            self._sent_to(entry)

    def _sent_to(self, entry: SaEntry) -> None:
        """Outbound traffic on a pair: on-demand DPD and NAT keepalive timers."""
        self._note_traffic(entry.pair.peer, inbound=False)
        encap = entry.pair.udp_encap
        if encap is not None:  # seed 000 L2916-2919: sending counts as activity too
            self.natka.activity((entry.pair.local, encap[0]), (entry.pair.peer, encap[1]),
                                self.clock.now())

    def outbound_packet(self, pkt: bytes, fkey: bytes | None = None) -> None:
        """Protect ``pkt`` with its SA, or acquire one; never send it clear if protected."""
        key = pk.flow_key(pkt)
        if key is None:
            self.stats["out_malformed"] += 1
            return
        entry = self.sadb.outbound(key)
        if entry is not None:
            if fkey is not None and len(self.sadb.fast) < 65536:
                self.sadb.fast[fkey] = entry
            self._protect_send(entry, pkt)
            return
        match = self._crypto_lookup(key)
        if match is None:  # ACL says bypass (or deny): forward in clear
            self.stats["out_bypass"] += 1
            if self.out is not None:
                self.out.send_clear(pkt, key.dst)
            return
        intf, cm_entry = match
        self._queue(key, pkt)
        self._acquire(key, intf, cm_entry)

    def _crypto_lookup(self, key: pk.FlowKey) -> tuple[Any, Any] | None:
        for intf in self.config.interfaces.values():
            if intf.crypto_map is None and intf.crypto_map_v6 is None:
                continue
            hit = self.config.lookup_entry(intf, key.src, key.dst, key.proto,
                                           key.sport or None, key.dport or None)
            if hit is not None:
                return intf, hit[0]
        return None

    def _protect_send(self, entry: SaEntry, pkt: bytes) -> None:
        """Protect and send one inner packet, honouring the tunnel's path MTU.

        Seed 000 Table 2 (``engine.dataplane.fragpolicy``): a DF packet too big
        for the tunnel is dropped with ICMP "fragmentation needed" back
        through the TUN (RFC 1191 §4); otherwise pre-fragment (IOS default
        ``before-encryption``) or protect and post-fragment the outer packet.
        """
        assert self.out is not None
        peer = entry.pair.peer
        entry.mtu = self.out.mtu_to(peer)
        limit = entry.inner_limit = self._inner_limit(entry, entry.mtu)
        intf = self.config.interfaces.get(entry.interface or "")
        g = self.config.globals
        try:
            res = self.egress.process(
                pkt, protect=entry.out_bundle.protect, max_inner=limit, mtu=entry.mtu,
                df_mode=self.config.effective_df_bit(intf) if intf else g.df_bit,
                fragmentation=self.config.effective_fragmentation(intf) if intf
                else g.fragmentation,
                tunnel=entry.pair.mode == "tunnel",
                router=ipaddress.ip_address(entry.pair.local).packed)
        except Exception as exc:
            self.stats["protect_errors"] += 1
            log.warning("protect failed on SA to %s: %s", peer, exc)
            return
        self.stats[f"egress_{res.decision.action}"] += 1
        if res.icmp:
            self.stats["pmtu_icmp_sent"] += 1
            self._to_tun(res.icmp)
        if res.pieces > 1:
            self.stats["prefragmented"] += 1
        for outer in res.packets:
            self.out.send_outer(outer, peer)
        self._sent_to(entry)

    def _inner_limit(self, entry: SaEntry, mtu: int) -> int:
        cache = entry.limits
        limit = cache.get(mtu)
        if limit is None:
            limit = cache[mtu] = entry.out_bundle.max_inner_len(mtu)
        return limit

    def _to_tun(self, pkt: bytes) -> None:
        """Queue a packet for the TUN writer thread (bounded; excess is counted and dropped).

        A TUN write runs the kernel's whole receive path (forwarding, the
        next hop's veth, often the receiving host's TCP) in the caller's
        context: ~25 µs per packet with the GIL released, so a separate
        writer lets decryption go on meanwhile.
        """
        if self._tun_q.qsize() > TUN_QUEUE_MAX:
            self.stats["tun_queue_drops"] += 1
            return
        self._tun_q.put(pkt)

    def _tun_writer(self) -> None:
        """Writer thread: drains the TUN queue until it gets None."""
        get, write, fd = self._tun_q.get, os.write, self.tun_fd
        while True:
            pkt = get()
            if pkt is None:
                return
            try:
                write(fd, pkt)
            except OSError as exc:
                self.stats["tun_write_errors"] += 1
                if exc.errno not in (errno.EINVAL, errno.EAGAIN) and \
                        self._rate_ok(("tun-write", exc.errno)):
                    log.warning("TUN write failed: %s", exc)

    def _note_traffic(self, peer: str, inbound: bool) -> None:
        """Tell IKE about traffic once a second per peer and direction (on-demand DPD)."""
        if self.ike is None:
            return
        tag = (peer, inbound)
        real = time.monotonic()
        if real - self._traffic_seen.get(tag, -1e9) < min(1.0, 1.0 / self.clock.scale):
            return
        self._traffic_seen[tag] = real
        self._ike_call("note_traffic", peer, self.clock.now(), inbound)

    def _queue(self, key: pk.FlowKey, pkt: bytes) -> None:
        q = self.pending.setdefault(key, deque())
        if len(q) >= ACQUIRE_QUEUE:
            self.stats["acquire_dropped"] += 1
            return
        q.append((time.monotonic(), pkt))

    def _acquire(self, key: pk.FlowKey, intf: Any, cm_entry: Any) -> None:
        now = self.clock.now()
        tag = (intf.name, id(cm_entry), key.src, key.dst)
        last = self.last_acquire.get(tag)
        real = time.monotonic()
        if last is not None and real - last < ACQUIRE_RETRY:
            return
        self.last_acquire[tag] = real
        self.stats["acquires"] += 1
        sel = PacketSelector(key.src, key.dst, key.proto, key.sport or None,
                             key.dport or None, interface=intf.name)
        self._ike_call("acquire", sel, now)
        self._flush_ike(now)

    def _release_pending(self, entry: SaEntry) -> None:
        for key in [k for k in self.pending if entry.matches_outbound(k)]:
            for _t, pkt in self.pending.pop(key):
                self._protect_send(entry, pkt)

    def _expire_pending(self, _now: float) -> None:
        real = time.monotonic()
        for key in [k for k, q in self.pending.items() if q and real - q[0][0] > ACQUIRE_HOLD]:
            self.stats["acquire_dropped"] += len(self.pending.pop(key))

    # -- data path: inbound (ESP/AH → TUN) ---------------------------------------------

    def _on_raw(self, sock: socket.socket, proto: str) -> None:
        """Raw IPv4 ESP/AH. Fast path: option-less IPv4 ESP with a known SPI goes
        straight to its SA; everything else takes :meth:`inbound_packet`."""
        recv = sock.recv
        by_spi = self.sadb.by_spi
        fast = proto == "esp"
        peers: set[str] = set()
        for _ in range(BATCH):
            try:
                pkt = recv(65535)
            except BlockingIOError:
                break
            hit = by_spi.get(("esp", int.from_bytes(pkt[20:24], "big"))) \
                if fast and len(pkt) >= 28 and pkt[0] == 0x45 else None
            if hit is None:
                self._inbound_guarded(pkt, proto)
                continue
            try:
                inner = hit[1].unprotect(pkt)
            except ReplayError:
                self._replay_drop(hit[0], int.from_bytes(pkt[20:24], "big"))
                continue
            except Exception as exc:
                self._in_drop(exc, proto)
                continue
            if inner and not (hit[0].vti and self.vti and self.vti.deliver(hit[0], inner)):
                self._to_tun(inner)
            peers.add(hit[0].pair.peer)
        for peer in peers:
            self._note_traffic(peer, inbound=True)

    def _replay_drop(self, entry: SaEntry, spi: int) -> None:
        """Anti-replay failure: counted, ``%CRYPTO-4-PKT_REPLAY_ERR`` (seed 000 L292-300)."""
        self.stats["in_replay"] += 1
        if self._rate_ok(("replay", spi)):
            self.syslog.emit(dplog.replay_error(entry.pair.conn_id or 1))

    def _in_drop(self, exc: Exception, proto: str) -> None:
        self.stats["in_errors"] += 1
        self.stats[f"in_drop_{type(exc).__name__}"] += 1
        if self._rate_ok(("in-drop", proto, type(exc).__name__)):
            log.warning("inbound %s packet dropped: %s: %s (further ones this second "
                        "only counted)", proto, type(exc).__name__, exc)

    def _on_raw6(self, sock: socket.socket, proto: str) -> None:
        for _ in range(BATCH):
            try:
                data, src, local = recv6(sock)
            except BlockingIOError:
                return
            self._inbound_guarded(data, proto, ((src[0], 0), local))

    def _on_udp(self, sock: socket.socket, port: int) -> None:
        for _ in range(BATCH):
            try:
                data, src, local = recv_udp(sock) if sock.family == socket.AF_INET \
                    else recv6(sock)
            except BlockingIOError:
                break
            except OSError as exc:
                self.stats["udp_rx_errors"] += 1
                log.warning("UDP %d receive: %s", port, exc)
                break
            local = local or ("0.0.0.0" if sock.family == socket.AF_INET else "::")
            now = self.clock.now()
            if port == 4500:
                if data == b"\xff":  # NAT keepalive (RFC 3948 §2.3)
                    self.stats["natt_keepalives"] += 1
                    continue
                if data[:4] != NON_ESP_MARKER:  # UDP-encapsulated ESP (RFC 3948 §2.1)
                    self._inbound_guarded(data, "esp-udp", (src, local))
                    continue
                data = data[4:]
                self.natka.activity((local, 4500), src, now)
            self.stats["ike_rx"] += 1
            self._ike_call("receive_datagram", data, src, (local, port), now)
        # IKE replies go out promptly; the loop flushes too
        self._flush_ike(self.clock.now())

    def _retry_orphans(self, expire_only: bool = False) -> None:
        if not self.orphans:
            return
        held, self.orphans = self.orphans, deque()
        now = time.monotonic()
        for t, pkt, proto, udp in held:
            if expire_only and now - t < ORPHAN_HOLD:
                self.orphans.append((t, pkt, proto, udp))
                continue
            self._inbound_guarded(pkt, proto, udp, retry=True)

    def _inbound_guarded(self, pkt: bytes, proto: str, udp: Any = None,
                         retry: bool = False) -> None:
        try:
            self.inbound_packet(pkt, proto, udp, retry)
        except Exception as exc:
            self._in_drop(exc, proto)

    def inbound_packet(self, pkt: bytes, proto: str, udp: Any = None,
                       retry: bool = False) -> None:
        """Unprotect an ESP/AH packet and write the inner packet to the TUN.

        A packet with an unknown SPI is held briefly (``ORPHAN_HOLD``): the SA
        may still be on its way through Quick Mode's last message.
        """
        if proto == "esp-udp":
            spi = struct.unpack_from("!I", pkt, 0)[0] if len(pkt) >= 8 else None
            kind = "esp"
        elif proto in ("esp6", "ah6"):  # raw IPv6 socket: no IP header, addresses in udp
            kind = proto[:-1]
            off = 4 if kind == "ah" else 0
            spi = struct.unpack_from("!I", pkt, off)[0] if len(pkt) >= off + 8 else None
        else:
            if len(pkt) < 28 or pkt[0] >> 4 != 4:
                self.stats["in_malformed"] += 1
                return
            ihl = (pkt[0] & 0x0F) * 4
            off = ihl + 4 if proto == "ah" else ihl
            spi = struct.unpack_from("!I", pkt, off)[0] if len(pkt) >= off + 8 else None
            kind = proto
        if spi is None:
            self.stats["in_malformed"] += 1
            return
        hit = self.sadb.inbound(kind, spi)
        if hit is None and not self._draining and self.sockets is not None:
            # The peer may send ESP right behind its last Quick Mode message; read
            # pending IKE first so that the SA it completes is installed.
            self._draining = True
            try:
                for sock, port in ((self.sockets.ike, 500), (self.sockets.natt, 4500),
                                   (self.sockets.ike6, 500), (self.sockets.natt6, 4500)):
                    if sock is not None:
                        self._on_udp(sock, port)
            finally:
                self._draining = False
            hit = self.sadb.inbound(kind, spi)
        if hit is None:
            if not retry and len(self.orphans) < ORPHAN_MAX:
                self.orphans.append((time.monotonic(), pkt, proto, udp))
                self.stats["in_held_unknown_spi"] += 1
                return
            self.sadb.counters["invalid_spi"] += 1
            self.stats[f"in_invalid_spi_{kind}"] += 1
            if udp is not None:
                o_src, o_dst = udp[0][0], udp[1] or "?"
            else:
                o_src = socket.inet_ntoa(pkt[12:16])
                o_dst = socket.inet_ntoa(pkt[16:20])
            if self._rate_ok(("inv-spi", o_src, spi)):
                self.syslog.emit(dplog.invalid_spi(o_dst, kind, spi, o_src))
            self._invalid_spi(pkt, kind, spi, udp)
            return
        entry, bundle = hit
        try:
            if udp is None:
                inner = bundle.unprotect(pkt)
            elif proto != "esp-udp":  # IPv6 raw: payload only
                inner = bundle.unprotect(pkt, udp[0][0], udp[1])
            else:  # UDP payload without marker: outer addresses from the socket
                (src, sport), local = udp
                inner = bundle.unprotect(pkt, src, local)
                self.natka.activity((local, 4500), (src, sport), self.clock.now())
                encap = entry.pair.udp_encap
                if encap is not None and (src != entry.pair.peer or sport != encap[1]):
                    self._peer_moved(entry, src, sport, local)
        except ReplayError:
            self._replay_drop(entry, spi)
            return
        self._note_traffic(entry.pair.peer, inbound=True)
        if inner and not (entry.vti and self.vti and self.vti.deliver(entry, inner)):
            self._to_tun(inner)

    def _peer_moved(self, entry: SaEntry, src: str, sport: int, local: str) -> None:
        """Authenticated ESP-in-UDP from a new endpoint: the peer's NAT rebound."""
        old = (entry.pair.peer, entry.pair.udp_encap[1] if entry.pair.udp_encap else 4500)
        new = (src, sport)
        # Only the pair whose SA authenticated the packet: several peers may share one
        # public address behind a PAT, told apart by port alone.
        self.sadb.move_peer(entry, src, sport)
        self.natka.move((local, 4500), old, new)
        self._ike_call("peer_moved", old, new)
        self.stats["natt_peer_moved"] += 1
        log.info("peer %s:%d now at %s:%d (NAT rebinding): 1 SA pair moved",
                 old[0], old[1], src, sport)

    def _invalid_spi(self, pkt: bytes, kind: str, spi: int, udp: Any) -> None:
        """``crypto isakmp invalid-spi-recovery``: tell the peer (rate-limited)."""
        if not self.config.globals.invalid_spi_recovery or self.ike is None:
            return
        peer = udp[0][0] if udp else (pk.ipv4_header(pkt) or (0, 0, "", ""))[2]
        real = time.monotonic()
        tag = ("invalid-spi", peer, spi)
        if real - self.last_acquire.get(tag, -1e9) < ACQUIRE_RETRY:
            return
        self.last_acquire[tag] = real
        self._ike_call("send_invalid_spi", peer, spi, kind, self.clock.now())
        self._flush_ike(self.clock.now())  # MM1 of the recovery goes out now

    # -- shutdown ----------------------------------------------------------------------

    def _shutdown_ike(self) -> None:
        """Send DELETEs for every SA (RFC 2408 §3.15) before exiting."""
        if self.ike is None:
            return
        now = self.clock.now()
        self._ike_call("clear_sa", now)
        self._ike_call("clear_isakmp", now)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            before = self.stats["ike_tx"]
            self._flush_ike(now)
            if self.stats["ike_tx"] == before:
                break

    def close(self) -> None:
        """Release everything this runner created (rules, TUN, sockets, control)."""
        try:
            self.control.close()
        except Exception:
            log.exception("control close")
        if self.spd is not None:
            self.spd.remove()
        if self.policy is not None:
            try:
                self.policy.remove()
            except Exception:
                log.exception("policy routing removal")
        if self.sockets is not None:
            self.sockets.close()
        if self.vti is not None:
            self.vti.close()
        if self._tun_thread is not None:
            self._tun_q.put(None)
            self._tun_thread.join(2.0)
        if self.tun_fd is not None:
            os.close(self.tun_fd)
            self.tun_fd = None
        self.syslog.close()
        self.sel.close()
        log.info("engine %s stopped", self.name)


def _management(runner: Runner) -> Any:
    """``engine.mgmt.Management`` (RADIUS accounting, SNMP) when that package exists."""
    try:
        from engine.mgmt import Management  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        return Management(runner.config, name=runner.name, clock=runner.clock, sadb=runner.sadb)
    except Exception:
        log.exception("management plane disabled")
        return None


class _DummyEntry:
    """A crypto map entry with nothing set (for the global replay window)."""

    replay_disabled = False
    replay_window = None


def _selector_of(e: SaEntry) -> PacketSelector:
    """Acquire argument that asks IKE to rekey ``e`` (kilobyte lifetime)."""
    p = e.pair
    return PacketSelector(str(p.local_ts.network.network_address),
                          str(p.remote_ts.network.network_address),
                          p.local_ts.protocol, p.local_ts.port or None,
                          p.remote_ts.port or None, interface=e.interface,
                          rekey_spi=e.spi_in)


_ = ConfigError  # re-exported type for callers of load_config
