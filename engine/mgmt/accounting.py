"""IPsec VPN accounting (seed 001 ch. 5, L1655-2322) driven by IKE events.

A VPN session is an IKE peer's set of IPsec SA pairs (L1661): it starts with the
first pair and stops when the last pair is deleted; rekeys add and remove pairs
without new records (L1739). Which sessions are accounted (L1926, L2160):

* the crypto map entry's ``set isakmp-profile P`` (or a profile whose ``match
  identity address`` covers the peer) with ``accounting LIST``;
* else ``crypto map NAME client accounting list LIST``.

``LIST`` names an ``aaa accounting network LIST start-stop|stop-only ... group
radius`` method list; records go to the ``radius-server host`` entries
(``acct-port``), retried ``radius-server retransmit`` times. Interim records
(``Watchdog [3]``, L1855) follow ``aaa accounting update periodic N`` minutes of
protocol time (the engine's scaled clock).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.config.model import Config
from engine.ike.events import ChildSaDown, ChildSaUp, IkeSaUp
from engine.mgmt import radius as r

log = logging.getLogger("engine.mgmt.accounting")

#: seed 001 L1757 vs L1711: two of three samples and all three length fields use this spelling.
INITIATOR_IP_NAME = "isakmp-initator-ip"


@dataclass
class Usage:
    packets_in: int = 0
    packets_out: int = 0
    octets_in: int = 0
    octets_out: int = 0

    def add(self, other: "Usage") -> "Usage":
        return Usage(self.packets_in + other.packets_in, self.packets_out + other.packets_out,
                     self.octets_in + other.octets_in, self.octets_out + other.octets_out)


@dataclass
class Session:
    session_id: str
    peer: str
    local: str
    list_name: str
    started: float
    interface: str | None = None
    vrf: str | None = None
    group: str | None = None
    phase1_id: str | None = None
    spis: set[int] = field(default_factory=set)  #: inbound SPIs of the live pairs
    closed: Usage = field(default_factory=Usage)  #: usage of pairs already deleted
    next_update: float | None = None


class Accounting:
    """Turns ChildSaUp/ChildSaDown into Start/Stop/Interim Accounting-Requests."""

    def __init__(self, config: Config, sadb: Any = None,
                 client_factory: Callable[[], r.AccountingClient] = r.AccountingClient) -> None:
        self.config = config
        self.sadb = sadb
        self._client_factory = client_factory
        self.client: r.AccountingClient | None = None
        self.sessions: dict[str, Session] = {}  # by peer address
        self.phase1_ids: dict[str, str] = {}
        self._next_sid = 1
        self.skipped: list[str] = []  #: why a session was not accounted (misconfiguration)

    # -- events ------------------------------------------------------------------------------

    def on_event(self, ev: Any, now: float) -> None:
        if isinstance(ev, IkeSaUp):
            self.phase1_ids[ev.peer[0]] = ev.peer_id or ev.peer[0]
        elif isinstance(ev, ChildSaUp):
            self._pair_up(ev, now)
        elif isinstance(ev, ChildSaDown):
            self._pair_down(ev, now)

    def _pair_up(self, ev: ChildSaUp, now: float) -> None:
        pair = ev.pair
        s = self.sessions.get(pair.peer)
        if s is not None:  # rekey or another flow of the same session: no record (L1739)
            s.spis.update(pair.inbound_spis)
            return
        chosen = self._method_list(pair)
        if chosen is None:
            return
        list_name, profile = chosen
        sid = f"{self._next_sid:08X}"
        self._next_sid += 1
        intf = self._interface(pair.crypto_map, pair.local)
        vrf = (profile.vrf if profile is not None and profile.vrf else
               (intf.vrf if intf is not None else None))
        s = Session(sid, pair.peer, pair.local, list_name, now,
                    intf.name if intf is not None else None, vrf,
                    profile.match_groups[0] if profile is not None and profile.match_groups
                    else None, self.phase1_ids.get(pair.peer), set(pair.inbound_spis))
        period = self.config.mgmt.update_periodic
        if period:
            s.next_update = now + period * 60.0
        self.sessions[pair.peer] = s
        acct = self.config.mgmt.accounting_lists[list_name]
        if acct.record == "start-stop":
            self._send(s, r.STATUS_START, now)

    def _pair_down(self, ev: ChildSaDown, now: float) -> None:
        spis = set(ev.inbound_spis)
        s = next((x for x in self.sessions.values() if x.spis & spis), None)
        if s is None:
            return
        s.closed = s.closed.add(self._live_usage(s, only=spis))
        s.spis -= spis
        if s.spis:
            return  # other pairs of the session remain (L1774: stop when no flows are left)
        del self.sessions[s.peer]
        acct = self.config.mgmt.accounting_lists.get(s.list_name)
        if acct is not None and acct.record in ("start-stop", "stop-only"):
            self._send(s, r.STATUS_STOP, now, s.closed)

    def service(self, now: float) -> None:
        """Interim updates while sessions are up (L1827)."""
        period = self.config.mgmt.update_periodic
        for s in list(self.sessions.values()):
            if not period:
                s.next_update = None
                continue
            if s.next_update is None:
                s.next_update = now + period * 60.0
            elif now >= s.next_update:
                s.next_update = now + period * 60.0
                acct = self.config.mgmt.accounting_lists.get(s.list_name)
                if acct is not None and acct.record == "start-stop":
                    self._send(s, r.STATUS_INTERIM, now, s.closed.add(self._live_usage(s)))

    def close(self, drain: float = 2.0) -> None:
        if self.client is not None:
            self.client.close(drain)

    # -- configuration lookups ---------------------------------------------------------------

    def _method_list(self, pair: Any) -> tuple[str, Any] | None:
        cfg, m = self.config, self.config.mgmt
        profile = None
        entry = None
        cmap = cfg.crypto_maps.get(pair.crypto_map or "")
        if cmap is not None:
            entry = cmap.entries.get(pair.crypto_map_seq) if pair.crypto_map_seq is not None \
                else None
            if entry is not None and entry.dynamic_map and not entry.isakmp_profile:
                dyn = cfg.dynamic_maps.get(entry.dynamic_map)
                entry = next(iter(dyn.entries.values()), entry) if dyn is not None else entry
        if entry is not None and entry.isakmp_profile:
            profile = m.isakmp_profiles.get(entry.isakmp_profile)
        if profile is None:
            profile = self._profile_by_identity(pair.peer)
        name = profile.accounting if profile is not None and profile.accounting else None
        if name is None:
            name = m.crypto_map_accounting.get(pair.crypto_map or "")
        if name is None:
            return None
        if name not in m.accounting_lists:
            self._skip(f"accounting list {name!r} has no 'aaa accounting network {name}' line")
            return None
        if not m.radius_servers:
            self._skip("no 'radius-server host' configured")
            return None
        return name, profile

    def _profile_by_identity(self, peer: str) -> Any:
        try:
            addr = ipaddress.ip_address(peer)
        except ValueError:
            return None
        for p in self.config.mgmt.isakmp_profiles.values():
            if any(addr in n for n in p.match_addresses if n.version == addr.version):
                return p
        return None

    def _interface(self, crypto_map: str | None, local: str) -> Any:
        cands = [i for i in self.config.interfaces.values()
                 if crypto_map and i.crypto_map == crypto_map]
        for i in cands:
            if any(str(a.ip) == local for a in i.addresses):
                return i
        return cands[0] if cands else None

    def _skip(self, why: str) -> None:
        if why not in self.skipped:
            self.skipped.append(why)
            log.warning("IPsec accounting: %s", why)

    # -- counters ----------------------------------------------------------------------------

    def _live_usage(self, s: Session, only: set[int] | None = None) -> Usage:
        u = Usage()
        for e in getattr(self.sadb, "entries", ()) or ():
            spis = set(e.pair.inbound_spis)
            if not spis & (only if only is not None else s.spis):
                continue
            c = e.counters()
            u = u.add(Usage(c.get("decaps", 0), c.get("encaps", 0), c.get("bytes_in", 0),
                            c.get("bytes_out", 0)))
        return u

    # -- records -----------------------------------------------------------------------------

    def attributes(self, s: Session, status: int, now: float, usage: Usage | None,
                   nas_ip: str) -> list[r.Attribute]:
        """Attributes in the order of the seed's records (L1749-1765, L1791-1818, L1840-1861)."""
        A = r.Attribute
        vsa = self.config.mgmt.radius_vsa_accounting
        out = [A.string(r.ACCT_SESSION_ID, s.session_id)]
        if vsa and status == r.STATUS_START and s.group:
            out.append(A.avpair("isakmp-group-id", s.group))
        if vsa and s.vrf:
            out.append(A.avpair("vrf-id", s.vrf))
        if vsa:
            out.append(A.avpair(INITIATOR_IP_NAME, s.peer))
            out.append(A.avpair("connect-progress", "No Progress"))
            if status == r.STATUS_START and s.phase1_id:
                out.append(A.avpair("isakmp-phase1-id", s.phase1_id))  # Table 4 (L1713)
        if status != r.STATUS_START and usage is not None:
            out += [
                A.integer(r.ACCT_SESSION_TIME, max(0, int(now - s.started))),
                A.integer(r.ACCT_INPUT_OCTETS, usage.octets_in & 0xFFFFFFFF),
                A.integer(r.ACCT_OUTPUT_OCTETS, usage.octets_out & 0xFFFFFFFF),
                A.integer(r.ACCT_INPUT_PACKETS, usage.packets_in & 0xFFFFFFFF),
                A.integer(r.ACCT_OUTPUT_PACKETS, usage.packets_out & 0xFFFFFFFF),
            ]
            if status == r.STATUS_STOP:
                out += [
                    A.integer(r.ACCT_INPUT_GIGAWORDS, usage.octets_in >> 32),  # RFC 2869 §5.1
                    A.integer(r.ACCT_OUTPUT_GIGAWORDS, usage.octets_out >> 32),  # §5.2 (53)
                    A.integer(r.ACCT_TERMINATE_CAUSE, 0),  # "none [0]" (L1810)
                ]
                if vsa:
                    out.append(A.avpair("disc-cause-ext", "No Reason"))
        out.append(A.integer(r.ACCT_STATUS_TYPE, status))
        if vsa and s.interface:
            out.append(A.cisco(r.CISCO_NAS_PORT, s.interface))
        nas = (A.address(r.NAS_IP_ADDRESS, nas_ip) if ":" not in nas_ip else
               A(95, ipaddress.IPv6Address(nas_ip).packed))  # NAS-IPv6-Address (RFC 3162)
        out += [A.integer(r.NAS_PORT, 0), nas, A.integer(r.ACCT_DELAY_TIME, 0)]
        return out

    def _send(self, s: Session, status: int, now: float, usage: Usage | None = None) -> None:
        m = self.config.mgmt
        acct = m.accounting_lists[s.list_name]
        servers = []
        for srv in m.radius_servers:
            key = m.radius_key_for(srv)
            if key is None:
                self._skip(f"radius-server {srv.address}: no key")
                continue
            servers.append(r.Server(str(srv.address), srv.acct_port, key.encode()))
        if not servers:
            return
        if self.client is None:
            self.client = self._client_factory()
        frozen = Usage(**vars(usage)) if usage is not None else None
        log.info("IPsec accounting %s for session %s (peer %s)",
                 r.STATUS_NAMES[status], s.session_id, s.peer)
        self.client.submit(servers, lambda nas_ip: self.attributes(s, status, now, frozen, nas_ip),
                           status, s.session_id, retransmit=m.radius_retransmit,
                           timeout=float(m.radius_timeout), broadcast=acct.broadcast)
