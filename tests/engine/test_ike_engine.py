"""Two IkeEngines wired back to back in memory, ``now`` stepped by hand
(aioquic style): Main/Aggressive/Quick Mode, failures, retransmission, DELETE,
DPD, NAT-T, lifetimes and rekey, and fuzzing of receive_datagram."""

from __future__ import annotations

import ipaddress
import itertools
import random

import pytest

from engine.config.model import IsakmpPolicy, Keepalive
from engine.ike import (
    ChildSaDown,
    ChildSaUp,
    IkeEngine,
    IkeSaDown,
    IkeSaUp,
    Log,
    NegotiationFailed,
    natt,
)
from engine.ike.payloads import Header, NotificationPayload, decode_payloads
from engine.ike.registry import ExchangeType, NotifyType
from tests.engine.ike_helpers import R1_OUT, R2_OUT, Wire, make_config, pair_configs, ping, wire


def _up(w: Wire) -> tuple[ChildSaUp, ChildSaUp]:
    assert ping(w)
    w.pump()
    ca, cb = w.of("a", ChildSaUp), w.of("b", ChildSaUp)
    assert len(ca) == 1 and len(cb) == 1, (w.events_a, w.events_b)
    return ca[0], cb[0]


def _assert_mirrored(ca: ChildSaUp, cb: ChildSaUp) -> None:
    a, b = ca.pair, cb.pair
    assert a.inbound == b.outbound and a.outbound == b.inbound
    assert a.local_ts == b.remote_ts and a.remote_ts == b.local_ts
    for k in a.inbound + a.outbound:
        assert k.spi >= 256


CIPHERS = [("des", None), ("3des", None), ("aes", 128), ("aes", 192), ("aes", 256)]
HASHES = ["md5", "sha", "sha256", "sha384", "sha512"]
GROUPS = [1, 2, 5, 14]


@pytest.mark.parametrize(
    "cipher,hash_,group", [(c, h, g) for c, h, g in itertools.product(CIPHERS, HASHES, GROUPS)]
)
def test_main_mode_every_policy(cipher, hash_, group):
    pol = [IsakmpPolicy(10, cipher[0], cipher[1], hash_, "pre-share", group, 3600)]
    w = wire(*pair_configs(policies=pol))
    ca, cb = _up(w)
    _assert_mirrored(ca, cb)
    (ua,), (ub,) = w.of("a", IkeSaUp), w.of("b", IkeSaUp)
    exp = cipher[0] if cipher[0] != "aes" else f"aes{cipher[1]}"
    assert (ua.encryption, ua.group, ua.mode, ua.initiator) == (exp, group, "main", True)
    assert (ub.encryption, ub.initiator, ub.peer_id) == (exp, False, R1_OUT)
    assert len(w.log) == 9  # MM 6 + QM 3, no retransmissions


@pytest.mark.parametrize(
    "cipher,hash_,group", [(CIPHERS[i % 5], HASHES[i % 5], GROUPS[i % 4]) for i in range(8)]
)
def test_aggressive_mode(cipher, hash_, group):
    pol = [IsakmpPolicy(10, cipher[0], cipher[1], hash_, "pre-share", group)]
    w = wire(*pair_configs(policies=pol, aggressive=True))
    ca, cb = _up(w)
    _assert_mirrored(ca, cb)
    assert w.of("a", IkeSaUp)[0].mode == w.of("b", IkeSaUp)[0].mode == "aggressive"
    assert [Header.decode(d).exchange for _, d, _, _ in w.log[:3]] == [ExchangeType.AGGRESSIVE] * 3
    assert len(w.log) == 6


TRANSFORMS = [
    # IOS words, esp_encr, esp_integ, ah_integ
    (("esp-des", "esp-md5-hmac"), "des", "hmac-md5-96", None),
    (("esp-3des", "esp-sha-hmac"), "3des", "hmac-sha1-96", None),
    (("esp-aes 256", "esp-sha256-hmac"), "aes256", "hmac-sha256-128", None),
    (("esp-null", "esp-sha-hmac"), "null", "hmac-sha1-96", None),
    (("esp-gcm 128",), "aes128gcm16", None, None),
    (("ah-sha-hmac",), None, None, "hmac-sha1-96"),
    (("ah-md5-hmac", "esp-des"), "des", None, "hmac-md5-96"),
]


@pytest.mark.parametrize("pfs", [None, 1, 2, 5, 14])
@pytest.mark.parametrize("ts", TRANSFORMS, ids=lambda t: "+".join(t[0]))
def test_quick_mode_transforms_and_pfs(ts, pfs):
    words, encr, integ, ah = ts
    w = wire(*pair_configs(transforms=words, esp_encr=encr, esp_integ=integ, ah_integ=ah, pfs=pfs))
    ca, cb = _up(w)
    _assert_mirrored(ca, cb)
    a = ca.pair
    assert a.pfs_group == pfs
    protos = [k.proto for k in a.inbound]
    assert protos == (["ah"] if ah else []) + (["esp"] if encr or integ else [])
    esp = a.keys("esp", "out")
    if esp is not None:
        assert esp.encr == encr and esp.integ == integ
    if ah:
        assert a.keys("ah", "in").integ == ah and len(a.keys("ah", "in").integ_key) in (16, 20)
    if pfs is not None:  # KE payloads present in Quick Mode (message 1 and 2 are larger)
        assert len(w.log[6][1]) > 128


def test_transport_mode():
    w = wire(*pair_configs(mode="transport"))
    ca, _ = _up(w)
    assert ca.pair.mode == "transport"


def test_pfs_mismatch_is_no_proposal_chosen():
    w = wire(*pair_configs(pfs=2, r2_pfs=5))
    ping(w)
    w.pump()
    assert not w.of("a", ChildSaUp) and w.of("a", IkeSaUp)
    (fail,) = w.of("a", NegotiationFailed)
    assert fail.phase == 2 and "NO_PROPOSAL_CHOSEN" in fail.reason
    assert any(
        str(e).startswith(
            f"%CRYPTO-6-IKMP_MODE_FAILURE: Processing of Quick mode failed with peer at {R1_OUT}"
        )
        for e in w.of("b", Log)
    )


def test_responder_uses_first_policy_that_matches_in_its_priority_order():
    a_pols = [
        IsakmpPolicy(5, "3des", None, "md5", "pre-share", 2),
        IsakmpPolicy(10, "aes", 256, "sha", "pre-share", 14),
    ]
    b_pols = [
        IsakmpPolicy(1, "aes", 256, "sha", "pre-share", 14),
        IsakmpPolicy(2, "3des", None, "md5", "pre-share", 2),
    ]
    w = wire(*pair_configs(policies=a_pols, r2_policies=b_pols))
    _up(w)
    assert w.of("a", IkeSaUp)[0].encryption == "aes256"


def test_no_matching_phase1_proposal_sends_no_proposal_chosen():
    w = wire(
        *pair_configs(
            policies=[IsakmpPolicy(10, "aes", 128, "sha", "pre-share", 2)],
            r2_policies=[IsakmpPolicy(10, "3des", None, "md5", "pre-share", 2)],
        )
    )
    ping(w)
    w.pump()
    who, data, _, _ = w.log[1]
    hdr = Header.decode(data)
    assert who == "b" and hdr.exchange == ExchangeType.INFORMATIONAL
    (n,) = decode_payloads(hdr.next_payload, data[28:])
    assert isinstance(n, NotificationPayload) and n.notify_type == NotifyType.NO_PROPOSAL_CHOSEN
    (fail,) = w.of("a", NegotiationFailed)
    assert "NO_PROPOSAL_CHOSEN" in fail.reason
    assert [str(e) for e in w.of("b", Log)] == [
        f"%CRYPTO-6-IKMP_MODE_FAILURE: Processing of Main mode failed with peer at {R1_OUT}"
    ]


def test_mismatched_psk():
    w = wire(*pair_configs(psk="secret-a", r2_psk="secret-b"))
    ping(w)
    w.advance(300)
    assert not w.of("a", IkeSaUp) and not w.of("b", IkeSaUp)
    bad = [str(e) for e in w.of("b", Log)]
    # Every copy of message 5 fails to decrypt/verify; IOS logs each one.
    assert (
        bad.count(
            "%CRYPTO-4-IKMP_BAD_MESSAGE: IKE message from 10.0.0.1 failed "
            "its sanity check or is malformed"
        )
        == 6
    )
    (fail,) = w.of("a", NegotiationFailed)
    assert fail.phase == 1 and fail.peer == R2_OUT
    assert w.a.get_timer() is None and not w.a.isakmp_sas()


def test_retransmission_backoff_and_give_up():
    times: list[float] = []
    w = wire(*pair_configs())
    w.drop = lambda who, data: times.append(w.now) or True  # the network eats everything
    ping(w)
    w.pump()
    w.advance(400)
    assert times == [0, 4, 12, 28, 60, 124]  # 4 s, doubling, 5 retransmissions
    (fail,) = w.of("a", NegotiationFailed)
    assert fail.reason == "retransmissions exhausted"
    assert "%CRYPTO-6-IKMP_MODE_FAILURE: Processing of Main mode failed with peer at 10.0.0.2" in [
        str(e) for e in w.of("a", Log)
    ]


def test_lost_last_messages_are_recovered():
    drops = {"mm6": True, "qm3": True}

    def drop(who, data):
        hdr = Header.decode(data)
        if (
            who == "b"
            and hdr.exchange == ExchangeType.IDENTITY_PROTECTION
            and hdr.flags & 1
            and drops["mm6"]
        ):
            drops["mm6"] = False
            return True
        if (
            who == "a"
            and hdr.exchange == ExchangeType.QUICK_MODE
            and len(data) < 80
            and drops["qm3"]
        ):
            drops["qm3"] = False
            return True
        return False

    w = wire(*pair_configs())
    w.drop = drop
    ping(w)
    w.advance(30)
    assert len(w.of("a", ChildSaUp)) == 1 and len(w.of("b", ChildSaUp)) == 1
    assert w.a.counters.retransmits >= 1 and w.b.counters.retransmits >= 1
    _assert_mirrored(w.of("a", ChildSaUp)[0], w.of("b", ChildSaUp)[0])


def test_delete_child_and_isakmp():
    w = wire(*pair_configs())
    ca, cb = _up(w)
    assert w.a.delete_child(ca.pair.inbound[0].spi, w.now)
    w.pump()
    (da,), (db,) = w.of("a", ChildSaDown), w.of("b", ChildSaDown)
    assert da.reason == "deleted" and da.inbound_spis == ca.pair.inbound_spis
    assert db.inbound_spis == ca.pair.outbound_spis and db.reason == "peer deleted"
    assert not w.a.child_sas() and not w.b.child_sas()
    w.a.clear_isakmp(w.now)
    w.pump()
    assert w.of("b", IkeSaDown)[0].reason == "peer deleted"
    assert "%CRYPTO-5-SESSION_STATUS: Crypto tunnel is DOWN. Peer 10.0.0.1:500 Id: 10.0.0.1" in [
        str(e) for e in w.of("b", Log)
    ]
    # New traffic brings everything up again.
    ping(w)
    w.pump()
    assert len(w.of("a", ChildSaUp)) == 2


def test_clear_sa_deletes_all_pairs():
    w = wire(*pair_configs())
    _up(w)
    w.b.clear_sa(w.now)
    w.pump()
    assert len(w.of("a", ChildSaDown)) == 1 and not w.a.child_sas()


def test_dpd_r_u_there_and_ack():
    ka = Keepalive(10, 2, "periodic")
    w = wire(*pair_configs(keepalive=ka))
    _up(w)
    n0 = len(w.log)
    w.advance(10)
    notes = []
    for who, data, _, _ in w.log[n0:]:
        hdr = Header.decode(data)
        assert hdr.exchange == ExchangeType.INFORMATIONAL and hdr.flags & 1  # protected
        notes.append(who)
    assert sorted(notes) == ["a", "a", "b", "b"]  # each side: R-U-THERE, and the ACK to the other
    w.advance(100)
    assert not w.of("a", IkeSaDown) and not w.of("b", IkeSaDown)


def test_dpd_dead_timing_exact():
    ka = Keepalive(10, 2, "periodic")
    c1, c2 = pair_configs(keepalive=ka)
    c2.globals.keepalive = None
    w = wire(c1, c2)
    _up(w)
    sent: list[float] = []
    w.drop = lambda who, data: (sent.append(w.now) or True) if who == "a" else True
    w.advance(25)
    assert sent == [10, 12, 14, 16, 18]
    (down,) = w.of("a", IkeSaDown)
    assert down.reason == "peers alive"
    assert [e.reason for e in w.of("a", ChildSaDown)] == ["peers alive"]


def _run_behind_pat(aggressive: bool = False):
    """a (10.0.0.1) behind a PAT box that shows it as 10.0.0.99:4000x to b."""
    from engine.ike import PacketSelector

    nat_ip = "10.0.0.99"
    c1 = make_config(R1_OUT, R2_OUT, "192.168.1.0/24", "192.168.2.0/24", aggressive=aggressive)
    c2 = make_config(R2_OUT, nat_ip, "192.168.2.0/24", "192.168.1.0/24")
    a, b = IkeEngine(c1, [R1_OUT]), IkeEngine(c2, [R2_OUT])
    now, mapping = 0.0, {}
    assert a.acquire(PacketSelector("192.168.1.10", "192.168.2.10"), now)
    events_a, events_b, sent = [], [], []
    for _ in range(20):
        for d in a.datagrams_to_send(now):  # PAT: 10.0.0.1:p -> 10.0.0.99:mapping
            pub = mapping.setdefault(d.src[1], 40000 + len(mapping))
            sent.append(("a", d))
            b.receive_datagram(d.data, (nat_ip, pub), d.dst, now)
        for d in b.datagrams_to_send(now):
            assert d.dst[0] == nat_ip
            sent.append(("b", d))
            inside = {v: k for k, v in mapping.items()}[d.dst[1]]
            a.receive_datagram(d.data, d.src, (R1_OUT, inside), now)
        while e := a.next_event():
            events_a.append(e)
        while e := b.next_event():
            events_b.append(e)
    (ca,) = [e for e in events_a if isinstance(e, ChildSaUp)]
    (cb,) = [e for e in events_b if isinstance(e, ChildSaUp)]
    return ca, cb, mapping, sent, events_a


def test_nat_detection_floats_to_4500():
    ca, cb, mapping, sent, events_a = _run_behind_pat()
    ports = [d.dst[1] for who, d in sent if who == "a"]
    assert ports[:2] == [500, 500] and set(ports[2:]) == {4500}  # float after MM4 (RFC 3947 §4)
    assert ca.pair.udp_encap == (4500, 4500) and cb.pair.udp_encap == (4500, mapping[4500])
    assert [e for e in events_a if isinstance(e, IkeSaUp)][0].nat_t


def test_nat_t_draft_variant(monkeypatch):
    """A peer that only knows draft-ietf-ipsec-nat-t-ike-02/03 (older IOS): NAT-D payload
    type 130 and UDP-encapsulated tunnel mode 61443 (RFC 3947 §5.1 note on drafts)."""
    from engine.ike.registry import VendorIds

    monkeypatch.setattr(natt, "NATT_VENDOR_IDS", (VendorIds.NATT_DRAFT_03,))
    ca, cb, _mapping, sent, _ = _run_behind_pat()
    assert ca.pair.udp_encap and cb.pair.udp_encap
    mm3 = [d.data for who, d in sent if who == "a"][1]
    assert Header.decode(mm3).exchange == ExchangeType.IDENTITY_PROTECTION
    assert 130 in [p.ptype for p in decode_payloads(mm3[16], mm3[28:])]


def test_nat_t_aggressive_mode_floats_for_message_3():
    ca, cb, _mapping, sent, _ = _run_behind_pat(aggressive=True)
    ports = [d.dst[1] for who, d in sent if who == "a"]
    assert ports[0] == 500 and set(ports[1:]) == {4500}  # AM3 already on 4500
    assert ca.pair.udp_encap == (4500, 4500)


def test_natd_hash():
    import hashlib

    h = natt.natd_hash(lambda d: hashlib.sha1(d).digest(), b"I" * 8, b"R" * 8, "10.1.2.3", 4500)
    assert h == hashlib.sha1(b"I" * 8 + b"R" * 8 + bytes([10, 1, 2, 3]) + b"\x11\x94").digest()


def test_child_rekey_and_expiry_with_fast_forward():
    w = wire(*pair_configs(sa_lifetime=120, lifetime=600))
    ca, _ = _up(w)
    w.advance(107)
    assert len(w.of("a", ChildSaUp)) == 1
    w.advance(2)  # 0.9 * 120 = 108 s: the initiator rekeys
    new = w.of("a", ChildSaUp)
    assert len(new) == 2 and new[1].rekey_of == ca.pair.inbound_spis
    assert len(w.of("b", ChildSaUp)) == 2
    w.advance(12)  # old pair hard-expires at 120 s
    gone = w.of("a", ChildSaDown)
    assert gone and gone[0].inbound_spis == ca.pair.inbound_spis
    assert [c.inbound_spis for c in w.a.child_sas()] == [new[1].pair.inbound_spis]
    w.advance(600)  # Phase 1 lifetime ends; IPsec SAs keep going (IKEv1)
    assert w.of("a", IkeSaDown)[0].reason == "lifetime expired"
    assert w.of("b", IkeSaDown)
    assert len(w.of("a", ChildSaUp)) > 2  # later rekeys negotiated a new Phase 1 as needed


def test_responder_lifetime_notify():
    w = wire(*pair_configs(sa_lifetime=3600, r2_sa_lifetime=900))
    ca, cb = _up(w)
    assert ca.pair.lifetime_seconds == cb.pair.lifetime_seconds == 900


def test_default_policies_log():
    w = wire(*pair_configs(policies=[]))
    _up(w)
    assert "%CRYPTO-6-IKMP_POLICY_DEFAULT: Using ISAKMP Default policies" in [
        str(e) for e in w.of("b", Log)
    ]
    assert w.of("a", IkeSaUp)[0].encryption == "aes128"


def test_invalid_spi_notify_deletes_pair():
    w = wire(*pair_configs())
    ca, cb = _up(w)
    assert w.b.send_invalid_spi(R1_OUT, cb.pair.inbound[0].spi, "esp", w.now)
    w.pump()
    assert [e.reason for e in w.of("a", ChildSaDown)] == ["peer reported INVALID-SPI"]


def test_no_acquire_without_crypto_map_match():
    w = wire(*pair_configs())
    from engine.ike import PacketSelector

    assert not w.a.acquire(PacketSelector("192.168.1.10", "8.8.8.8"), 0)
    assert not w.a.datagrams_to_send(0)


def test_fuzz_receive_never_raises():
    w = wire(*pair_configs(pfs=2))
    _up(w)
    w.a.delete_child(w.a.child_sas()[0].inbound[0].spi, w.now)
    w.pump()
    corpus = [d for _, d, _, _ in w.log]
    rnd = random.Random(7)
    eng = w.b
    for i in range(4000):
        base = bytearray(rnd.choice(corpus))
        kind = i % 4
        if kind == 0:
            data = bytes(base[: rnd.randrange(len(base))])
        elif kind == 1:
            for _ in range(rnd.randint(1, 8)):
                base[rnd.randrange(len(base))] = rnd.randrange(256)
            data = bytes(base)
        elif kind == 2:
            data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 120)))
        else:
            data = bytes(base) + bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40)))
        eng.receive_datagram(data, (R1_OUT, rnd.choice([500, 4500])), (R2_OUT, 500), w.now)
        eng.handle_timer(w.now)
    assert eng.counters.malformed + eng.counters.dropped > 0
    assert eng.counters.internal_errors == 0  # every failure was a typed IkeError


def test_engine_survives_being_fed_its_own_messages():
    w = wire(*pair_configs())
    _up(w)
    for _, d, src, dst in list(w.log):
        w.a.receive_datagram(d, dst, src, w.now)  # reflections
    assert len(w.a.child_sas()) == 1
    assert ipaddress.ip_address(w.a.child_sas()[0].peer)


def test_acquire_rekey_request_by_spi():
    from engine.ike import PacketSelector

    w = wire(*pair_configs())
    ca, _ = _up(w)
    sel = PacketSelector("192.168.1.10", "192.168.2.10", 1)
    assert w.a.acquire(sel, w.now)  # covered by the live pair: nothing happens
    w.pump()
    assert len(w.of("a", ChildSaUp)) == 1
    spi = ca.pair.inbound_spis[0]
    rekey = PacketSelector("192.168.1.10", "192.168.2.10", 1, rekey_spi=spi)
    assert w.a.acquire(rekey, w.now)
    w.pump()
    assert w.a.acquire(rekey, w.now)  # second request for the same pair: ignored
    w.pump()
    ups = w.of("a", ChildSaUp)
    assert len(ups) == 2 and ups[1].rekey_of == ca.pair.inbound_spis
    w.advance(3600 * 0.95)  # our own soft timer must not rekey the old pair again
    assert len([u for u in w.of("a", ChildSaUp) if u.rekey_of == ca.pair.inbound_spis]) == 1


def test_phase1_responder_lifetime_notify():
    a_pol = [IsakmpPolicy(10, "aes", 128, "sha", "pre-share", 2, 86400)]
    b_pol = [IsakmpPolicy(10, "aes", 128, "sha", "pre-share", 2, 3600)]
    w = wire(*pair_configs(policies=a_pol, r2_policies=b_pol))
    _up(w)
    assert w.of("b", IkeSaUp)[0].lifetime == 3600  # responder uses the shorter one
    (sa_a,) = w.a.isakmp_sas()
    assert sa_a.expires_at == 3600  # adopted from the RESPONDER-LIFETIME notify
    w.advance(3601)
    assert w.of("a", IkeSaDown) and w.of("b", IkeSaDown)


def test_ipv6_peers_and_selectors():
    a6, b6 = "2001:db8::1", "2001:db8::2"
    c1 = make_config(a6, b6, "2001:db8:1::/64", "2001:db8:2::/64")
    c2 = make_config(b6, a6, "2001:db8:2::/64", "2001:db8:1::/64")
    for c, addr in ((c1, a6), (c2, b6)):
        intf = c.interfaces["Gi0/0"]
        intf.addresses, intf.addresses_v6 = [], [ipaddress.ip_interface(f"{addr}/64")]
        intf.crypto_map, intf.crypto_map_v6 = None, "VPN"
    w = Wire(IkeEngine(c1, [a6]), IkeEngine(c2, [b6]))
    from engine.ike import PacketSelector

    assert w.a.acquire(PacketSelector("2001:db8:1::10", "2001:db8:2::10", 58), 0)
    w.pump()
    (ca,), (cb,) = w.of("a", ChildSaUp), w.of("b", ChildSaUp)
    _assert_mirrored(ca, cb)
    assert ca.pair.peer == b6 and str(ca.pair.remote_ts.network) == "2001:db8:2::/64"
    assert w.of("b", IkeSaUp)[0].peer_id == a6


@pytest.mark.parametrize("aggressive", [False, True])
def test_garbage_injected_at_every_step_does_not_break_negotiation(aggressive):
    """Before each genuine message the receiver gets 150 bad copies of it: truncated, or
    with random (off-path) cookies and a mutated byte.  The negotiation still completes
    and nothing raises.  (On-path mutation can always derail IKEv1: MM/AM messages 1-4
    are not authenticated, and a changed last CBC block desynchronises the IV chain.)"""
    w = wire(*pair_configs(pfs=2, aggressive=aggressive))
    rnd = random.Random(11)
    assert ping(w)
    for _ in range(20):
        moved = False
        for src, dst in ((w.a, w.b), (w.b, w.a)):
            for d in src.datagrams_to_send(w.now):
                moved = True
                for i in range(150):
                    m = bytearray(d.data)
                    if i % 2 == 0:
                        m = m[: rnd.randrange(0, len(m))]
                    else:
                        m[0:16] = rnd.randbytes(16)
                        m[rnd.randrange(16, len(m))] = rnd.randrange(256)
                    dst.receive_datagram(bytes(m), d.src, d.dst, w.now)
                dst.receive_datagram(d.data, d.src, d.dst, w.now)
        if not moved:
            break
    for eng, out in ((w.a, w.events_a), (w.b, w.events_b)):
        while (ev := eng.next_event()) is not None:
            out.append(ev)
        assert eng.counters.internal_errors == 0
        assert eng.counters.malformed + eng.counters.dropped >= 150
    (ca,), (cb,) = w.of("a", ChildSaUp), w.of("b", ChildSaUp)
    _assert_mirrored(ca, cb)


def _keepalive_pair(ka):
    c1, c2 = pair_configs(keepalive=ka)
    c2.globals.keepalive = None
    return c1, c2


def test_dpd_on_demand_is_silent_when_idle():
    w = wire(*_keepalive_pair(Keepalive(10, 2, "on-demand")))
    _up(w)
    n0 = len(w.log)
    w.advance(60)
    assert len(w.log) == n0  # DPD-07: no traffic to send, no R-U-THERE


def test_dpd_on_demand_queries_when_sending_without_reply():
    w = wire(*_keepalive_pair(Keepalive(10, 2, "on-demand")))
    _up(w)
    w.advance(20)
    w.a.note_traffic(R2_OUT, w.now, inbound=True)  # the peer talks: nothing to ask
    w.a.note_traffic(R2_OUT, w.now, inbound=False)
    w.advance(5)
    n0 = len(w.log)
    sent: list[float] = []
    w.drop = lambda who, data: (sent.append(w.now) or True) if who == "a" else True
    w.a.note_traffic(R2_OUT, w.now, inbound=False)  # DPD-08: outbound, silence since t=20
    w.advance(30)
    assert sent == [30, 32, 34, 36, 38] and len(w.log) - n0 == 5
    assert w.of("a", IkeSaDown)[0].reason == "peers alive"
    downs = [str(e) for e in w.of("a", Log) if e.mnemonic == "SESSION_STATUS"]
    assert (
        downs[-1]
        == "%CRYPTO-5-SESSION_STATUS: Crypto tunnel is DOWN. Peer 10.0.0.2:500 Id: 10.0.0.2"
    )


def test_dpd_on_demand_answered_keeps_tunnel():
    w = wire(*_keepalive_pair(Keepalive(10, 2, "on-demand")))
    _up(w)
    w.advance(15)
    w.a.note_traffic(R2_OUT, w.now, inbound=False)
    w.advance(30)
    assert not w.of("a", IkeSaDown) and len(w.a.child_sas()) == 1


def test_failover_to_next_peer_after_dpd_death():
    """DPD-20: crypto map with several peers; the dead one is skipped next time."""
    from engine.config.model import CryptoPeer
    from engine.ike import PacketSelector

    c1, c2 = _keepalive_pair(Keepalive(10, 2, "periodic"))
    entry = c1.crypto_maps["VPN"].entries[10]
    entry.peers.append(CryptoPeer(ipaddress.ip_address("10.0.0.3")))
    c1.isakmp_keys[0].address = ipaddress.ip_network("10.0.0.0/24")
    w = wire(c1, c2)
    _up(w)
    w.drop = lambda who, data: True
    w.advance(25)
    assert w.of("a", IkeSaDown)[0].reason == "peers alive"
    n0 = len(w.log)
    assert w.a.acquire(PacketSelector("192.168.1.10", "192.168.2.10"), w.now)
    w.pump()
    assert w.log[n0][3] == ("10.0.0.3", 500)  # the next listed peer


def test_failover_after_failed_phase1():
    from engine.config.model import CryptoPeer

    c1, c2 = pair_configs()
    entry = c1.crypto_maps["VPN"].entries[10]
    entry.peers.insert(0, CryptoPeer(ipaddress.ip_address("10.0.0.9")))
    c1.isakmp_keys[0].address = ipaddress.ip_network("10.0.0.0/24")
    w = wire(c1, c2)
    w.drop = lambda who, data: w.log[-1][3][0] == "10.0.0.9"
    assert ping(w)
    w.advance(300)
    assert w.of("a", NegotiationFailed)[0].peer == "10.0.0.9"
    assert ping(w)
    w.pump()
    assert len(w.of("a", ChildSaUp)) == 1 and w.of("a", ChildSaUp)[0].pair.peer == R2_OUT


def test_responder_rekeys_when_initiator_does_not():
    c1, c2 = pair_configs(sa_lifetime=100)
    w = wire(c1, c2)
    w.a.timing.child_soft_initiator = 0.99  # the initiator is late: the responder rekeys
    _up(w)
    w.advance(96)
    ups = w.of("b", ChildSaUp)
    assert len(ups) == 2 and ups[1].pair.initiator  # b started this Quick Mode
    assert ups[1].rekey_of == ups[0].pair.inbound_spis
    w.advance(10)
    assert len(w.of("a", ChildSaUp)) == 2  # no second, duplicate rekey by a at 99 s


def test_no_double_rekey_when_both_sides_have_timers():
    w = wire(*pair_configs(sa_lifetime=100))
    _up(w)
    w.advance(99)
    assert len(w.of("a", ChildSaUp)) == 2 and len(w.of("b", ChildSaUp)) == 2


def test_invalid_spi_recovery_starts_phase1_then_notifies():
    """seed 000 L1014-1018: with invalid-spi-recovery, B (which lost its SAs) starts Main
    Mode to A and sends INVALID-SPI under it; A deletes the stale pair (and says so)."""
    c1, c2 = pair_configs()
    c2.globals.invalid_spi_recovery = True
    w = wire(c1, c2)
    ca, cb = _up(w)
    stale = cb.pair.inbound[0].spi
    w.b.clear_isakmp(w.now)  # B forgets everything, A keeps its SAs
    w.b._children.clear()
    w.pump()
    w.events_a.clear()
    w.now += 10
    assert w.b.send_invalid_spi(R1_OUT, stale, "esp", w.now)
    assert w.b.send_invalid_spi(R1_OUT, stale, "esp", w.now)  # queued on the same Phase 1
    w.pump()
    assert len(w.b.isakmp_sas()) == 1 and w.b.isakmp_sas()[0].initiator
    # B's new Main Mode carries INITIAL-CONTACT (it has no other SA with A), which already
    # clears A's stale pair (IOS does the same); the INVALID-SPI notify follows under it.
    assert [e.reason for e in w.of("a", ChildSaDown)] in (
        ["initial contact"],
        ["peer reported INVALID-SPI"],
    )
    assert not w.a.child_sas()
    assert w.b.isakmp_sas()[0].pending_notifies == []  # delivered


def test_invalid_spi_without_recovery_needs_an_sa():
    c1, c2 = pair_configs()
    w = wire(c1, c2)
    assert not w.b.send_invalid_spi(R1_OUT, 0x1234, "esp", 0)
    assert not w.b.datagrams_to_send(0)


def test_invalid_spi_recovery_rate_limit():
    c1, c2 = pair_configs()
    c2.globals.invalid_spi_recovery = True
    b = IkeEngine(c2, [R2_OUT])
    c2.isakmp_keys[0].address = ipaddress.ip_network("0.0.0.0/0")
    started = [b.send_invalid_spi(f"10.9.0.{i}", 0x1000 + i, "esp", 0.0) for i in range(1, 9)]
    assert started == [True] * 5 + [False] * 3
    assert b.send_invalid_spi("10.9.0.7", 0x2000, "esp", 1.5)  # next second: allowed again


def test_new_phase1_after_expiry_keeps_peer_ipsec_sas():
    """After the ISAKMP SA expires the IPsec SAs live on; the next Main Mode must not
    carry INITIAL-CONTACT, or the peer would drop the pairs still in use."""
    pol = [IsakmpPolicy(10, "aes", 128, "sha", "pre-share", 2, 100)]
    w = wire(*pair_configs(policies=pol, sa_lifetime=3600))
    ca, _ = _up(w)
    w.advance(101)
    assert w.of("a", IkeSaDown) and len(w.a.child_sas()) == len(w.b.child_sas()) == 1
    from engine.ike import PacketSelector

    sel = PacketSelector("192.168.1.10", "192.168.2.10", rekey_spi=ca.pair.inbound_spis[0])
    assert w.a.acquire(sel, w.now)
    w.pump()
    assert len(w.of("a", IkeSaUp)) == 2 and len(w.of("b", ChildSaUp)) == 2
    assert not w.of("b", ChildSaDown)  # the old pair survives until its own expiry


def test_idle_expired_deletes_pair_and_last_isakmp_sa():
    w = wire(*pair_configs())
    ca, _ = _up(w)
    assert w.a.idle_expired(ca.pair.inbound_spis[0], w.now)
    w.pump()
    assert [e.reason for e in w.of("a", ChildSaDown)] == ["idle timer"]
    assert w.of("b", ChildSaDown) and w.of("b", IkeSaDown)  # DELETEs for both reached b
    assert not w.a.isakmp_sas() and not w.b.isakmp_sas()
    assert not w.a.idle_expired(12345, w.now)


def test_debug_lines_for_dpd():
    from engine.ike.events import Debug

    w = wire(*_keepalive_pair(Keepalive(10, 2, "periodic")))
    w.a.debug = True
    _up(w)
    w.advance(11)
    lines = [str(e) for e in w.events_a if isinstance(e, Debug)]
    assert lines[0].endswith("):IKE_DPD is enabled, initializing timers")
    assert any("DPD/R_U_THERE_ACK received from peer 10.0.0.2, sequence 0x1" in x for x in lines)
    w.drop = lambda who, data: True
    w.advance(30)
    lines = [str(e) for e in w.events_a if isinstance(e, Debug)]
    assert any(x.endswith("peer 10.0.0.2 not responding!") for x in lines)
    assert sum("incrementing error counter on sa: PEERS_ALIVE_TIMER" in x for x in lines) == 5
    assert lines[-1].endswith('deleting SA reason "peers alive" state (I) QM_IDLE '
                              "(peer 10.0.0.2) input queue 0")


def test_isakmp_identity_hostname_and_client_endpoint():
    c1, c2 = pair_configs()
    c1.globals.isakmp_identity, c1.globals.hostname, c1.globals.domain_name = (
        "hostname",
        "RouterA",
        "example.com",
    )
    w = wire(c1, c2)
    _up(w)
    assert w.of("b", IkeSaUp)[0].peer_id == "RouterA.example.com"
    c1, c2 = pair_configs(aggressive=True)
    c1.isakmp_peers[0].aggressive_client_endpoint = "user@example.com"
    w = wire(c1, c2)
    _up(w)
    assert w.of("b", IkeSaUp)[0].peer_id == "user@example.com"


def test_aggressive_mode_key_by_hostname():
    from engine.config.model import IsakmpKey

    c1, c2 = pair_configs(aggressive=True)
    c1.isakmp_peers[0].aggressive_client_endpoint = "branch1.example.com"
    c2.isakmp_keys = [IsakmpKey("cisco123", hostname="branch1.example.com")]
    w = wire(c1, c2)
    _up(w)
    assert w.of("b", IkeSaUp)[0].peer_id == "branch1.example.com"


def test_simultaneous_initiation():
    from engine.ike import PacketSelector

    w = wire(*pair_configs())
    assert w.a.acquire(PacketSelector("192.168.1.10", "192.168.2.10"), 0)
    assert w.b.acquire(PacketSelector("192.168.2.10", "192.168.1.10"), 0)
    w.pump()
    assert not w.of("a", NegotiationFailed) and not w.of("b", NegotiationFailed)
    assert len(w.of("a", ChildSaUp)) == 2 and len(w.of("b", ChildSaUp)) == 2
    for ca in w.of("a", ChildSaUp):  # every pair has its mirror on the other side
        assert any(ca.pair.inbound == cb.pair.outbound for cb in w.of("b", ChildSaUp))


def test_no_preshared_key():
    from engine.ike.events import Debug

    c1, c2 = pair_configs()
    c2.isakmp_keys = []
    w = wire(c1, c2)
    w.b.debug = True
    ping(w)
    w.pump()
    assert [str(e) for e in w.events_b if isinstance(e, Debug)] == [
        "ISAKMP:(0):No pre-shared key with 10.0.0.1!"
    ]
    assert w.of("b", NegotiationFailed)[0].reason == "no pre-shared key"
    assert "NO_PROPOSAL_CHOSEN" in w.of("a", NegotiationFailed)[0].reason


def test_peer_moved_follows_nat_rebinding() -> None:
    """After a NAT rebinding seen by the data plane, DPD/DELETE go to the new mapping."""
    w = wire(*pair_configs())
    _up(w)
    sa = next(s for s in w.a.isakmp_sas() if s.established)
    old = tuple(sa.peer)
    new = (old[0], 40123)
    assert w.a.peer_moved(old, new) == 1
    assert tuple(sa.peer) == new
    assert w.a.peer_moved(old, new) == 0  # nothing left at the old mapping
    w.a.clear_isakmp()
    assert any(d.dst == new for d in w.a.datagrams_to_send(w.now)), "DELETE not sent to new port"
