"""Informational exchanges as the engine handles them: notifies (DPD R-U-THERE/ACK,
INVALID-SPI, INITIAL-CONTACT, RESPONDER-LIFETIME, errors), DELETE, Dead Peer
Detection timing (RFC 3706 §5 with the IOS behaviour of seeds 000/003/004) and
invalid-SPI recovery.  A mixin of ``IkeEngine`` (engine.py), split out for size.
"""

from __future__ import annotations

from . import informational as info
from . import quickmode
from .errors import MalformedMessage
from .events import NegotiationFailed
from .payloads import DeletePayload, Header, NotificationPayload
from .registry import Flags, NotifyType, ProtocolId
from .sa import IsakmpSa

RECOVERY_RATE = 5  # invalid-SPI recovery Phase 1 negotiations started per second, at most


class LivenessMixin:
    """Informational, DPD and invalid-SPI handling for ``IkeEngine``."""

    def send_invalid_spi(
        self, peer: str, spi: int, proto: str, now: float, local: str | None = None
    ) -> bool:
        """Tell ``peer`` an ESP/AH packet arrived with an unknown SPI (RFC 2408 §3.14.1,
        notify INVALID-SPI, protocol ESP/AH, the SPI).  Without an ISAKMP SA, and with
        ``crypto isakmp invalid-spi-recovery``, first start Main Mode to the peer
        (seed 000 L1014-1018) - at most one per peer and RECOVERY_RATE per second.

        Returns True when the notify was sent or queued.
        """
        pid = ProtocolId.IPSEC_AH if proto == "ah" else ProtocolId.IPSEC_ESP
        n = NotificationPayload(NotifyType.INVALID_SPI, pid, spi.to_bytes(4, "big"))
        sa = self._established_to(peer)
        if sa is not None:
            self._send(sa, info.build_protected(sa, [n]))
            return True
        if not getattr(self.config.globals, "invalid_spi_recovery", False):
            return False
        sa = self._negotiating_to(peer)
        if sa is None:
            self._recovery_starts = [t for t in self._recovery_starts if t > now - 1.0]
            if len(self._recovery_starts) >= RECOVERY_RATE:
                return False  # DoS guard (seed 000 L990-992)
            self._recovery_starts.append(now)
            sa = self._start_phase1(peer, local or self.policy.local_towards(peer), now)
            if sa is None:
                return False
        if len(sa.pending_notifies) < 8:
            sa.pending_notifies.append(n)
        return True

    def note_traffic(self, peer: str, now: float, inbound: bool) -> None:
        """ESP/AH traffic with ``peer`` (from the data plane): drives on-demand DPD
        (seed 000 L2001-2014: query the peer only when we send and hear nothing)."""
        sa = self._established_to(peer)
        if sa is None:
            return
        if inbound:
            sa.last_peer_activity = now
            return
        sa.last_outbound = now
        ka = getattr(self.config.globals, "keepalive", None)
        if ka is not None and ka.mode == "on-demand" and sa.dpd_supported:
            if sa.dpd_next is None and sa.dpd_pending is None:
                sa.dpd_next = max(now, sa.last_peer_activity + ka.seconds)

    # -------------------------------------------------------------- Informational

    def _receive_info(self, sa: IsakmpSa, hdr: Header, data: bytes, src, dst, now: float) -> None:
        if hdr.flags & Flags.ENCRYPTION:
            if sa.k is None:
                raise MalformedMessage("encrypted Informational before keys exist", None)
            payloads = info.parse_protected(sa, hdr, data)
            protected = True
        else:
            payloads = info.parse_plain(hdr, data)
            protected = False
        sa.last_peer_activity = now
        for p in payloads:
            if isinstance(p, NotificationPayload):
                self._handle_notify(sa, p, protected, now)
            elif isinstance(p, DeletePayload) and protected:
                self._handle_delete(sa, p, now)

    def _handle_notify(
        self, sa: IsakmpSa, n: NotificationPayload, protected: bool, now: float
    ) -> None:
        t = n.notify_type
        if not protected:
            if not sa.established and t < 16384:  # an error about our negotiation
                name = NotifyType(t).name if t in NotifyType._value2member_map_ else str(t)
                self._fail_phase1(sa, f"peer sent {name}", now)
            return
        if t == NotifyType.R_U_THERE:
            seq = info.dpd_seq(n)
            if seq is not None:
                self._send(sa, info.build_protected(sa, [info.dpd_notify(sa, True, seq)]))
        elif t == NotifyType.R_U_THERE_ACK:
            self._debug(
                sa,
                f" DPD/R_U_THERE_ACK received from peer {sa.peer[0]}, sequence "
                f"0x{info.dpd_seq(n) or 0:X}",
            )
            if info.dpd_seq(n) == sa.dpd_pending:
                sa.dpd_pending = None
                sa.dpd_failures = 0
                self._schedule_dpd(sa, now)
        elif t == NotifyType.RESPONDER_LIFETIME and n.protocol == ProtocolId.ISAKMP:
            secs = quickmode.parse_lifetime_seconds(n.data)
            if secs and sa.established_at is not None and sa.expires_at is not None:
                sa.expires_at = min(sa.expires_at, sa.established_at + secs)
        elif t == NotifyType.INVALID_SPI and len(n.spi) == 4:
            spi = int.from_bytes(n.spi, "big")
            for c in list(self._children):
                if spi in c.pair.outbound_spis and c.pair.peer == sa.peer[0]:
                    # IOS deletes the pair and tells the peer (DELETE of our inbound SPIs).
                    self._delete_child(c, "peer reported INVALID-SPI", now, notify_peer=True)
        elif t == NotifyType.INITIAL_CONTACT:
            deleted = set()
            for other in list(self._sas.values()):
                if other is not sa and other.established and self._same_remote(sa, other):
                    deleted.add(other.cookies)
                    self._delete_isakmp(other, "initial contact", now, notify_peer=False)
            for c in list(self._children):
                if c.pair.peer != sa.peer[0] or c.pair.ike_cookies == sa.cookies:
                    continue
                if sa.nat_detected or c.pair.udp_encap:
                    # A shared (NAT) address: only that endpoint's SAs (RFC 3947 §4 ports).
                    port = c.pair.udp_encap[1] if c.pair.udp_encap else None
                    if c.pair.ike_cookies not in deleted and port != sa.peer[1]:
                        continue
                self._delete_child(c, "initial contact", now, notify_peer=False)
        elif t < 16384:
            name = NotifyType(t).name if t in NotifyType._value2member_map_ else str(t)
            for qm in list(sa.phase2.values()):
                if qm.initiator and qm.state == "sent1":
                    sa.phase2.pop(qm.msgid, None)
                    self._log(
                        6,
                        "IKMP_MODE_FAILURE",
                        f"Processing of Quick mode failed with peer at {sa.peer[0]}",
                    )
                    self._events.append(NegotiationFailed(f"peer sent {name}", sa.peer[0], 2))

    @staticmethod
    def _same_remote(sa: IsakmpSa, other: IsakmpSa) -> bool:
        """Does INITIAL-CONTACT from ``sa`` concern ``other`` (RFC 2407 §4.6.3.3)?

        Without NAT the peer is its address. Behind NAT several peers share the
        public address: the same endpoint (address and port) or the same identity.
        """
        if other.peer[0] != sa.peer[0]:
            return False
        if not (sa.nat_detected or other.nat_detected):
            return True
        return other.peer == sa.peer or bool(other.peer_id and other.peer_id == sa.peer_id)

    def _handle_delete(self, sa: IsakmpSa, d: DeletePayload, now: float) -> None:
        if d.protocol == ProtocolId.ISAKMP:
            for spi in d.spis:
                target = self._sas.get(spi[:8])
                if target is not None and target.rcookie == spi[8:16]:
                    self._delete_isakmp(target, "peer deleted", now, notify_peer=False)
            return
        proto = "ah" if d.protocol == ProtocolId.IPSEC_AH else "esp"
        for spi_b in d.spis:
            spi = int.from_bytes(spi_b, "big")
            for c in list(self._children):
                k = c.pair.keys(proto, "out")
                if k is not None and k.spi == spi and c.pair.peer == sa.peer[0]:
                    self._delete_child(c, "peer deleted", now, notify_peer=False)

    # ------------------------------------------------------------------------ DPD

    def _schedule_dpd(self, sa: IsakmpSa, now: float) -> None:
        ka = getattr(self.config.globals, "keepalive", None)
        if ka is not None and sa.dpd_supported and sa.established_at == now:
            self._debug(sa, "IKE_DPD is enabled, initializing timers")
        if ka is None or not sa.dpd_supported or ka.mode == "on-demand":
            sa.dpd_next = None  # on-demand: armed by outbound traffic (note_traffic)
            return
        sa.dpd_next = now + ka.seconds

    def _dpd_tick(self, sa: IsakmpSa, now: float) -> None:
        """RFC 3706 §5 with the IOS timing of seed 000: R-U-THERE, retransmit every
        ``retry`` seconds, the peer is dead at the 5th expiry without ACK."""
        ka = self.config.globals.keepalive
        if sa.dpd_pending is None:
            if ka.mode == "periodic" and now - sa.last_peer_activity < ka.seconds:
                # seed 003 L47: no R-U-THERE when we heard from the peer within the interval.
                sa.dpd_next = sa.last_peer_activity + ka.seconds
                return
            if ka.mode == "on-demand":
                if sa.last_outbound <= sa.last_peer_activity:
                    sa.dpd_next = None  # the peer answered: wait for new outbound traffic
                    return
                if now - sa.last_peer_activity < ka.seconds:
                    sa.dpd_next = sa.last_peer_activity + ka.seconds
                    return
            sa.dpd_seq = (sa.dpd_seq + 1) & 0xFFFFFFFF or 1
            sa.dpd_pending = sa.dpd_seq
            sa.dpd_failures = 0
        else:
            sa.dpd_failures += 1
            # Seed 003 L290-291, L339-343 (the trace's own words).
            self._debug(sa, "incrementing error counter on sa: PEERS_ALIVE_TIMER")
            if sa.dpd_failures > self.timing.dpd_retransmits:
                self._debug(sa, f"peer {sa.peer[0]} not responding!")
                self._debug(sa, "peer does not do paranoid keepalives.")
                self._debug(
                    sa,
                    f'deleting SA reason "peers alive" state ({"I" if sa.initiator else "R"}) '
                    f"QM_IDLE (peer {sa.peer[0]}) input queue 0",
                )
                self.peers.dpd_dead(sa.peer[0])
                self._delete_isakmp(sa, "peers alive", now, notify_peer=False, children=True)
                return
        self._send(sa, info.build_protected(sa, [info.dpd_notify(sa, False, sa.dpd_pending)]))
        sa.dpd_next = now + ka.retry
