"""SA database: IPsec SA pairs from IKE ``ChildSaUp`` events → ESP/AH SA objects.

Inbound lookup by SPI (per protocol), outbound lookup by flow (cached) over
the pairs' traffic selectors, lifetimes on the scaled clock (seconds) and
from byte counters (kilobytes), counters for show output and key export.
No sockets here; the runner feeds packets and the time.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.dataplane.packet import FlowKey
from engine.esp.params import SaCounters, SaParams
from engine.ike.events import IpsecSaPair, SaKeys, TrafficSelector

log = logging.getLogger("engine.sadb")

SOFT_FRACTION = 0.9  # rekey at 90 % of the kilobytes lifetime (IOS-like)
HARD_GRACE = 1.0  # protocol seconds the IKE engine gets to expire an SA itself


def sa_params(keys: SaKeys, pair: IpsecSaPair, direction: str, mode: str,
              replay_window: int, df: str = "copy") -> SaParams:
    """SaParams for one direction of one protocol of ``pair``."""
    return SaParams(
        spi=keys.spi, proto=keys.proto, mode=mode,
        encr=keys.encr or "null", encr_key=keys.encr_key,
        integ=keys.integ or "null", integ_key=keys.integ_key,
        local=pair.local, remote=pair.peer,
        udp_encap=pair.udp_encap if keys.proto == "esp" else None,
        replay_window=replay_window if direction == "in" else 0, df=df)


def _ts_match(ts: TrafficSelector, addr: str, proto: int, port: int) -> bool:
    try:
        if ipaddress.ip_address(addr) not in ts.network:
            return False
    except (ValueError, TypeError):
        return False
    if ts.protocol and ts.protocol != proto:
        return False
    if ts.port and ts.port != port:
        return False
    return True


@dataclass(eq=False)
class SaEntry:
    """One installed IPsec SA pair (bundle) with its data-plane objects.

    ``outbound`` is in application order (ESP first, then AH outside, RFC 2401
    §4.5); ``inbound`` maps (proto, spi) → InboundSa.
    """

    pair: IpsecSaPair
    params_out: list[SaParams]
    params_in: list[SaParams]
    outbound: list[Any]
    inbound: list[Any]
    installed: float
    soft_seconds: float
    hard_seconds: float
    rekey_requested: bool = False
    dead: bool = False
    interface: str | None = None  # IOS interface name (show output)
    out_bundle: Any = None  # engine.esp.OutboundBundle
    in_bundle: Any = None  # engine.esp.InboundBundle
    limits: dict[int, int] = field(default_factory=dict)  # path MTU → largest inner packet
    mtu: int = 1500  # path MTU towards the peer (refreshed by the runner)
    replay_window: int = 64  # inbound anti-replay window (0 = disabled), for show
    inner_limit: int = 0  # largest inner packet protected without MTU handling
    vti: str | None = None  # IOS tunnel interface this pair protects (engine/dataplane/vti.py)

    @property
    def spi_in(self) -> int:
        """ESP SPI if the bundle has ESP, else the AH SPI."""
        k = self.pair.keys("esp", "in") or self.pair.inbound[0]
        return k.spi

    @property
    def spi_out(self) -> int:
        k = self.pair.keys("esp", "out") or self.pair.outbound[0]
        return k.spi

    def bytes_out(self) -> int:
        return sum(sa.counters.bytes_out for sa in self.outbound[:1])

    def bytes_in(self) -> int:
        return sum(sa.counters.bytes_in for sa in self.inbound[:1])

    def kb_used(self) -> float:
        return max(self.bytes_out(), self.bytes_in()) / 1024.0

    def matches_outbound(self, key: FlowKey) -> bool:
        p = self.pair
        return (_ts_match(p.local_ts, key.src, key.proto, key.sport)
                and _ts_match(p.remote_ts, key.dst, key.proto, key.dport))

    def counters(self) -> dict[str, int]:
        """Pair counters as IOS prints them (outbound side from the first SA)."""
        out: SaCounters = self.outbound[0].counters if self.outbound else SaCounters()
        inn: SaCounters = self.inbound[0].counters if self.inbound else SaCounters()
        return {
            "encaps": out.encaps, "encrypt": out.encrypt, "digest": out.digest,
            "decaps": inn.decaps, "decrypt": inn.decrypt, "verify": inn.verify,
            "send_errors": sum(sa.counters.send_errors for sa in self.outbound),
            "recv_errors": sum(sa.counters.recv_errors for sa in self.inbound),
            "replay_failures": sum(sa.counters.replay_failures for sa in self.inbound),
            "auth_failures": sum(sa.counters.auth_failures for sa in self.inbound),
            "bytes_out": self.bytes_out(), "bytes_in": self.bytes_in(),
        }


@dataclass
class SaDatabase:
    """All installed SA pairs of one engine."""

    replay_window: int = 64
    entries: list[SaEntry] = field(default_factory=list)
    by_spi: dict[tuple[str, int], tuple[SaEntry, Any]] = field(default_factory=dict)
    _flow_cache: dict[FlowKey, SaEntry] = field(default_factory=dict)
    #: fast path: raw header bytes (``fast_key``) → pair, filled by the runner
    fast: dict[bytes, SaEntry] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=lambda: {
        "installed": 0, "removed": 0, "invalid_spi": 0, "no_sa": 0})

    # -- install / remove ------------------------------------------------------------

    def install(self, pair: IpsecSaPair, now: float, replay_window: int | None = None,
                df: str = "copy", interface: str | None = None) -> SaEntry:
        """Build ESP/AH bundles for ``pair`` and index them.

        AH+ESP (RFC 4301 §4.5): outbound ESP first, then AH covers the result;
        inbound AH is checked first, so only the outermost SPI (AH) is indexed.
        """
        from engine.esp import InboundBundle, InboundSa, OutboundBundle, OutboundSa

        win = self.replay_window if replay_window is None else replay_window
        p_out = {k.proto: sa_params(k, pair, "out", pair.mode, win, df) for k in pair.outbound}
        p_in = {k.proto: sa_params(k, pair, "in", pair.mode, win, df) for k in pair.inbound}
        sa_out = {proto: OutboundSa(p) for proto, p in p_out.items()}
        sa_in = {proto: InboundSa(p) for proto, p in p_in.items()}
        entry = SaEntry(pair, list(p_out.values()), list(p_in.values()),
                        [sa_out[x] for x in ("esp", "ah") if x in sa_out],
                        [sa_in[x] for x in ("esp", "ah") if x in sa_in],
                        installed=now,
                        soft_seconds=now + pair.lifetime_seconds * SOFT_FRACTION,
                        hard_seconds=now + pair.lifetime_seconds, interface=interface,
                        replay_window=win)
        entry.out_bundle = OutboundBundle(sa_out.get("esp"), sa_out.get("ah"))
        entry.in_bundle = InboundBundle(sa_in.get("esp"), sa_in.get("ah"))
        outer = "ah" if "ah" in p_in else "esp"
        self.by_spi[(outer, p_in[outer].spi)] = (entry, entry.in_bundle)
        self.entries.append(entry)
        self.invalidate()
        self.counters["installed"] += 1
        return entry

    def invalidate(self) -> None:
        """Forget every cached flow → pair decision (SAs or config changed)."""
        self._flow_cache.clear()
        self.fast.clear()

    def remove(self, entry: SaEntry) -> None:
        entry.dead = True
        if entry in self.entries:
            self.entries.remove(entry)
            self.counters["removed"] += 1
        for k in [k for k, v in self.by_spi.items() if v[0] is entry]:
            del self.by_spi[k]
        self.invalidate()

    def remove_spis(self, spis: Iterable[int]) -> list[SaEntry]:
        """Remove every pair having any of ``spis`` (inbound or outbound)."""
        want = set(spis)
        gone = [e for e in self.entries
                if want & (set(e.pair.inbound_spis) | set(e.pair.outbound_spis))]
        for e in gone:
            self.remove(e)
        return gone

    def clear(self) -> None:
        for e in list(self.entries):
            self.remove(e)

    def move_peer(self, entry: SaEntry, peer: str, port: int) -> None:
        """NAT rebinding: send this pair's ESP-in-UDP to ``(peer, port)`` from now on.

        The outbound SAs are rebuilt with the same keys, sequence numbers and
        counters (RFC 3948 §2: the outer addresses/ports are not protected).
        """
        from engine.esp import OutboundBundle, OutboundSa

        encap = entry.pair.udp_encap
        if encap is None:
            return
        entry.pair = dataclasses.replace(entry.pair, peer=peer, udp_encap=(encap[0], port))
        old = {sa.params.proto: sa for sa in entry.outbound}
        new_params, new_sas = [], {}
        for p in entry.params_out:
            np_ = dataclasses.replace(p, remote=peer,
                                      udp_encap=(p.udp_encap[0], port) if p.udp_encap else None)
            sa = OutboundSa(np_, initial_seq=old[p.proto].seq)
            sa.counters = old[p.proto].counters
            new_params.append(np_)
            new_sas[p.proto] = sa
        entry.params_out = new_params
        entry.outbound = [new_sas[x] for x in ("esp", "ah") if x in new_sas]
        entry.out_bundle = OutboundBundle(new_sas.get("esp"), new_sas.get("ah"))
        entry.limits.clear()
        self.invalidate()

    # -- lookups ---------------------------------------------------------------------

    def inbound(self, proto: str, spi: int) -> tuple[SaEntry, Any] | None:
        return self.by_spi.get((proto, spi))

    def outbound(self, key: FlowKey) -> SaEntry | None:
        """Newest live pair whose selectors cover the flow (cached per flow)."""
        entry = self._flow_cache.get(key)
        if entry is not None and not entry.dead:
            return entry
        for e in reversed(self.entries):
            if e.vti is None and e.matches_outbound(key):  # VTI pairs: routed, not selected
                if len(self._flow_cache) > 65536:
                    self._flow_cache.clear()
                self._flow_cache[key] = e
                return e
        return None

    # -- lifetimes -------------------------------------------------------------------

    def due(self, now: float) -> tuple[list[SaEntry], list[SaEntry]]:
        """(pairs to rekey, pairs expired) at ``now``.

        The IKE engine runs the seconds lifetime itself (soft rekey, hard
        delete); the SA database adds what only the data plane sees: the
        kilobyte lifetime (RFC 2407 §4.5), and a safety net one second after
        the hard seconds limit.
        """
        rekey: list[SaEntry] = []
        expired: list[SaEntry] = []
        for e in self.entries:
            kb_limit = e.pair.lifetime_kilobytes
            kb = e.kb_used() if kb_limit else 0.0
            if now >= e.hard_seconds + HARD_GRACE or (kb_limit and kb >= kb_limit):
                expired.append(e)
            elif not e.rekey_requested and kb_limit and kb >= kb_limit * SOFT_FRACTION:
                rekey.append(e)
        return rekey, expired

    def next_deadline(self) -> float | None:
        times = [e.hard_seconds + HARD_GRACE for e in self.entries]
        return min(times) if times else None

    # -- export ----------------------------------------------------------------------

    def export_keys(self) -> list[dict[str, Any]]:
        """``lab keys`` data (CONTRACTS.md)."""
        out: list[dict[str, Any]] = []
        for e in self.entries:
            out += [p.export("in") for p in e.params_in]
            out += [p.export("out") for p in e.params_out]
        return out

    def counters_view(self) -> list[dict[str, Any]]:
        """``lab counters`` data: one item per pair."""
        return [{"peer": e.pair.peer, "local": e.pair.local,
                 "spi_in": e.spi_in, "spi_out": e.spi_out,
                 "local_ts": str(e.pair.local_ts), "remote_ts": str(e.pair.remote_ts),
                 **e.counters()} for e in self.entries]
