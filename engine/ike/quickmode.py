"""Quick Mode (RFC 2409 §5.5): IPsec SA negotiation under an ISAKMP SA.

    Initiator                        Responder
    HDR*, HASH(1), SA, Ni [, KE] [, IDci, IDcr] -->
                 <-- HDR*, HASH(2), SA, Nr [, KE] [, IDci, IDcr] [, N(RESPONDER-LIFETIME)]
    HDR*, HASH(3) -->

Proposals: one per transform set in configuration order (IOS); an AH+ESP
set is two proposals with the same number (RFC 2408 §4.2, AND-ed).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import struct
from dataclasses import dataclass, field
from typing import Any

from engine.crypto import algorithms as alg
from engine.crypto import dh

from . import keys, natt
from .errors import AuthenticationFailed, IkeError, MalformedMessage, NoProposalChosen
from .events import IpsecSaPair, SaKeys, TrafficSelector
from .payloads import (
    Attribute,
    HashPayload,
    IdPayload,
    KePayload,
    NoncePayload,
    NotificationPayload,
    Payload,
    Proposal,
    SaPayload,
    Transform,
    encode_payloads,
    find,
    first,
)
from .registry import (
    ExchangeType,
    IpsecAttr,
    LifeType,
    NotifyType,
    ProtocolId,
)
from .sa import IsakmpSa

QM = ExchangeType.QUICK_MODE
NONCE_LEN = 20
RFC2407_DEFAULT_LIFETIME = 28800  # RFC 2407 §4.5: seconds when no lifetime is given


@dataclass(frozen=True)
class Offer:
    """One transform set as a Quick Mode offer (algorithm-table names)."""

    name: str
    mode: str  # tunnel | transport
    esp_encr: str | None
    esp_integ: str | None
    ah_integ: str | None

    @property
    def protos(self) -> list[str]:
        return (["ah"] if self.ah_integ else []) + (
            ["esp"] if self.esp_encr or self.esp_integ else []
        )


@dataclass
class QmPolicy:
    """What the crypto map entry asks for."""

    offers: list[Offer]
    pfs_group: int | None
    lifetime_seconds: int
    lifetime_kilobytes: int
    local_ts: TrafficSelector
    remote_ts: TrafficSelector
    crypto_map: str | None = None
    seq: int | None = None
    initiate: bool = True  # False for dynamic crypto map entries (never initiate, IOS)


@dataclass
class QuickMode:
    """One Quick Mode exchange (keyed by message ID in its ISAKMP SA)."""

    msgid: int
    initiator: bool
    policy: QmPolicy | None
    spis: dict[str, bytes] = field(default_factory=dict)  # our inbound SPIs by proto
    peer_spis: dict[str, bytes] = field(default_factory=dict)
    ni: bytes = b""
    nr: bytes = b""
    dh_group: dh.DhGroup | None = None
    dh_private: int = 0
    ke_i: bytes = b""
    ke_r: bytes = b""
    chosen: Offer | None = None
    lifetime_seconds: int = 0
    lifetime_kilobytes: int = 0
    udp: bool = False
    state: str = "init"
    local_ts: TrafficSelector | None = None
    remote_ts: TrafficSelector | None = None
    rekey_of: tuple[int, ...] = ()
    started: float = 0.0
    context: Any = None  # acquire selector or similar, for the engine
    last_received: bytes = b""
    last_reply: bytes = b""
    retrans: Any = None  # sa.Retransmit


# ------------------------------------------------------------------- attributes


def _offer_proposals(
    offer: Offer, number: int, spis: dict[str, bytes], policy: QmPolicy, encap: int
) -> list[Proposal]:
    life = [
        Attribute(IpsecAttr.SA_LIFE_TYPE, LifeType.SECONDS),
        Attribute(IpsecAttr.SA_LIFE_DURATION, policy.lifetime_seconds, tlv=True),
        Attribute(IpsecAttr.SA_LIFE_TYPE, LifeType.KILOBYTES),
        Attribute(IpsecAttr.SA_LIFE_DURATION, policy.lifetime_kilobytes, tlv=True),
    ]
    grp = [Attribute(IpsecAttr.GROUP_DESCRIPTION, policy.pfs_group)] if policy.pfs_group else []
    out = []
    if offer.ah_integ:
        attrs = (
            life
            + grp
            + [
                Attribute(IpsecAttr.ENCAPSULATION_MODE, encap),
                Attribute(IpsecAttr.AUTH_ALGORITHM, alg.AUTH_ALG_NUMBERS[offer.ah_integ]),
            ]
        )
        t = Transform(1, alg.AH_TRANSFORM_NUMBERS[offer.ah_integ], attrs)
        out.append(Proposal(number, ProtocolId.IPSEC_AH, spis["ah"], [t]))
    if offer.esp_encr or offer.esp_integ:
        tid, bits = alg.esp_transform_attrs(offer.esp_encr or "null")
        attrs = life + grp + [Attribute(IpsecAttr.ENCAPSULATION_MODE, encap)]
        if offer.esp_integ:
            attrs.append(Attribute(IpsecAttr.AUTH_ALGORITHM, alg.AUTH_ALG_NUMBERS[offer.esp_integ]))
        if bits:
            attrs.append(Attribute(IpsecAttr.KEY_LENGTH, bits))
        out.append(Proposal(number, ProtocolId.IPSEC_ESP, spis["esp"], [Transform(1, tid, attrs)]))
    return out


@dataclass
class _Decoded:
    proto: str
    encr: str | None
    integ: str | None
    mode: str
    udp: bool
    group: int | None
    seconds: int | None
    kilobytes: int | None
    spi: bytes


def _decode_transform(proto: int, t: Transform, spi: bytes) -> _Decoded:
    """One offered IPsec transform -> names (raises ValueError/UnknownAlgorithm)."""
    seconds = kilobytes = None
    ltype = None
    group = None
    mode, udp = "tunnel", False
    auth = None
    bits = None
    for a in t.attributes:
        if not isinstance(a.value, int):
            raise ValueError(f"attribute {a.type} is not numeric")
        if a.type == IpsecAttr.SA_LIFE_TYPE:
            ltype = a.value
        elif a.type == IpsecAttr.SA_LIFE_DURATION:
            if ltype == LifeType.SECONDS:
                seconds = a.value
            elif ltype == LifeType.KILOBYTES:
                kilobytes = a.value
        elif a.type == IpsecAttr.GROUP_DESCRIPTION:
            group = a.value
        elif a.type == IpsecAttr.ENCAPSULATION_MODE:
            mode, udp = natt.decode_encapsulation(a.value)
        elif a.type == IpsecAttr.AUTH_ALGORITHM:
            auth = alg.auth_alg(a.value)
        elif a.type == IpsecAttr.KEY_LENGTH:
            bits = a.value
        else:
            raise ValueError(f"attribute {a.type} not supported")
    if proto == ProtocolId.IPSEC_ESP:
        return _Decoded(
            "esp",
            alg.esp_cipher(t.transform_id, bits),
            auth,
            mode,
            udp,
            group,
            seconds,
            kilobytes,
            spi,
        )
    if proto == ProtocolId.IPSEC_AH:
        integ = alg.ah_integrity(t.transform_id)
        if auth is not None and auth != integ:
            raise ValueError("AH transform and authentication algorithm disagree")
        return _Decoded("ah", None, integ, mode, udp, group, seconds, kilobytes, spi)
    raise ValueError(f"protocol {proto} not supported")


def _bundles(sap: SaPayload) -> list[list[Proposal]]:
    """Group proposals by number (same number = AND, RFC 2408 §4.2)."""
    out: dict[int, list[Proposal]] = {}
    for p in sap.proposals:
        out.setdefault(p.number, []).append(p)
    return list(out.values())


def _match(
    bundle: list[Proposal], offers: list[Offer]
) -> tuple[Offer, list[_Decoded], list[Proposal]] | None:
    """Find the transform choice of one bundle that equals one of our transform sets."""
    for offer in offers:
        chosen: list[_Decoded] = []
        props: list[Proposal] = []
        for p in bundle:
            for t in p.transforms:
                try:
                    d = _decode_transform(p.protocol, t, p.spi)
                except (ValueError, KeyError):
                    continue
                if d.mode != offer.mode or len(p.spi) != 4:
                    continue
                if d.proto == "ah" and d.integ == offer.ah_integ:
                    chosen.append(d)
                    props.append(Proposal(p.number, p.protocol, p.spi, [t]))
                    break
                if (
                    d.proto == "esp"
                    and (d.encr or "null") == (offer.esp_encr or "null")
                    and (d.integ == offer.esp_integ)
                ):
                    chosen.append(d)
                    props.append(Proposal(p.number, p.protocol, p.spi, [t]))
                    break
        if sorted(d.proto for d in chosen) == sorted(offer.protos) and len(chosen) == len(bundle):
            return offer, chosen, props
    return None


# ------------------------------------------------------------------ ID payloads


def ts_payload(ts: TrafficSelector) -> IdPayload:
    return IdPayload.from_network(ts.network, ts.protocol, ts.port)


def ts_from_id(idp: IdPayload) -> TrafficSelector:
    net = idp.network()
    if net is None:
        raise IkeError(
            f"Quick Mode ID type {idp.id_type} is not an address", NotifyType.INVALID_ID_INFORMATION
        )
    return TrafficSelector(net, idp.protocol, idp.port)


def _host_ts(address: str) -> TrafficSelector:
    return TrafficSelector(ipaddress.ip_network(address))


# ------------------------------------------------------------------------- hashes


def _rest(payloads: list[Payload]) -> bytes:
    """Bytes of every payload after HASH, as received (RFC 2409 §5.5)."""
    if not payloads or not isinstance(payloads[0], HashPayload):
        raise MalformedMessage("Quick Mode message does not start with HASH")
    return b"".join(p.raw for p in payloads[1:])


def _encrypt(sa: IsakmpSa, qm: QuickMode, payloads: list[Payload]) -> bytes:
    data, sa.phase2_ivs[qm.msgid] = sa.encrypt_message(
        QM, qm.msgid, payloads, sa.phase2_iv(qm.msgid)
    )
    return data


def _with_hash(sa: IsakmpSa, qm: QuickMode, body: list[Payload], hash_fn) -> bytes:
    rest = encode_payloads(body)
    h = hash_fn(rest)
    return _encrypt(sa, qm, [HashPayload(h), *body])


def new_spi(taken: set[int]) -> bytes:
    while True:
        v = int.from_bytes(os.urandom(4), "big")
        if v >= 256 and v not in taken:
            taken.add(v)
            return struct.pack("!I", v)


# ---------------------------------------------------------------------- initiator


def build_qm1(sa: IsakmpSa, qm: QuickMode, taken_spis: set[int], nat_t: bool) -> bytes:
    """Initiator: HDR*, HASH(1), SA, Ni [, KE], IDci, IDcr."""
    pol = qm.policy
    assert pol is not None and sa.k is not None
    qm.udp = nat_t and sa.nat_detected
    needed = {p for o in pol.offers for p in o.protos}
    qm.spis = {p: new_spi(taken_spis) for p in sorted(needed)}
    props: list[Proposal] = []
    for i, offer in enumerate(pol.offers):
        encap = natt.encapsulation_mode(offer.mode, qm.udp, sa.natt)
        props += _offer_proposals(offer, i + 1, qm.spis, pol, encap)
    if not props:
        raise NoProposalChosen("crypto map entry has no usable transform set")
    qm.ni = os.urandom(NONCE_LEN)
    body: list[Payload] = [SaPayload(props), NoncePayload(qm.ni)]
    if pol.pfs_group:
        qm.dh_group = dh.group(pol.pfs_group)
        qm.dh_private, qm.ke_i = qm.dh_group.generate()
        body.append(KePayload(qm.ke_i))
    qm.local_ts, qm.remote_ts = pol.local_ts, pol.remote_ts
    body += [ts_payload(pol.local_ts), ts_payload(pol.remote_ts)]
    qm.state = "sent1"
    return _with_hash(
        sa, qm, body, lambda rest: keys.qm_hash1(sa.prf, sa.k.skeyid_a, qm.msgid, rest)
    )


def handle_qm2(sa: IsakmpSa, qm: QuickMode, payloads: list[Payload]) -> bytes:
    """Initiator: verify HASH(2), take the chosen proposal, answer HASH(3)."""
    assert sa.k is not None and qm.policy is not None
    rest = _rest(payloads)
    h = keys.qm_hash2(sa.prf, sa.k.skeyid_a, qm.msgid, qm.ni, rest)
    if not hmac.compare_digest(h, payloads[0].data):
        raise AuthenticationFailed("Quick Mode HASH(2) does not verify")
    sap = first(payloads, SaPayload)
    nonce = first(payloads, NoncePayload)
    if sap is None or nonce is None:
        raise MalformedMessage("Quick Mode message 2 lacks SA or Nonce")
    qm.nr = nonce.data
    bundles = _bundles(sap)
    if len(bundles) != 1:
        raise IkeError("responder chose more than one proposal", NotifyType.BAD_PROPOSAL_SYNTAX)
    idx = bundles[0][0].number - 1
    if not 0 <= idx < len(qm.policy.offers):
        raise NoProposalChosen("responder chose a proposal number we did not offer")
    m = _match(bundles[0], [qm.policy.offers[idx]])
    if m is None:
        raise NoProposalChosen("responder's chosen transforms differ from our offer")
    qm.chosen, decoded, _props = m
    for d in decoded:
        qm.peer_spis[d.proto] = d.spi
    _lifetimes(qm, decoded, qm.policy)
    for n in find(payloads, NotificationPayload):
        if n.notify_type == NotifyType.RESPONDER_LIFETIME:
            _responder_lifetime(qm, n.data)
    _finish_dh(qm, payloads, initiator=True)
    qm.state = "done"
    return _encrypt(
        sa, qm, [HashPayload(keys.qm_hash3(sa.prf, sa.k.skeyid_a, qm.msgid, qm.ni, qm.nr))]
    )


def _lifetimes(qm: QuickMode, decoded: list[_Decoded], pol: QmPolicy) -> None:
    secs = [d.seconds for d in decoded if d.seconds]
    kbs = [d.kilobytes for d in decoded if d.kilobytes]
    qm.lifetime_seconds = min([pol.lifetime_seconds, *secs])
    qm.lifetime_kilobytes = min([pol.lifetime_kilobytes, *kbs])


def _responder_lifetime(qm: QuickMode, data: bytes) -> None:
    """RFC 2407 §4.6.3.1: adopt the responder's shorter lifetimes."""
    try:
        attrs = Attribute.decode_all(data)
    except MalformedMessage:
        return
    ltype = None
    for a in attrs:
        if a.type == IpsecAttr.SA_LIFE_TYPE:
            ltype = a.value
        elif a.type == IpsecAttr.SA_LIFE_DURATION and isinstance(a.value, int):
            if ltype == LifeType.SECONDS:
                qm.lifetime_seconds = min(qm.lifetime_seconds, a.value)
            elif ltype == LifeType.KILOBYTES:
                qm.lifetime_kilobytes = min(qm.lifetime_kilobytes, a.value)


def lifetime_attrs(seconds: int) -> bytes:
    """SA Life Type/Duration attributes (seconds) as notification data."""
    return (
        Attribute(IpsecAttr.SA_LIFE_TYPE, LifeType.SECONDS).encode()
        + Attribute(IpsecAttr.SA_LIFE_DURATION, seconds, tlv=True).encode()
    )


def parse_lifetime_seconds(data: bytes) -> int | None:
    """The seconds lifetime in RESPONDER-LIFETIME notification data, if any."""
    try:
        attrs = Attribute.decode_all(data)
    except MalformedMessage:
        return None
    ltype = None
    for a in attrs:
        if a.type == IpsecAttr.SA_LIFE_TYPE:
            ltype = a.value
        elif a.type == IpsecAttr.SA_LIFE_DURATION and ltype == LifeType.SECONDS:
            return a.value if isinstance(a.value, int) else None
    return None


def _finish_dh(qm: QuickMode, payloads: list[Payload], initiator: bool) -> None:
    ke = first(payloads, KePayload)
    if qm.dh_group is None:
        return
    if ke is None:
        raise NoProposalChosen("PFS required but the peer sent no KE payload")
    if initiator:
        qm.ke_r = ke.data


# ---------------------------------------------------------------------- responder


def handle_qm1(
    sa: IsakmpSa,
    qm: QuickMode,
    payloads: list[Payload],
    find_policy,
    taken_spis: set[int],
    nat_t: bool,
) -> bytes:
    """Responder: verify HASH(1), check IDs against the crypto maps, choose a
    proposal, answer HDR*, HASH(2), SA, Nr [, KE], IDci, IDcr [, N(RESPONDER-LIFETIME)].

    ``find_policy(remote_ts, local_ts) -> QmPolicy | None`` looks up the crypto
    map entry for the peer's proxy identities (mirror image of ours).
    """
    assert sa.k is not None
    rest = _rest(payloads)
    if not hmac.compare_digest(
        keys.qm_hash1(sa.prf, sa.k.skeyid_a, qm.msgid, rest), payloads[0].data
    ):
        raise AuthenticationFailed("Quick Mode HASH(1) does not verify")
    sap = first(payloads, SaPayload)
    nonce = first(payloads, NoncePayload)
    if sap is None or nonce is None:
        raise MalformedMessage("Quick Mode message 1 lacks SA or Nonce")
    qm.ni = nonce.data
    ids = find(payloads, IdPayload)
    if len(ids) == 2:
        remote_ts, local_ts = ts_from_id(ids[0]), ts_from_id(ids[1])
    elif not ids:
        remote_ts, local_ts = _host_ts(sa.peer[0]), _host_ts(sa.local[0])
    else:
        raise MalformedMessage("Quick Mode message 1 has one ID payload")
    pol = find_policy(remote_ts, local_ts)
    if pol is None:
        raise IkeError(
            f"proxy identities {remote_ts} <-> {local_ts} not permitted by any crypto map ACL",
            NotifyType.INVALID_ID_INFORMATION,
        )
    qm.policy = pol
    qm.remote_ts, qm.local_ts = remote_ts, local_ts
    choice = None
    for bundle in _bundles(sap):
        m = _match(bundle, pol.offers)
        if m is None:
            continue
        groups = {d.group for d in m[1]}
        if len(groups) != 1:
            continue
        group = groups.pop()
        if pol.pfs_group and group != pol.pfs_group:
            continue  # IOS: "set pfs" requires the same group
        choice = (m, group)
        break
    if choice is None:
        raise NoProposalChosen("no offered IPsec proposal matches a transform set of the map")
    (qm.chosen, decoded, props), group = choice
    qm.udp = any(d.udp for d in decoded)
    qm.spis = {}
    for d, p in zip(decoded, props):
        qm.peer_spis[d.proto] = d.spi
        qm.spis[d.proto] = new_spi(taken_spis)
        p.spi = qm.spis[d.proto]
    _lifetimes(qm, decoded, pol)
    qm.nr = os.urandom(NONCE_LEN)
    body: list[Payload] = [SaPayload(props), NoncePayload(qm.nr)]
    if group:
        ke = first(payloads, KePayload)
        if ke is None:
            raise MalformedMessage("PFS group proposed but no KE payload")
        qm.dh_group = dh.group(group)
        qm.dh_private, qm.ke_r = qm.dh_group.generate()
        qm.ke_i = ke.data
        body.append(KePayload(qm.ke_r))
    if ids:
        body += [ids[0], ids[1]]
    notify = _responder_lifetime_notify(qm, decoded)
    if notify is not None:
        body.append(notify)
    qm.state = "sent2"
    return _with_hash(
        sa, qm, body, lambda r: keys.qm_hash2(sa.prf, sa.k.skeyid_a, qm.msgid, qm.ni, r)
    )


def _responder_lifetime_notify(qm: QuickMode, decoded: list[_Decoded]) -> Payload | None:
    """RFC 2407 §4.6.3.1: tell the initiator when our lifetime is shorter than its offer."""
    attrs = []
    if any(d.seconds is None or d.seconds > qm.lifetime_seconds for d in decoded):
        attrs += [
            Attribute(IpsecAttr.SA_LIFE_TYPE, LifeType.SECONDS),
            Attribute(IpsecAttr.SA_LIFE_DURATION, qm.lifetime_seconds, tlv=True),
        ]
    if any(d.kilobytes is not None and d.kilobytes > qm.lifetime_kilobytes for d in decoded):
        attrs += [
            Attribute(IpsecAttr.SA_LIFE_TYPE, LifeType.KILOBYTES),
            Attribute(IpsecAttr.SA_LIFE_DURATION, qm.lifetime_kilobytes, tlv=True),
        ]
    if not attrs:
        return None
    proto = ProtocolId.IPSEC_ESP if "esp" in qm.spis else ProtocolId.IPSEC_AH
    spi = qm.spis.get("esp") or qm.spis["ah"]
    return NotificationPayload(
        NotifyType.RESPONDER_LIFETIME, proto, spi, b"".join(a.encode() for a in attrs)
    )


def handle_qm3(sa: IsakmpSa, qm: QuickMode, payloads: list[Payload]) -> None:
    """Responder: verify HASH(3); the SAs may now be used."""
    assert sa.k is not None
    h = first(payloads, HashPayload)
    if h is None:
        raise MalformedMessage("Quick Mode message 3 lacks HASH")
    if not hmac.compare_digest(
        keys.qm_hash3(sa.prf, sa.k.skeyid_a, qm.msgid, qm.ni, qm.nr), h.data
    ):
        raise AuthenticationFailed("Quick Mode HASH(3) does not verify")
    qm.state = "done"


# ------------------------------------------------------------------------ KEYMAT


def make_pair(sa: IsakmpSa, qm: QuickMode, now: float, conn_id: int) -> IpsecSaPair:
    """RFC 2409 §5.5 KEYMAT for every SA of the bundle, both directions."""
    assert sa.k is not None and qm.chosen is not None and qm.policy is not None
    gxy = b""
    if qm.dh_group is not None:
        peer_pub = qm.ke_r if qm.initiator else qm.ke_i
        try:
            gxy = qm.dh_group.shared(qm.dh_private, peer_pub)
        except dh.DhError as e:
            raise IkeError(f"bad PFS KE payload: {e}", NotifyType.INVALID_KEY_INFORMATION) from None
    ni, nr = qm.ni, qm.nr
    inbound, outbound = [], []
    for proto in qm.chosen.protos:
        pid = ProtocolId.IPSEC_AH if proto == "ah" else ProtocolId.IPSEC_ESP
        if proto == "ah":
            encr, integ = None, qm.chosen.ah_integ
        else:
            encr, integ = qm.chosen.esp_encr or "null", qm.chosen.esp_integ
        ek = alg.cipher(encr).key_len if encr else 0
        ik = alg.integrity(integ).key_len if integ else 0
        for spi, bucket in ((qm.spis[proto], inbound), (qm.peer_spis[proto], outbound)):
            km = keys.keymat(sa.prf, sa.k.skeyid_d, pid, spi, ni, nr, ek + ik, gxy)
            bucket.append(SaKeys(int.from_bytes(spi, "big"), proto, encr, km[:ek], integ, km[ek:]))
    pol = qm.policy
    assert qm.local_ts is not None and qm.remote_ts is not None
    return IpsecSaPair(
        peer=sa.peer[0],
        local=sa.local[0],
        mode=qm.chosen.mode,  # type: ignore[arg-type]
        inbound=tuple(inbound),
        outbound=tuple(outbound),
        local_ts=qm.local_ts,
        remote_ts=qm.remote_ts,
        lifetime_seconds=qm.lifetime_seconds,
        lifetime_kilobytes=qm.lifetime_kilobytes,
        created=now,
        udp_encap=(sa.local[1], sa.peer[1]) if qm.udp else None,
        pfs_group=qm.dh_group.number if qm.dh_group else None,
        transform_set=qm.chosen.name,
        crypto_map=pol.crypto_map,
        crypto_map_seq=pol.seq,
        initiator=qm.initiator,
        ike_cookies=(sa.icookie, sa.rcookie),
        conn_id=conn_id,
    )
