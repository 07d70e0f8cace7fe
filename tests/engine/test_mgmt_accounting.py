"""IPsec VPN accounting session logic (seed 001 ch. 5) on synthetic IKE events.

The RADIUS transport is replaced by a recorder here; tests/lab/test_radius.py and
scenarios/mgmt/ send to a real FreeRADIUS.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from engine.config.ios import ModeState, apply_line
from engine.config.model import Config
from engine.ike.events import ChildSaDown, ChildSaUp, IkeSaUp, IpsecSaPair, SaKeys, TrafficSelector
from engine.mgmt import Management
from engine.mgmt import radius as r

CFG = """
hostname sheep
aaa new-model
aaa accounting network acc start-stop group radius
aaa accounting update periodic 1
crypto isakmp profile cisco
 vrf cisco
 match identity address 172.31.100.2 255.255.255.255
 accounting acc
crypto ipsec transform-set ts esp-aes esp-sha-hmac
access-list 101 permit ip host 10.20.20.20 host 10.10.10.10
crypto map test 10 ipsec-isakmp
 set peer 172.31.100.2
 set transform-set ts
 match address 101
 set isakmp-profile cisco
interface FastEthernet1/1
 ip address 172.28.100.1 255.255.255.0
 crypto map test
radius-server host 10.9.0.2 auth-port 1645 acct-port 1646 key nsite
radius-server vsa send accounting
"""


def _cfg(text: str = CFG) -> Config:
    cfg, st = Config(), ModeState()
    for ln in text.strip().splitlines():
        assert apply_line(cfg, ln, st) is None, ln
    return cfg


class Recorder:
    """Stands in for AccountingClient: evaluates each record's attributes at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, r.Packet, list]] = []
        self.results: list = []

    def submit(self, servers, attrs_for, status, session_id, **kw) -> None:
        pkt = r.decode(r.accounting_request(1, attrs_for("172.28.100.1"), b"k"))
        self.sent.append((status, pkt, servers))

    def close(self, drain: float = 0) -> None:
        pass


@dataclass
class Entry:
    pair: IpsecSaPair
    c: dict

    def counters(self) -> dict:
        return self.c


class Sadb:
    def __init__(self) -> None:
        self.entries: list[Any] = []


def _pair(spi_in: int, spi_out: int, peer: str = "172.31.100.2") -> IpsecSaPair:
    ts = TrafficSelector(ipaddress.ip_network("10.20.20.20/32"))
    k = lambda spi: SaKeys(spi, "esp", "aes128", bytes(16), "hmac-sha1-96", bytes(20))  # noqa: E731
    return IpsecSaPair(peer, "172.28.100.1", "tunnel", (k(spi_in),), (k(spi_out),), ts,
                       TrafficSelector(ipaddress.ip_network("10.10.10.10/32")), 3600, 4608000,
                       0.0, crypto_map="test", crypto_map_seq=10)


def _mgmt(cfg: Config | None = None) -> tuple[Management, Recorder, Sadb]:
    rec, sadb = Recorder(), Sadb()
    m = Management(cfg or _cfg(), sadb=sadb, client_factory=lambda: rec)
    return m, rec, sadb


def _up(m: Management, pair: IpsecSaPair, now: float, rekey: tuple = ()) -> None:
    m.on_event(ChildSaUp(pair, rekey), now)


def _down(m: Management, pair: IpsecSaPair, now: float) -> None:
    m.on_event(ChildSaDown(pair.peer, pair.inbound_spis, pair.outbound_spis, "cleared"), now)


def test_start_and_stop_with_profile() -> None:
    """L1739: Start after the IKE phases; L1774: Stop when no pairs are left; L1709: same id."""
    m, rec, sadb = _mgmt()
    m.on_event(IkeSaUp(("172.31.100.2", 500), ("172.28.100.1", 500), b"i" * 8, b"r" * 8, "main",
                       False, "aes128", "sha1", "psk", 2, 86400, False, 1, "172.31.100.2"), 0.0)
    p = _pair(0x1000, 0x2000)
    _up(m, p, 10.0)
    assert [s for s, _, _ in rec.sent] == [r.STATUS_START]
    start = rec.sent[0][1]
    assert start.avpairs() == {"vrf-id": "cisco", "isakmp-initator-ip": "172.31.100.2",
                               "connect-progress": "No Progress",
                               "isakmp-phase1-id": "172.31.100.2"}
    assert start.get(r.NAS_PORT).as_int() == 0 and start.get(r.ACCT_DELAY_TIME).as_int() == 0
    nas_port = [a for a in start.attributes if a.vendor == r.CISCO and a.vtype == r.CISCO_NAS_PORT]
    assert nas_port[0].value == b"FastEthernet1/1"
    assert rec.sent[0][2][0].port == 1646 and rec.sent[0][2][0].secret == b"nsite"
    sadb.entries.append(Entry(p, {"decaps": 4, "encaps": 5, "bytes_in": 608, "bytes_out": 760}))
    _down(m, p, 119.5)
    assert [s for s, _, _ in rec.sent] == [r.STATUS_START, r.STATUS_STOP]
    stop = rec.sent[1][1]
    assert stop.get(r.ACCT_SESSION_ID).value == start.get(r.ACCT_SESSION_ID).value == b"00000001"
    got = {t: stop.get(t).as_int() for t in (
        r.ACCT_SESSION_TIME, r.ACCT_INPUT_OCTETS, r.ACCT_OUTPUT_OCTETS, r.ACCT_INPUT_PACKETS,
        r.ACCT_OUTPUT_PACKETS, r.ACCT_INPUT_GIGAWORDS, r.ACCT_OUTPUT_GIGAWORDS,
        r.ACCT_TERMINATE_CAUSE)}
    assert got == {46: 109, 42: 608, 43: 760, 47: 4, 48: 5, 52: 0, 53: 0, 49: 0}
    assert stop.avpairs()["disc-cause-ext"] == "No Reason"
    assert m.status()["sessions"] == []


def test_rekey_sends_nothing_and_counts_both_generations() -> None:
    """L1739: no new records during rekeying; usage of the old pair stays in the total."""
    m, rec, sadb = _mgmt()
    old, new = _pair(0x1000, 0x2000), _pair(0x1001, 0x2001)
    _up(m, old, 0.0)
    sadb.entries.append(Entry(old, {"decaps": 3, "encaps": 3, "bytes_in": 300, "bytes_out": 300}))
    _up(m, new, 50.0, rekey=old.inbound_spis)
    _down(m, old, 51.0)
    sadb.entries = [Entry(new, {"decaps": 2, "encaps": 1, "bytes_in": 200, "bytes_out": 100})]
    assert [s for s, _, _ in rec.sent] == [r.STATUS_START]
    _down(m, new, 80.0)
    stop = rec.sent[-1][1]
    assert stop.get(r.ACCT_STATUS_TYPE).as_int() == r.STATUS_STOP
    assert (stop.get(r.ACCT_INPUT_PACKETS).as_int(), stop.get(r.ACCT_OUTPUT_OCTETS).as_int()) == (
        5, 400)


def test_interim_updates_every_period() -> None:
    """L1827, L1965: Watchdog records every ``periodic 1`` minute while up; none after Stop."""
    m, rec, sadb = _mgmt()
    p = _pair(0x1000, 0x2000)
    _up(m, p, 0.0)
    sadb.entries.append(Entry(p, {"decaps": 4, "encaps": 4, "bytes_in": 608, "bytes_out": 608}))
    for t in (30.0, 59.0, 60.0, 61.0, 119.0, 120.5):
        m.service(t)
    kinds = [s for s, _, _ in rec.sent]
    assert kinds == [r.STATUS_START, r.STATUS_INTERIM, r.STATUS_INTERIM]
    upd = rec.sent[1][1]
    assert upd.get(r.ACCT_SESSION_TIME).as_int() == 60
    assert upd.get(r.ACCT_INPUT_OCTETS).as_int() == 608
    assert upd.get(r.ACCT_INPUT_GIGAWORDS) is None  # L1840-1861: not in updates
    _down(m, p, 130.0)
    m.service(200.0)
    assert [s for s, _, _ in rec.sent][-1] == r.STATUS_STOP and len(rec.sent) == 4


def test_gigawords() -> None:
    """RFC 2869 §5.1-5.2, seed L1728-1729: wraps of the 32-bit octet counters."""
    m, rec, sadb = _mgmt()
    p = _pair(0x1000, 0x2000)
    _up(m, p, 0.0)
    sadb.entries.append(Entry(p, {"decaps": 1, "encaps": 1, "bytes_in": (3 << 32) + 5,
                                  "bytes_out": 1 << 32}))
    _down(m, p, 1.0)
    stop = rec.sent[-1][1]
    g = lambda t: stop.get(t).as_int()  # noqa: E731
    assert (g(r.ACCT_INPUT_GIGAWORDS), g(r.ACCT_INPUT_OCTETS)) == (3, 5)
    assert (g(r.ACCT_OUTPUT_GIGAWORDS), g(r.ACCT_OUTPUT_OCTETS)) == (1, 0)


def test_no_vsa_without_vsa_send_and_stop_only() -> None:
    """L1938: AV-pairs need ``radius-server vsa send accounting``; L1717: stop-only lists."""
    cfg = _cfg(CFG.replace("radius-server vsa send accounting\n", "").replace(
        "start-stop", "stop-only"))
    m, rec, _ = _mgmt(cfg)
    p = _pair(0x1000, 0x2000)
    _up(m, p, 0.0)
    _down(m, p, 5.0)
    assert [s for s, _, _ in rec.sent] == [r.STATUS_STOP]
    assert all(a.vendor is None for a in rec.sent[0][1].attributes)


def test_unaccounted_peer_and_missing_list() -> None:
    """L1926: only sessions of a profile with ``accounting`` are accounted."""
    m, rec, _ = _mgmt()
    _up(m, _pair(0x1000, 0x2000, peer="192.0.2.9"), 0.0)  # no profile matches, map has one...
    # ...the map entry's profile is 'cisco' with accounting, so this peer is accounted too.
    assert len(rec.sent) == 1
    cfg = _cfg(CFG.replace(" set isakmp-profile cisco\n", ""))
    m2, rec2, _ = _mgmt(cfg)
    _up(m2, _pair(0x1000, 0x2000, peer="192.0.2.9"), 0.0)
    assert rec2.sent == []
    cfg3 = _cfg(CFG.replace(" accounting acc\n", " accounting nosuch\n"))
    m3, rec3, _ = _mgmt(cfg3)
    _up(m3, _pair(0x1000, 0x2000), 0.0)
    assert rec3.sent == [] and "nosuch" in m3.status()["skipped"][0]


def test_crypto_map_client_accounting_without_profile() -> None:
    """L2119-2160: ``crypto map test client accounting list acc`` without an ISAKMP profile."""
    text = CFG.replace(" set isakmp-profile cisco\n", "").replace(
        " accounting acc\n", "").replace(" vrf cisco\n", "") + \
        "crypto map test client accounting list acc\n"
    m, rec, _ = _mgmt(_cfg(text))
    _up(m, _pair(0x1000, 0x2000), 0.0)
    assert [s for s, _, _ in rec.sent] == [r.STATUS_START]
    assert "vrf-id" not in rec.sent[0][1].avpairs()


def test_errors_never_escape() -> None:
    m, _, _ = _mgmt()
    m.on_event(ChildSaUp(None), 0.0)  # type: ignore[arg-type]
    assert m.errors >= 1
