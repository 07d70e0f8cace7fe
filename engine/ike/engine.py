"""The sans-I/O IKEv1 engine (aioquic style): no sockets, no clock.

    engine = IkeEngine(config, ["10.0.0.1"])
    engine.acquire(PacketSelector("192.168.1.10", "192.168.2.10"), now)
    for d in engine.datagrams_to_send(now): sock.sendto(d.data, d.dst)
    engine.receive_datagram(data, src, dst, now)
    while (ev := engine.next_event()) is not None: ...
    engine.handle_timer(now) when now >= engine.get_timer()

Every error raised while handling input is an ``IkeError`` caught in
``receive_datagram``: it becomes a notify (when the peer should hear it), a
``Log`` and a counter; input never raises out of the engine.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from engine.crypto.algorithms import UnknownAlgorithm
from engine.crypto.dh import DhError

from . import informational as info
from . import phase1, quickmode
from .errors import IkeError, MalformedMessage
from .events import (
    ChildSaDown,
    ChildSaUp,
    Datagram,
    Debug,
    Event,
    IkeSaDown,
    IkeSaUp,
    IpsecSaPair,
    Log,
    NegotiationFailed,
    PacketSelector,
)
from .liveness import LivenessMixin
from .payloads import DeletePayload, Header, IdPayload, NotificationPayload, Payload
from .peers import PeerTable
from .policy import CryptoPolicy, is_default_set
from .quickmode import QmPolicy, QuickMode
from .registry import (
    IKE_PORT,
    NATT_PORT,
    ExchangeType,
    Flags,
    IdType,
    NotifyType,
    ProtocolId,
)
from .sa import IsakmpSa, Retransmit, new_cookie, policies_from_config

MM, AM = ExchangeType.IDENTITY_PROTECTION, ExchangeType.AGGRESSIVE
QM, INFO = ExchangeType.QUICK_MODE, ExchangeType.INFORMATIONAL
ZERO = b"\x00" * 8
DONE_EXCHANGE_KEEP = 120.0  # seconds a finished Quick Mode is kept for duplicate detection


@dataclass
class EngineTiming:
    """Protocol timers (seconds of protocol time)."""

    retransmit_base: float = 4.0  #: first retransmission after this, doubling (IOS-like)
    retransmit_max: int = 5  #: retransmissions before giving up
    child_soft_initiator: float = 0.9  #: rekey at this fraction of the lifetime
    child_soft_responder: float = 0.95
    dpd_retransmits: int = 4  #: seed 000: 1 R-U-THERE + 4 retransmits, dead at the 5th expiry


@dataclass
class ChildRecord:
    pair: IpsecSaPair
    soft_at: float
    hard_at: float
    policy: QmPolicy | None
    rekeyed: bool = False


@dataclass
class Counters:
    received: int = 0
    sent: int = 0
    malformed: int = 0
    auth_failed: int = 0
    retransmits: int = 0
    dropped: int = 0
    internal_errors: int = 0  #: unexpected exceptions while handling input (bugs)


class IkeEngine(LivenessMixin):
    """IKEv1 for one node: every ISAKMP SA and IPsec SA pair it negotiates."""

    def __init__(
        self, config: Any, local_addresses: list[str], *, timing: EngineTiming | None = None
    ) -> None:
        self.config = config
        self.local_addresses = [str(a) for a in local_addresses]
        self.timing = timing or EngineTiming()
        self.counters = Counters()
        self._sas: dict[bytes, IsakmpSa] = {}  # by initiator cookie
        self._children: list[ChildRecord] = []
        self._out: list[Datagram] = []
        self._events: deque[Event] = deque()
        self._spis: set[int] = set()
        self._conn_id = 1000
        self._child_conn = 2000
        self._cur: IsakmpSa | None = None
        self.peers = PeerTable()  # crypto map peer lists: failover, default peer
        self.debug = False  #: emit ``Debug`` events (IOS ``debug crypto isakmp``)
        self._recovery_starts: list[float] = []  # invalid-SPI recovery Phase 1 starts
        self.policy = CryptoPolicy(
            config, self.local_addresses[0] if self.local_addresses else "0.0.0.0",
            self.local_addresses,
        )

    # ================================================================== public API

    @property
    def nat_t(self) -> bool:
        return bool(getattr(self.config.globals, "nat_transparency", True))

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        out, self._out = self._out, []
        self.counters.sent += len(out)
        return out

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        times: list[float] = []
        for sa in self._sas.values():
            if sa.retrans and sa.retrans.next_at is not None:
                times.append(sa.retrans.next_at)
            for t in (sa.expires_at, sa.dpd_next):
                if t is not None:
                    times.append(t)
            for qm in sa.phase2.values():
                if qm.retrans and qm.retrans.next_at is not None:
                    times.append(qm.retrans.next_at)
        for c in self._children:
            times.append(c.hard_at)
            if not c.rekeyed:
                times.append(c.soft_at)
        return min(times) if times else None

    def receive_datagram(
        self, data: bytes, src: tuple[str, int], dst: tuple[str, int], now: float
    ) -> None:
        """Handle one UDP payload (port 4500: non-ESP marker already stripped)."""
        self.counters.received += 1
        try:
            self._receive(bytes(data), (str(src[0]), int(src[1])), (str(dst[0]), int(dst[1])), now)
        except IkeError as e:
            self._input_error(e, src, now)
        except Exception as e:  # noqa: BLE001 - nothing from the wire may kill the engine
            self.counters.internal_errors += 1
            self._input_error(MalformedMessage(f"{type(e).__name__}: {e}", None), src, now)

    def acquire(self, selector: PacketSelector, now: float) -> bool:
        """Traffic hit a crypto map entry with no SA: negotiate one.

        Returns False when no crypto map entry protects the packet.
        """
        found = self.policy.lookup_entry(selector)
        if found is None:
            return False
        intf, cmap, entry, ace = found
        peer = self.peers.choose(cmap.name, entry)
        if peer is None:
            return False
        local = self.policy.local_for(intf, cmap, peer)
        policy = self.policy.entry_policy(cmap, entry, ace, local, peer)
        rekey_of: tuple[int, ...] = ()
        for c in self._children:
            if (
                c.pair.peer != peer
                or c.pair.local_ts != policy.local_ts
                or c.pair.remote_ts != policy.remote_ts
                or now >= c.hard_at
            ):
                continue
            if selector.rekey_spi is not None and selector.rekey_spi in c.pair.inbound_spis:
                if c.rekeyed:
                    return True  # a rekey of this pair is already under way or done
                c.rekeyed = True
                rekey_of = c.pair.inbound_spis
            elif selector.rekey_spi is None and not c.rekeyed:
                return True  # a live pair already covers this flow
        self._start_child(peer, local, policy, now, rekey_of)
        return True

    def clear_isakmp(self, now: float = 0.0) -> None:
        """``clear crypto isakmp``: delete every ISAKMP SA (DELETE sent when established)."""
        for sa in list(self._sas.values()):
            self._delete_isakmp(sa, "cleared", now, notify_peer=True)

    def clear_sa(self, now: float = 0.0) -> None:
        """``clear crypto sa``: delete every IPsec SA pair (DELETEs sent)."""
        for c in list(self._children):
            self._delete_child(c, "cleared", now, notify_peer=True)

    def delete_child(self, spi: int, now: float = 0.0) -> bool:
        """Delete the pair with this inbound or outbound SPI (DELETE sent)."""
        for c in list(self._children):
            if spi in c.pair.inbound_spis or spi in c.pair.outbound_spis:
                self._delete_child(c, "deleted", now, notify_peer=True)
                return True
        return False

    def idle_expired(self, spi: int, now: float, default: bool = False) -> bool:
        """The data plane's idle timer fired for the pair with this SPI (seed 000
        L3680-3683): delete it with DELETE; when it was the last pair with that peer,
        delete the peer's ISAKMP SA too (with DELETE).  ``default``: the entry has
        ``set security-association idletime N default`` (back to the default peer)."""
        for c in list(self._children):
            if spi in c.pair.inbound_spis or spi in c.pair.outbound_spis:
                pair = c.pair
                self._delete_child(c, "idle timer", now, notify_peer=True)
                if not any(o.pair.peer == pair.peer for o in self._children):
                    for sa in list(self._sas.values()):
                        if sa.peer[0] == pair.peer:
                            self._delete_isakmp(sa, "idle timer", now, notify_peer=True)
                self.peers.idle_expired(pair.peer, pair.crypto_map, pair.crypto_map_seq, default)
                return True
        return False

    def isakmp_sas(self) -> list[IsakmpSa]:
        return list(self._sas.values())

    def peer_moved(self, old: tuple[str, int], new: tuple[str, int]) -> int:
        """The data plane saw authenticated ESP-in-UDP from ``old`` arrive from ``new``
        (NAT rebinding): IKE traffic of that peer (DPD, rekeys, DELETEs) follows it,
        as an IKE message from the new mapping would (RFC 3947 §4, RFC 3948 §2.3).
        Returns the number of ISAKMP SAs moved."""
        moved = 0
        for sa in self._sas.values():
            if tuple(sa.peer) == tuple(old) and not sa.deleted:
                sa.peer = (new[0], new[1])
                moved += 1
        return moved

    def child_sas(self) -> list[IpsecSaPair]:
        return [c.pair for c in self._children]

    def handle_timer(self, now: float) -> None:
        for sa in list(self._sas.values()):
            self._sa_timers(sa, now)
        for c in list(self._children):
            if c not in self._children:
                continue
            if now >= c.hard_at:
                self._delete_child(c, "lifetime expired", now, notify_peer=True)
            elif not c.rekeyed and now >= c.soft_at:
                c.rekeyed = True
                if c.policy is not None:
                    self._start_child(c.pair.peer, c.pair.local, c.policy, now, c.pair.inbound_spis)

    # ================================================================ negotiation

    def _established_to(self, peer: str) -> IsakmpSa | None:
        best = None
        for sa in self._sas.values():
            if sa.peer[0] == peer and sa.established and not sa.deleted:
                if best is None or (sa.established_at or 0) > (best.established_at or 0):
                    best = sa
        return best

    def _start_child(
        self, peer: str, local: str, policy: QmPolicy, now: float, rekey_of: tuple[int, ...]
    ) -> None:
        sa = self._established_to(peer)
        if sa is not None:
            self._start_qm(sa, policy, now, rekey_of)
            return
        sa = self._negotiating_to(peer)
        if sa is not None:  # a Phase 1 already under way to this peer
            if all(p[0] != policy for p in sa.pending_acquires):
                sa.pending_acquires.append((policy, rekey_of))
            return
        sa = self._start_phase1(peer, local, now)
        if sa is not None:
            sa.pending_acquires.append((policy, rekey_of))

    def _negotiating_to(self, peer: str) -> IsakmpSa | None:
        for sa in self._sas.values():
            if sa.peer[0] == peer and not sa.established and not sa.deleted and sa.initiator:
                return sa
        return None

    def _start_phase1(self, peer: str, local: str, now: float) -> IsakmpSa | None:
        """Main Mode (or Aggressive Mode when ``crypto isakmp peer`` says so) to ``peer``."""
        psk = self.policy.psk_for(peer)
        if psk is None:
            self._debug_text(f"ISAKMP:(0):No pre-shared key with {peer}!")  # IOS: debug only
            self._events.append(NegotiationFailed("no pre-shared key", peer, 1))
            return None
        cp = self.config.find_peer(peer)
        mode = "aggressive" if cp is not None and cp.aggressive_mode else "main"
        self._conn_id += 1
        sa = IsakmpSa(
            new_cookie(),
            ZERO,
            True,
            mode,
            (local, IKE_PORT),
            (peer, IKE_PORT),
            psk,
            policies_from_config(self.config),
            self._conn_id,
            now,
        )
        # RFC 2407 §4.6.3.3: INITIAL-CONTACT only when we hold no SA at all with the peer
        # (an ISAKMP SA that merely expired leaves IPsec SAs the peer must keep).
        sa.local_identity = self._identity(peer, mode)
        sa.initial_contact_sent = not any(
            s.peer[0] == peer for s in self._sas.values()
        ) and not any(c.pair.peer == peer for c in self._children)
        self._sas[sa.icookie] = sa
        try:
            data = (
                phase1.build_am1(sa, self.nat_t)
                if mode == "aggressive"
                else phase1.build_mm1(sa, self.nat_t)
            )
        except (IkeError, UnknownAlgorithm, DhError) as e:
            del self._sas[sa.icookie]
            self._events.append(NegotiationFailed(getattr(e, "reason", str(e)), peer, 1))
            return None
        self._send(sa, data, expect_reply=True, now=now)
        return sa

    def _start_qm(
        self, sa: IsakmpSa, policy: QmPolicy, now: float, rekey_of: tuple[int, ...]
    ) -> None:
        for qm in sa.phase2.values():
            if qm.initiator and qm.state == "sent1" and qm.policy == policy:
                return  # already negotiating
        qm = QuickMode(sa.new_message_id(), True, policy, rekey_of=rekey_of, started=now)
        try:
            data = quickmode.build_qm1(sa, qm, self._spis, self.nat_t)
        except (IkeError, UnknownAlgorithm, DhError) as e:
            self._events.append(NegotiationFailed(getattr(e, "reason", str(e)), sa.peer[0], 2))
            return
        sa.phase2[qm.msgid] = qm
        qm.retrans = self._retrans(data, now)
        self._queue(sa, data)

    # ==================================================================== receive

    def _receive(self, data: bytes, src, dst, now: float) -> None:
        self._cur = None
        hdr = Header.decode(data)
        sa = self._sas.get(hdr.icookie)
        self._cur = sa
        if (
            hdr.exchange == INFO
            and sa is not None
            and sa.initiator
            and sa.rcookie == ZERO
            and not hdr.flags & Flags.ENCRYPTION
        ):
            # An error notify answering our first message (responder cookie unknown yet).
            for p in info.parse_plain(hdr, data):
                if isinstance(p, NotificationPayload):
                    self._handle_notify(sa, p, False, now)
            return
        if hdr.exchange in (MM, AM):
            self._receive_phase1(sa, hdr, data, src, dst, now)
        elif hdr.exchange == QM:
            self._receive_qm(self._known(sa, hdr), hdr, data, src, dst, now)
        elif hdr.exchange == INFO:
            self._receive_info(self._known(sa, hdr), hdr, data, src, dst, now)
        else:
            raise IkeError(
                f"exchange type {hdr.exchange} not supported", NotifyType.UNSUPPORTED_EXCHANGE_TYPE
            )

    @staticmethod
    def _known(sa: IsakmpSa | None, hdr: Header) -> IsakmpSa:
        if sa is None or sa.rcookie != hdr.rcookie:
            raise IkeError(
                f"no ISAKMP SA for cookies {hdr.icookie.hex()}/{hdr.rcookie.hex()}", None
            )
        return sa

    def _decode(self, sa: IsakmpSa, hdr: Header, data: bytes) -> tuple[list[Payload], bytes]:
        if hdr.flags & Flags.ENCRYPTION:
            return sa.decrypt_message(hdr, data, sa.iv)
        return info.parse_plain(hdr, data), sa.iv

    def _receive_phase1(
        self, sa: IsakmpSa | None, hdr: Header, data: bytes, src, dst, now: float
    ) -> None:
        if sa is None:
            if hdr.rcookie != ZERO:
                raise IkeError("Phase 1 message for an unknown SA", None)
            sa = self._new_responder(hdr, data, src, dst, now)
            if sa is None:
                return
            self._cur = sa
        elif data == sa.last_received:
            if sa.last_reply and sa.retrans is None:  # the peer lost our final answer
                self.counters.retransmits += 1
                self._queue(sa, sa.last_reply)
            return
        elif hdr.rcookie == ZERO and not sa.initiator and sa.state in ("mm_sent2", "am_sent2"):
            # A different first message under the same initiator cookie: the peer
            # restarted (or it is a forgery); start over like a new negotiation.
            self._sas.pop(sa.icookie, None)
            sa = self._new_responder(hdr, data, src, dst, now)
            if sa is None:
                return
            self._cur = sa
        # Transactional: a message that fails leaves the SA as it was, so the genuine
        # message may still arrive (a responder's first message fails the SA instead).
        saved = {k: (list(v) if isinstance(v, list) else v) for k, v in vars(sa).items()}
        try:
            reply, payloads = self._phase1_apply(sa, hdr, data, src, dst, now)
        except IkeError:
            vars(sa).clear()
            vars(sa).update(saved)
            raise
        sa.last_received = data
        sa.last_peer_activity = now
        if reply is not None:
            sa.last_reply = reply
            self._send(sa, reply, expect_reply=not sa.established, now=now)
        if reply is None or sa.established:
            sa.retrans = None
        if sa.established and sa.established_at is None:
            self._phase1_done(sa, now)
            for n in payloads:
                if (
                    isinstance(n, NotificationPayload)
                    and n.notify_type == NotifyType.INITIAL_CONTACT
                ):
                    self._handle_notify(sa, n, True, now)

    def _phase1_apply(self, sa: IsakmpSa, hdr: Header, data: bytes, src, dst, now: float):
        if sa.initiator and sa.rcookie == ZERO and hdr.rcookie != ZERO:
            sa.rcookie = hdr.rcookie
        if sa.state != "init" and hdr.rcookie != sa.rcookie:
            raise IkeError("Phase 1 message with wrong responder cookie", None)
        if (hdr.exchange == AM) != (sa.mode == "aggressive"):
            raise IkeError(
                "exchange type changed mid-negotiation", NotifyType.INVALID_EXCHANGE_TYPE
            )
        payloads, last_block = self._decode(sa, hdr, data)
        if hdr.flags & Flags.ENCRYPTION:
            sa.iv = last_block  # Appendix B: CBC state chains across Phase 1 messages
        sa.peer, sa.local = src, dst  # RFC 3947 §4: answer where the peer now sends from
        return self._phase1_step(sa, hdr, payloads, now), payloads

    def _phase1_step(
        self, sa: IsakmpSa, hdr: Header, payloads: list[Payload], now: float
    ) -> bytes | None:
        st = sa.state
        if st == "init" and sa.mode == "main":
            return phase1.handle_mm1(sa, payloads, self.nat_t)
        if st == "init":
            return phase1.handle_am1(sa, payloads, self.nat_t)
        if st == "mm_sent1":
            return phase1.handle_mm2(sa, payloads, self.nat_t)
        if st == "mm_sent2":
            return phase1.handle_mm3(sa, payloads)
        if st == "mm_sent3":
            phase1.handle_mm4(sa, payloads)
            self._float(sa)
            return phase1.build_mm5(sa)
        if st == "mm_sent4":
            if not hdr.flags & Flags.ENCRYPTION:
                raise MalformedMessage("Main Mode message 5 not encrypted")
            return phase1.handle_mm5(sa, payloads)
        if st == "mm_sent5":
            if not hdr.flags & Flags.ENCRYPTION:
                raise MalformedMessage("Main Mode message 6 not encrypted")
            phase1.handle_mm6(sa, payloads)
            return None
        if st == "am_sent1":
            phase1.handle_am2(sa, payloads, self.nat_t)
            reply_natd_first = phase1.build_am3(sa)
            self._float(sa)
            return reply_natd_first
        if st == "am_sent2":
            phase1.handle_am3(sa, bool(hdr.flags & Flags.ENCRYPTION), payloads)
            return None
        raise IkeError(f"unexpected Phase 1 message in state {st}", None)

    def _float(self, sa: IsakmpSa) -> None:
        """RFC 3947 §4: after NAT is detected the initiator moves IKE to port 4500."""
        if sa.natt is not None and sa.nat_detected and sa.peer[1] == IKE_PORT:
            sa.local = (sa.local[0], NATT_PORT)
            sa.peer = (sa.peer[0], NATT_PORT)

    def _new_responder(self, hdr: Header, data: bytes, src, dst, now: float) -> IsakmpSa | None:
        if hdr.exchange == AM and getattr(
            self.config.globals, "isakmp_aggressive_mode_disabled", False
        ):
            raise IkeError("aggressive mode disabled", NotifyType.INVALID_EXCHANGE_TYPE)
        psk = self.policy.psk_for(src[0])
        if psk is None and hdr.exchange == AM:
            psk = self._psk_by_identity(hdr, data)
        if psk is None:
            self._debug_text(f"ISAKMP:(0):No pre-shared key with {src[0]}!")
            self._send_plain_notify(
                hdr.icookie, new_cookie(), NotifyType.NO_PROPOSAL_CHOSEN, src, dst
            )
            self._events.append(NegotiationFailed("no pre-shared key", src[0], 1))
            return None
        self._conn_id += 1
        sa = IsakmpSa(
            hdr.icookie,
            new_cookie(),
            False,
            "aggressive" if hdr.exchange == AM else "main",
            dst,
            src,
            psk,
            policies_from_config(self.config),
            self._conn_id,
            now,
        )
        sa.local_identity = self._identity(src[0], "main")  # client-endpoint: initiators only
        self._sas[sa.icookie] = sa
        return sa

    def _psk_by_identity(self, hdr: Header, data: bytes) -> bytes | None:
        """Aggressive Mode carries the initiator's ID in message 1: a key configured with
        ``crypto isakmp key K hostname H`` matches an FQDN/user-FQDN identity."""
        for p in info.parse_plain(hdr, data):
            if isinstance(p, IdPayload) and p.id_type in (IdType.FQDN, IdType.USER_FQDN):
                k = self.config.find_key(p.data.decode("utf-8", "replace"))
                return k.key.encode() if k is not None else None
        return None

    def _identity(self, peer: str, mode: str) -> tuple[int, bytes] | None:
        """``set aggressive-mode client-endpoint`` (AM), else ``crypto isakmp identity
        hostname`` (FQDN hostname.domain), else None = the address (IOS default)."""
        cp = self.config.find_peer(peer)
        if mode == "aggressive" and cp is not None and cp.aggressive_client_endpoint:
            return phase1.identity_for(cp.aggressive_client_endpoint)
        g = self.config.globals
        if getattr(g, "isakmp_identity", "address") == "hostname":
            name = g.hostname + (f".{g.domain_name}" if g.domain_name else "")
            return IdType.FQDN, name.encode()
        return None

    def _phase1_done(self, sa: IsakmpSa, now: float) -> None:
        assert sa.proposal is not None
        sa.established_at = now
        sa.expires_at = now + sa.proposal.lifetime
        if sa.proposal.default:
            self._log(6, "IKMP_POLICY_DEFAULT", "Using ISAKMP Default policies")
        self._events.append(
            IkeSaUp(
                sa.peer,
                sa.local,
                sa.icookie,
                sa.rcookie,
                sa.mode,
                sa.initiator,
                sa.proposal.cipher,
                sa.proposal.prf,
                "psk",
                sa.proposal.group,
                sa.proposal.lifetime,
                sa.nat_detected,
                sa.conn_id,
                sa.peer_id,
                now,
            )
        )
        self._log(
            5,
            "SESSION_STATUS",
            f"Crypto tunnel is UP. Peer {sa.peer[0]}:{sa.peer[1]} Id: {sa.peer_id}",
        )
        if not sa.initiator and sa.offered_lifetime > sa.proposal.lifetime:
            # IOS tells the initiator its shorter ISAKMP lifetime (RFC 2407 §4.6.3.1).
            n = NotificationPayload(
                NotifyType.RESPONDER_LIFETIME,
                ProtocolId.ISAKMP,
                sa.icookie + sa.rcookie,
                quickmode.lifetime_attrs(sa.proposal.lifetime),
            )
            self._send(sa, info.build_protected(sa, [n]))
        self._schedule_dpd(sa, now)
        notes, sa.pending_notifies = sa.pending_notifies, []
        for n in notes:
            self._send(sa, info.build_protected(sa, [n]))
        pending, sa.pending_acquires = sa.pending_acquires, []
        for policy, rekey_of in pending:
            self._start_qm(sa, policy, now, rekey_of)

    # ---------------------------------------------------------------- Quick Mode

    def _receive_qm(self, sa: IsakmpSa, hdr: Header, data: bytes, src, dst, now: float) -> None:
        if not sa.established:
            raise IkeError("Quick Mode before Phase 1 completed", None)
        if not hdr.flags & Flags.ENCRYPTION:
            raise MalformedMessage("Quick Mode message not encrypted")
        qm = sa.phase2.get(hdr.message_id)
        if qm is not None and data == qm.last_received:
            if qm.last_reply and qm.retrans is None:
                self.counters.retransmits += 1
                self._queue(sa, qm.last_reply)
            return
        new = qm is None
        if new:
            if hdr.message_id in sa.used_msgids or hdr.message_id == 0:
                raise IkeError("Quick Mode reuses a message ID", NotifyType.INVALID_MESSAGE_ID)
            qm = QuickMode(hdr.message_id, False, None, started=now)
        iv = sa.phase2_iv(qm.msgid)
        payloads, last = sa.decrypt_message(hdr, data, iv)
        sa.phase2_ivs[qm.msgid] = last
        try:
            reply = self._qm_step(sa, qm, payloads, now)
        except IkeError:
            if new:
                sa.phase2_ivs.pop(qm.msgid, None)
            else:
                sa.phase2_ivs[qm.msgid] = iv
            raise
        if new:
            sa.used_msgids.add(qm.msgid)
            sa.phase2[qm.msgid] = qm
        qm.last_received = data
        sa.last_peer_activity = now
        if reply is not None:
            qm.last_reply = reply
            qm.retrans = self._retrans(reply, now) if not qm.initiator else None
            self._queue(sa, reply)
        else:
            qm.retrans = None
        if qm.state == "done":
            self._child_up(sa, qm, now)

    def _qm_step(self, sa: IsakmpSa, qm: QuickMode, payloads, now: float) -> bytes | None:
        if qm.state == "init":
            return quickmode.handle_qm1(
                sa,
                qm,
                payloads,
                lambda rem, loc: self.policy.responder_policy(sa, rem, loc),
                self._spis,
                self.nat_t,
            )
        if qm.state == "sent1":
            return quickmode.handle_qm2(sa, qm, payloads)
        if qm.state == "sent2":
            quickmode.handle_qm3(sa, qm, payloads)
            return None
        raise IkeError(f"unexpected Quick Mode message in state {qm.state}", None)

    def _child_up(self, sa: IsakmpSa, qm: QuickMode, now: float) -> None:
        self._child_conn += 1
        pair = quickmode.make_pair(sa, qm, now, self._child_conn)
        frac = (
            self.timing.child_soft_initiator if qm.initiator else (self.timing.child_soft_responder)
        )
        rec = ChildRecord(
            pair,
            now + pair.lifetime_seconds * frac,
            now + pair.lifetime_seconds,
            qm.policy if qm.policy is not None and qm.policy.initiate else None,
        )
        for old in self._children:  # superseded pairs are not rekeyed again
            if (
                old.pair.peer == pair.peer
                and old.pair.local_ts == pair.local_ts
                and old.pair.remote_ts == pair.remote_ts
            ):
                old.rekeyed = True
        self._children.append(rec)
        self.peers.established(pair.peer)
        if qm.chosen is not None and is_default_set(qm.chosen.name):
            self._log(5, "IPSEC_DEFAULT_TRANSFORM", "Using Default IPsec transform-set")
        self._events.append(ChildSaUp(pair, qm.rekey_of))
        # Forget the exchange after a while; keep it for duplicate detection meanwhile.
        qm.state = "done"

    # ====================================================================== errors

    def _input_error(self, e: IkeError, src, now: float) -> None:
        if isinstance(e, MalformedMessage) or e.notify in (
            NotifyType.INVALID_HASH_INFORMATION,
            NotifyType.PAYLOAD_MALFORMED,
        ):
            self.counters.malformed += 1
            self._log(
                4,
                "IKMP_BAD_MESSAGE",
                f"IKE message from {src[0]} failed its sanity check or is malformed",
            )
            return
        self.counters.dropped += 1
        if e.notify is None:
            return
        sa = getattr(self, "_cur", None)
        if sa is None or self._sas.get(sa.icookie) is not sa:
            return
        if not sa.established and sa.state != "init":
            # An unauthenticated message that does not fit the ongoing negotiation:
            # drop it and keep waiting for the genuine one (retransmission timers run).
            self._log(
                4,
                "IKMP_BAD_MESSAGE",
                f"IKE message from {src[0]} failed its sanity check or is malformed",
            )
            return
        mode = {"main": "Main", "aggressive": "Aggressive"}[sa.mode]
        if sa.established:
            self._send(
                sa,
                info.build_protected(
                    sa, [NotificationPayload(e.notify, ProtocolId.ISAKMP, sa.icookie + sa.rcookie)]
                ),
            )
            self._log(
                6, "IKMP_MODE_FAILURE", f"Processing of Quick mode failed with peer at {src[0]}"
            )
            self._events.append(NegotiationFailed(e.reason, src[0], 2))
        else:
            self._send_plain_notify(sa.icookie, sa.rcookie, e.notify, sa.peer, sa.local)
            self._log(
                6, "IKMP_MODE_FAILURE", f"Processing of {mode} mode failed with peer at {src[0]}"
            )
            self._events.append(NegotiationFailed(e.reason, src[0], 1))
            self._sas.pop(sa.icookie, None)

    def _fail_phase1(self, sa: IsakmpSa, reason: str, now: float) -> None:
        if sa.initiator:
            self.peers.attempt_failed(sa.peer[0])  # the next acquire tries the next peer
        self._sas.pop(sa.icookie, None)
        sa.deleted = True
        mode = {"main": "Main", "aggressive": "Aggressive"}[sa.mode]
        self._log(
            6, "IKMP_MODE_FAILURE", f"Processing of {mode} mode failed with peer at {sa.peer[0]}"
        )
        self._events.append(NegotiationFailed(reason, sa.peer[0], 1))

    # ====================================================================== timers

    def _retrans(self, data: bytes, now: float) -> Retransmit:
        base = self.timing.retransmit_base
        return Retransmit(data, now + base, 0, base)

    def _sa_timers(self, sa: IsakmpSa, now: float) -> None:
        r = sa.retrans
        if r is not None and r.next_at is not None and now >= r.next_at:
            if r.count >= self.timing.retransmit_max:
                sa.retrans = None
                if not sa.established:
                    self._fail_phase1(sa, "retransmissions exhausted", now)
                    return
            else:
                r.count += 1
                r.interval *= 2
                r.next_at = now + r.interval
                self.counters.retransmits += 1
                self._queue(sa, r.data)
        for qm in list(sa.phase2.values()):
            if qm.state == "done" and now - qm.started > DONE_EXCHANGE_KEEP:
                del sa.phase2[qm.msgid]  # kept a while only to answer retransmissions
                sa.phase2_ivs.pop(qm.msgid, None)
                continue
            r = qm.retrans
            if r is None or r.next_at is None or now < r.next_at:
                continue
            if r.count >= self.timing.retransmit_max:
                qm.retrans = None
                sa.phase2.pop(qm.msgid, None)
                self._log(
                    6,
                    "IKMP_MODE_FAILURE",
                    f"Processing of Quick mode failed with peer at {sa.peer[0]}",
                )
                self._events.append(NegotiationFailed("Quick Mode timed out", sa.peer[0], 2))
            else:
                r.count += 1
                r.interval *= 2
                r.next_at = now + r.interval
                self.counters.retransmits += 1
                self._queue(sa, r.data)
        if sa.expires_at is not None and now >= sa.expires_at:
            self._delete_isakmp(sa, "lifetime expired", now, notify_peer=True)
            return
        if sa.dpd_next is not None and now >= sa.dpd_next:
            self._dpd_tick(sa, now)

    # ===================================================================== delete

    def _delete_isakmp(
        self, sa: IsakmpSa, reason: str, now: float, notify_peer: bool, children: bool = False
    ) -> None:
        if self._sas.get(sa.icookie) is not sa:
            return
        if notify_peer and sa.established:
            d = DeletePayload(ProtocolId.ISAKMP, [sa.icookie + sa.rcookie], 16)
            self._send(sa, info.build_protected(sa, [d]))
        del self._sas[sa.icookie]
        sa.deleted = True
        if children:
            for c in list(self._children):
                if c.pair.peer == sa.peer[0]:
                    self._delete_child(c, reason, now, notify_peer=False)
        if sa.established_at is not None:
            self._events.append(
                IkeSaDown(sa.peer, sa.local, sa.icookie, sa.rcookie, reason, sa.conn_id)
            )
            if not any(s.peer[0] == sa.peer[0] and s.established for s in self._sas.values()):
                self._log(
                    5,
                    "SESSION_STATUS",
                    f"Crypto tunnel is DOWN. Peer {sa.peer[0]}:{sa.peer[1]} Id: {sa.peer_id}",
                )
        else:
            self._events.append(NegotiationFailed(reason, sa.peer[0], 1))

    def _delete_child(self, c: ChildRecord, reason: str, now: float, notify_peer: bool) -> None:
        if c not in self._children:
            return
        self._children.remove(c)
        pair = c.pair
        if notify_peer:
            sa = self._established_to(pair.peer)
            if sa is not None:
                dels = [
                    DeletePayload(
                        ProtocolId.IPSEC_AH if k.proto == "ah" else ProtocolId.IPSEC_ESP,
                        [k.spi.to_bytes(4, "big")],
                    )
                    for k in pair.inbound
                ]
                self._send(sa, info.build_protected(sa, dels))
        for spi in pair.inbound_spis:
            self._spis.discard(spi)
        self._events.append(
            ChildSaDown(
                pair.peer,
                pair.inbound_spis,
                pair.outbound_spis,
                reason,
                "+".join(k.proto for k in pair.inbound),
            )
        )

    # ====================================================================== output

    def _queue(self, sa: IsakmpSa, data: bytes) -> None:
        self._out.append(Datagram(data, sa.local, sa.peer))

    def _send(
        self, sa: IsakmpSa, data: bytes, expect_reply: bool = False, now: float = 0.0
    ) -> None:
        self._queue(sa, data)
        if expect_reply:
            sa.retrans = self._retrans(data, now)

    def _send_plain_notify(self, icookie: bytes, rcookie: bytes, t: int, peer, local) -> None:
        self._out.append(Datagram(info.build_plain_notify(icookie, rcookie, t), local, peer))

    def _debug(self, sa: IsakmpSa, text: str) -> None:
        self._debug_text(f"ISAKMP:({sa.conn_id}):{text}")

    def _debug_text(self, text: str) -> None:
        if self.debug:
            self._events.append(Debug(text))

    def _log(self, severity: int, mnemonic: str, text: str) -> None:
        self._events.append(Log("CRYPTO", severity, mnemonic, text))
