"""ISAKMP SA state and Phase 1 proposal handling (RFC 2408 §4, RFC 2409 §5).

``IsakmpSa`` holds everything one Phase 1 SA knows: cookies, addresses, the
chosen proposal, DH values, nonces, SKEYID*, the CBC IV chain (RFC 2409
Appendix B) and the retransmission state of its exchanges.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from engine.config.model import effective_policies
from engine.crypto import algorithms as alg
from engine.crypto import dh

from . import keys
from .errors import IkeError, MalformedMessage, NoProposalChosen
from .payloads import (
    HEADER_LEN,
    Attribute,
    Header,
    Payload,
    Proposal,
    SaPayload,
    Transform,
    decode_payloads,
    encode_message,
    encode_payloads,
)
from .registry import (
    AuthMethod,
    ExchangeType,
    Flags,
    IkeAttr,
    IkeTransformId,
    LifeType,
    NotifyType,
    ProtocolId,
)

# No Life Duration attribute: IOS assumes its default ISAKMP lifetime (RFC 2409 gives none).
DEFAULT_LIFETIME = 86400


@dataclass(frozen=True)
class Phase1Proposal:
    """One ISAKMP policy in algorithm-table names."""

    cipher: str
    prf: str
    auth: str  # "pre-share" | "rsa-sig" | ...
    group: int
    lifetime: int
    priority: int | None = None
    default: bool = False  # one of the IOS default policies


def policies_from_config(config: Any) -> list[Phase1Proposal]:
    """Policies in priority order: the configured ones, else the IOS defaults
    65507-65514 unless ``no crypto isakmp default policy`` (seed 001 L2411-2476)."""
    default = not config.isakmp_policies
    return [
        Phase1Proposal(
            p.cipher_name, p.prf_name, p.authentication, p.group, p.lifetime, p.priority, default
        )
        for p in effective_policies(config)
    ]


def proposal_transform(p: Phase1Proposal, number: int) -> Transform:
    """RFC 2409 Appendix A attributes for one policy (KEY_IKE transform)."""
    encr, bits = alg.ike_cipher_attrs(p.cipher)
    attrs = [Attribute(IkeAttr.ENCRYPTION, encr)]
    if bits is not None:
        attrs.append(Attribute(IkeAttr.KEY_LENGTH, bits))
    attrs += [
        Attribute(IkeAttr.HASH, alg.IKE_HASH_NUMBERS[p.prf]),
        Attribute(
            IkeAttr.AUTH_METHOD, AuthMethod.PSK if p.auth == "pre-share" else AuthMethod.RSA_SIG
        ),
        Attribute(IkeAttr.GROUP_DESCRIPTION, p.group),
        Attribute(IkeAttr.LIFE_TYPE, LifeType.SECONDS),
        Attribute(IkeAttr.LIFE_DURATION, p.lifetime, tlv=True),
    ]
    return Transform(number, IkeTransformId.KEY_IKE, attrs)


def sa_payload_for(proposals: list[Phase1Proposal]) -> SaPayload:
    """Initiator: one ISAKMP proposal, one transform per policy in priority order."""
    ts = [proposal_transform(p, i + 1) for i, p in enumerate(proposals)]
    return SaPayload([Proposal(1, ProtocolId.ISAKMP, b"", ts)])


def transform_to_proposal(t: Transform) -> Phase1Proposal:
    """Decode one offered KEY_IKE transform.

    Raises:
        alg.UnknownAlgorithm / ValueError: unsupported values.
    """
    a = t.attrs
    for req in (IkeAttr.ENCRYPTION, IkeAttr.HASH, IkeAttr.AUTH_METHOD, IkeAttr.GROUP_DESCRIPTION):
        if not isinstance(a.get(req), int):
            raise ValueError(f"transform {t.number}: attribute {req.name} missing")
    kl = a.get(IkeAttr.KEY_LENGTH)
    cipher = alg.ike_cipher(a[IkeAttr.ENCRYPTION], kl if isinstance(kl, int) else None)
    prf = alg.ike_prf(a[IkeAttr.HASH])
    auth = {AuthMethod.PSK: "pre-share", AuthMethod.RSA_SIG: "rsa-sig"}.get(
        a[IkeAttr.AUTH_METHOD], "other"
    )
    lifetime = DEFAULT_LIFETIME
    ltype = a.get(IkeAttr.LIFE_TYPE)
    if ltype == LifeType.SECONDS and isinstance(a.get(IkeAttr.LIFE_DURATION), int):
        lifetime = a[IkeAttr.LIFE_DURATION]
    return Phase1Proposal(cipher, prf, auth, a[IkeAttr.GROUP_DESCRIPTION], lifetime)


def select_proposal(
    ours: list[Phase1Proposal], offer: SaPayload
) -> tuple[Phase1Proposal, Phase1Proposal, Transform]:
    """IOS responder rule: walk our policies in priority order; the first offered
    transform equal in encryption, hash, auth and group wins.  Lifetimes do not
    have to match: the shorter one is used (current IOS accepts a longer
    offered lifetime; strongSwan offers rekey time plus margin, > 86400 s).

    Returns (our policy, the offered proposal with the agreed lifetime, transform).
    """
    isakmp = [p for p in offer.proposals if p.protocol == ProtocolId.ISAKMP]
    if not isakmp:
        raise NoProposalChosen("SA payload has no ISAKMP proposal")
    offered: list[tuple[Phase1Proposal, Transform]] = []
    for prop in isakmp:
        for t in prop.transforms:
            try:
                offered.append((transform_to_proposal(t), t))
            except (ValueError, KeyError):
                continue
    for ours_p in ours:
        if ours_p.auth != "pre-share":
            continue
        for off, t in offered:
            if (off.cipher, off.prf, off.auth, off.group) == (
                ours_p.cipher,
                ours_p.prf,
                ours_p.auth,
                ours_p.group,
            ):
                agreed = Phase1Proposal(
                    off.cipher,
                    off.prf,
                    off.auth,
                    off.group,
                    min(off.lifetime, ours_p.lifetime),
                    ours_p.priority,
                    ours_p.default,
                )
                return ours_p, agreed, t
    raise NoProposalChosen("no offered ISAKMP transform matches a policy")


# ---------------------------------------------------------------------------- state


@dataclass
class Retransmit:
    """The last datagram of an exchange we may have to send again."""

    data: bytes
    next_at: float | None  # None: only resend when the peer repeats itself
    count: int = 0
    interval: float = 0.0


@dataclass
class IsakmpSa:
    """One Phase 1 SA (ISAKMP SA) and its exchanges."""

    icookie: bytes
    rcookie: bytes
    initiator: bool
    mode: str  # "main" | "aggressive"
    local: tuple[str, int]
    peer: tuple[str, int]
    psk: bytes
    ours: list[Phase1Proposal]
    conn_id: int
    created: float
    state: str = "init"
    proposal: Phase1Proposal | None = None
    group: dh.DhGroup | None = None
    dh_private: int = 0
    gxi: bytes = b""
    gxr: bytes = b""
    ni: bytes = b""
    nr: bytes = b""
    sai_b: bytes = b""
    id_i_b: bytes = b""
    id_r_b: bytes = b""
    gxy: bytes = b""
    k: keys.Phase1Keys | None = None
    iv: bytes = b""
    peer_vids: list[bytes] = field(default_factory=list)
    natt: str | None = None  # "rfc" | "draft" | None (what both sides support)
    nat_local: bool = False
    nat_peer: bool = False
    dpd_supported: bool = False
    established_at: float | None = None
    expires_at: float | None = None
    rekey_at: float | None = None
    retrans: Retransmit | None = None
    last_received: bytes = b""
    last_reply: bytes = b""
    peer_id: str = ""
    deleted: bool = False
    dpd_seq: int = 0
    dpd_pending: int | None = None  # seq of an unanswered R-U-THERE
    dpd_next: float | None = None
    dpd_failures: int = 0
    last_peer_activity: float = 0.0  # last IKE message or ESP/AH packet from the peer
    last_outbound: float = -1.0  # last ESP/AH packet we sent to the peer (note_traffic)
    phase2: dict[int, Any] = field(default_factory=dict)  # message ID -> exchange
    phase2_ivs: dict[int, bytes] = field(default_factory=dict)
    used_msgids: set[int] = field(default_factory=set)
    pending_acquires: list[Any] = field(default_factory=list)
    pending_notifies: list[Any] = field(default_factory=list)  # sent once established
    initial_contact_sent: bool = False
    local_identity: tuple[int, bytes] | None = None  # Phase 1 ID; None: our address
    offered_lifetime: int = 0  # responder: the lifetime the initiator proposed

    # ----------------------------------------------------------------- helpers

    @property
    def cookies(self) -> tuple[bytes, bytes]:
        return self.icookie, self.rcookie

    @property
    def prf(self) -> alg.Prf:
        assert self.proposal is not None
        return alg.prf(self.proposal.prf)

    @property
    def cipher(self) -> alg.Cipher:
        assert self.proposal is not None
        return alg.cipher(self.proposal.cipher)

    @property
    def established(self) -> bool:
        return self.state == "established"

    @property
    def ios_state(self) -> str:
        """State as ``show crypto isakmp sa`` prints it."""
        return {
            "init": "MM_NO_STATE",
            "mm_sent1": "MM_NO_STATE",
            "mm_sent2": "MM_SA_SETUP",
            "mm_sent3": "MM_SA_SETUP",
            "mm_sent4": "MM_KEY_EXCH",
            "mm_sent5": "MM_KEY_EXCH",
            "am_sent1": "AG_INIT_EXCH",
            "am_sent2": "AG_INIT_EXCH",
            "established": "QM_IDLE",
        }.get(self.state, "MM_NO_STATE")

    @property
    def nat_detected(self) -> bool:
        return self.nat_local or self.nat_peer

    def new_message_id(self) -> int:
        while True:
            mid = int.from_bytes(os.urandom(4), "big")
            if mid and mid not in self.used_msgids:
                self.used_msgids.add(mid)
                return mid

    def derive_keys(self) -> None:
        """RFC 2409 §5 SKEYID chain and the Phase 1 IV (Appendix B)."""
        assert self.group is not None
        peer_pub = self.gxr if self.initiator else self.gxi
        try:
            self.gxy = self.group.shared(self.dh_private, peer_pub)
        except dh.DhError as e:
            raise IkeError(f"bad KE payload: {e}", NotifyType.INVALID_KEY_INFORMATION) from None
        prf = self.prf
        skeyid = keys.skeyid_psk(prf, self.psk, self.ni, self.nr)
        self.k = keys.phase1_keys(
            prf, skeyid, self.gxy, self.icookie, self.rcookie, self.cipher.key_len
        )
        self.iv = keys.phase1_iv(prf, self.gxi, self.gxr, self.cipher.block_size)

    # ------------------------------------------------------------------- crypto

    def encrypt_message(
        self, exchange: int, msgid: int, payloads: list[Payload], iv: bytes, flags: int = 0
    ) -> tuple[bytes, bytes]:
        """RFC 2408 §3.1/RFC 2409 App. B: encrypt the payload chain (zero padded to
        the block size).  Returns (datagram, last ciphertext block = next IV)."""
        assert self.k is not None
        body = encode_payloads(payloads)
        bs = self.cipher.block_size
        body += b"\x00" * (-len(body) % bs)
        ct = self.cipher.encrypt(self.k.enc_key, iv, body)
        hdr = Header(
            self.icookie,
            self.rcookie,
            payloads[0].ptype,
            exchange,
            flags | Flags.ENCRYPTION,
            msgid,
            HEADER_LEN + len(ct),
        )
        return hdr.encode() + ct, ct[-bs:]

    def decrypt_message(self, hdr: Header, data: bytes, iv: bytes) -> tuple[list[Payload], bytes]:
        """Decrypt and decode; returns (payloads, last ciphertext block).

        Raises:
            MalformedMessage: not block aligned, or the plaintext does not parse
            (a wrong pre-shared key shows up here, as on IOS).
        """
        if self.k is None:
            raise MalformedMessage("encrypted message before keys exist", None)
        ct = data[HEADER_LEN:]
        bs = self.cipher.block_size
        if not ct or len(ct) % bs:
            raise MalformedMessage(f"encrypted body of {len(ct)} bytes is not a multiple of {bs}")
        plain = self.cipher.decrypt(self.k.enc_key, iv, ct)
        return decode_payloads(hdr.next_payload, plain), ct[-bs:]

    def plain_message(self, exchange: int, payloads: list[Payload], msgid: int = 0) -> bytes:
        hdr = Header(self.icookie, self.rcookie, 0, exchange, 0, msgid)
        return encode_message(hdr, payloads)

    def phase2_iv(self, msgid: int) -> bytes:
        """Current IV of a Quick Mode / Informational exchange (RFC 2409 App. B)."""
        iv = self.phase2_ivs.get(msgid)
        if iv is None:
            iv = keys.phase2_iv(self.prf, self.iv, msgid, self.cipher.block_size)
        return iv

    def sa_body(self, payload: SaPayload) -> bytes:
        return payload.encode_body()


def new_cookie() -> bytes:
    """RFC 2408 §2.5.3: random 8-byte cookie (never zero)."""
    while True:
        c = os.urandom(8)
        if any(c):
            return c


MODE_EXCHANGE = {"main": ExchangeType.IDENTITY_PROTECTION, "aggressive": ExchangeType.AGGRESSIVE}
