"""IPsec flow MIB view, pass_persist protocol and notifications (seed 001 ch. 3-4)."""

from __future__ import annotations

import io
import ipaddress
import json
from pathlib import Path

from engine.config.ios import ModeState, apply_line
from engine.config.model import Config
from engine.ike.events import (
    ChildSaDown,
    ChildSaUp,
    IkeSaDown,
    IkeSaUp,
    IpsecSaPair,
    NegotiationFailed,
    SaKeys,
    TrafficSelector,
)
from engine.mgmt import Management
from engine.mgmt import snmp_mib as mib
from engine.mgmt.snmp_pass import Snapshot, serve


def _cfg(extra: str = "") -> Config:
    cfg, st = Config(), ModeState()
    for ln in ("hostname ipsecf-3745b\nsnmp-server community public RO\n" + extra).splitlines():
        assert apply_line(cfg, ln, st) is None, ln
    return cfg


def _ike_up() -> IkeSaUp:
    return IkeSaUp(("10.1.1.1", 500), ("10.1.1.2", 500), b"i" * 8, b"r" * 8, "main", False,
                   "des", "sha1", "psk", 1, 86400, False, 1, "10.1.1.1")


def _pair() -> IpsecSaPair:
    k = lambda spi, proto, encr, integ: SaKeys(spi, proto, encr, b"k" * 8, integ, b"k" * 20)  # noqa: E731
    return IpsecSaPair(
        "10.1.1.1", "10.1.1.2", "tunnel",
        (k(3891970674, "ah", None, "hmac-sha1-96"), k(3691920464, "esp", "des", "hmac-sha1-96")),
        (k(1963217493, "ah", None, "hmac-sha1-96"), k(3458912974, "esp", "des", "hmac-sha1-96")),
        TrafficSelector(ipaddress.ip_network("10.22.1.1/32")),
        TrafficSelector(ipaddress.ip_network("10.20.1.1/32")), 5000, 99000, 0.0)


class Entry:
    def __init__(self, pair: IpsecSaPair, c: dict) -> None:
        self.pair, self.c = pair, c

    def counters(self) -> dict:
        return self.c


class Sadb:
    entries: list = []


def test_identity_formats() -> None:
    """L1061-1075: zero-padded dotted quads and the cikePeer index of the seed's walk."""
    assert mib.padded("10.1.1.2") == "010.001.001.002"
    idx = ".".join(map(str, mib.peer_index("10.1.1.2", "10.1.1.1")))
    assert idx == ("1.15.48.49.48.46.48.48.49.46.48.48.49.46.48.48.50.1.15.48.49.48.46.48.48."
                   "49.46.48.48.49.46.48.48.49.1")  # verbatim from L1061-1062
    assert mib.octets("10.1.1.2") == "0a 01 01 02"


def test_walk_matches_seed_rows() -> None:
    """L1069-1224: IKE tunnel row, IPsec tunnel row, SPI rows 1.1-1.4, HC = 32-bit counter."""
    m = mib.FlowMib("ipsecf-3745b")
    sadb = Sadb()
    assert m.on_event(_ike_up(), 0.0) == "ike-start"
    p = _pair()
    assert m.on_event(ChildSaUp(p), 1.0) == "ipsec-start"
    sadb.entries = [Entry(p, {"decaps": 4, "decrypt": 4, "verify": 4, "bytes_in": 400,
                              "encaps": 4, "encrypt": 4, "digest": 4, "bytes_out": 704})]
    o = m.objects(100.0, sadb, _cfg())
    assert o[mib.OBJ + (1, 1, 0)] == ("integer", 1)
    t = lambda c: o[mib.IKE_TUN + (c, 1)]  # noqa: E731
    assert [t(c)[1] for c in (2, 3, 5, 7, 10, 11, 12, 13, 14, 15, 35)] == [
        1, "010.001.001.002", "ipsecf-3745b", "010.001.001.001", 1, 2, 2, 3, 2, 86400, 1]
    s = lambda c: o[mib.IPSEC_TUN + (c, 1)][1]  # noqa: E731
    assert [s(c) for c in (2, 3, 8, 9, 15, 17, 18, 19)] == [1, 1, 99000, 5000, 4, 2, 3, 3]
    assert (s(26), s(27), s(39), s(40)) == (400, 400, 704, 704)  # L1114-1132
    spis = [(o[mib.SPI + (2, 1, n)][1], o[mib.SPI + (3, 1, n)][1], o[mib.SPI + (4, 1, n)][1])
            for n in (1, 2, 3, 4)]
    assert spis == [(1, 3891970674, 1), (2, 1963217493, 1), (1, 3691920464, 2),
                    (2, 3458912974, 2)]  # L1209-1224
    assert o[mib.IPSEC_GLOBAL + (4, 0)] == ("counter64", 400)
    assert o[mib.ENDPT + (4, 1, 1)] == ("octet", "0a 16 01 01")  # 10.22.1.1
    assert o[mib.HIST_CNTL + (1, 0)] == ("integer", 200)  # L883 default
    # deleting keeps the usage in the globals and counts a previous tunnel
    m.on_event(ChildSaDown(p.peer, p.inbound_spis, p.outbound_spis, "x"), 150.0, sadb)
    sadb.entries = []
    m.on_event(IkeSaDown(("10.1.1.1", 500), ("10.1.1.2", 500), b"i" * 8, b"r" * 8, "x"), 151.0)
    o2 = m.objects(160.0, sadb, _cfg())
    assert o2[mib.IPSEC_GLOBAL + (3, 0)] == ("counter", 400)
    assert (o2[mib.IPSEC_GLOBAL + (1, 0)][1], o2[mib.IPSEC_GLOBAL + (2, 0)][1]) == (0, 1)
    assert (o2[mib.IKE_GLOBAL + (1, 0)][1], o2[mib.IKE_GLOBAL + (2, 0)][1]) == (0, 1)
    assert not any(k[:len(mib.IPSEC_TUN)] == mib.IPSEC_TUN for k in o2)


def test_trap_control_from_config() -> None:
    """L886-898: start/stop enabled with ipsec/isakmp notifications; the rest disabled."""
    assert mib.trap_enabled(_cfg()) == set()
    assert mib.trap_enabled(_cfg("snmp-server enable traps ipsec isakmp")) == {"ipsec", "isakmp"}
    assert mib.trap_enabled(_cfg("snmp-server enable traps isakmp policy add")) == set()
    o = mib.FlowMib().objects(0.0, None, _cfg("snmp-server enable traps isakmp tunnel start"))
    assert [o[mib.TRAP_CNTL + (i, 0)][1] for i in range(1, 14)] == [1, 1] + [2] * 11


def test_pass_persist_protocol(tmp_path: Path) -> None:
    """snmpd.conf(5) pass_persist: PING/PONG, get, getnext in OID order, NONE, not-writable."""
    snap = tmp_path / "mib.json"
    snap.write_text(json.dumps({"objects": {
        ".1.3.6.1.4.1.9.9.171.1.1.1.0": ["integer", 1],
        ".1.3.6.1.4.1.9.9.171.1.3.1.10.0": ["counter", 7],
        ".1.3.6.1.4.1.9.9.171.1.3.1.9.0": ["counter", 5]}}))
    inp = io.StringIO("PING\nget\n.1.3.6.1.4.1.9.9.171.1.1.1.0\ngetnext\n"
                      ".1.3.6.1.4.1.9.9.171.1.1.1.0\ngetnext\n.1.3.6.1.4.1.9.9.171.1.3.1.9.0\n"
                      "getnext\n.1.3.6.1.4.1.9.9.171.1.3.1.10.0\nget\n.1.3.6.1.4.1.9.9.171.9\n"
                      "set\n.1.3.6.1.4.1.9.9.171.1.1.1.0\ninteger 2\n")
    out = io.StringIO()
    serve(Snapshot(str(snap)), inp, out)
    assert out.getvalue().splitlines() == [
        "PONG",
        ".1.3.6.1.4.1.9.9.171.1.1.1.0", "integer", "1",
        ".1.3.6.1.4.1.9.9.171.1.3.1.9.0", "counter", "5",  # 9 sorts before 10 (numeric)
        ".1.3.6.1.4.1.9.9.171.1.3.1.10.0", "counter", "7",
        "NONE", "NONE", "not-writable"]


def test_snapshot_missing_file_answers_none(tmp_path: Path) -> None:
    out = io.StringIO()
    serve(Snapshot(str(tmp_path / "none.json")), io.StringIO("getnext\n.1\n"), out)
    assert out.getvalue() == "NONE\n"


def test_management_writes_snapshot_and_records_traps(tmp_path: Path, monkeypatch) -> None:
    """The engine side: snapshot file for snmpd; notifications only to allowed receivers.
    (``snmptrap`` is replaced by ``true``: nothing leaves this namespace; the lab scenario
    scenarios/mgmt/test_snmp.py sends real ones inside a lab.)"""
    import engine.mgmt.snmp as snmp

    monkeypatch.setattr(snmp, "SNMPTRAP", "/bin/true")
    cfg = _cfg("snmp-server enable traps ipsec isakmp\n"
               "snmp-server host 192.0.2.1 version 2c public udp-port 9 isakmp\n")
    m = Management(cfg, sadb=Sadb(), mib_path=tmp_path / "snmp-mib.json")
    m.on_event(_ike_up(), 0.0)
    m.on_event(ChildSaUp(_pair()), 1.0)
    m.service(2.0)
    data = json.loads((tmp_path / "snmp-mib.json").read_text())
    assert data["objects"][".1.3.6.1.4.1.9.9.171.1.2.1.1.0"] == ["gauge", 1]
    # the host lists only "isakmp": the IPsec tunnel start is not sent to it
    assert [t["trap"] for t in m.status()["traps"]] == [".1.3.6.1.4.1.9.9.171.2.0.1"]
    m.close()
    assert m.errors == 0


def test_no_snmp_without_snmp_lines(tmp_path: Path) -> None:
    cfg = Config()
    m = Management(cfg, mib_path=tmp_path / "x.json")
    m.on_event(_ike_up(), 0.0)
    m.service(1.0)
    assert m.snmp is None and not (tmp_path / "x.json").exists()


def test_history_and_failure_tables_are_bounded() -> None:
    """L1442-1444: terminated tunnels go to the history table (no failure row), setup
    failures to the failure table (no history row); both hold at most their size (TB-42..44)."""
    cfg = _cfg("crypto mib ipsec flowmib history tunnel size 2\n"
               "crypto mib ipsec flowmib history failure size 3")
    m = mib.FlowMib()
    for n in range(3):
        p = _pair()
        p = IpsecSaPair(p.peer, p.local, p.mode, tuple(
            SaKeys(k.spi + n, k.proto, k.encr, k.encr_key, k.integ, k.integ_key)
            for k in p.inbound), p.outbound, p.local_ts, p.remote_ts, 5000, 99000, 0.0)
        m.on_event(ChildSaUp(p), float(n))
        m.on_event(ChildSaDown(p.peer, p.inbound_spis, p.outbound_spis, "cleared"), n + 0.5)
    for n in range(5):
        assert m.on_event(NegotiationFailed("no acceptable proposal", "10.9.9.9", 2), 9.0) is None
    o = m.objects(10.0, None, cfg)
    hist = sorted(k[-1] for k in o if k[:len(mib.IPSEC_HIST) + 1] == mib.IPSEC_HIST + (2,))
    assert hist == [2, 3]  # the two newest of three terminated tunnels
    assert o[mib.IPSEC_HIST + (2, 3)] == ("integer", 3)  # operRequest(3): clear
    fails = sorted(k[-1] for k in o if k[:len(mib.IPSEC_FAIL) + 1] == mib.IPSEC_FAIL + (2,))
    assert fails == [3, 4, 5] and o[mib.IPSEC_FAIL + (2, 5)] == ("integer", 4)  # proposalFailure
    assert not any(k[:len(mib.IKE_FAIL)] == mib.IKE_FAIL for k in o)


def test_snmptrap_argv_v1_v2c_inform(tmp_path: Path, monkeypatch) -> None:
    """The snmptrap command lines: v2c trap, v2c inform (-Ci), v1 (enterprise, 6, specific).
    A recording script stands in for snmptrap (nothing is sent)."""
    import stat
    import time

    import engine.mgmt.snmp as snmp

    rec = tmp_path / "argv.log"
    fake = tmp_path / "snmptrap"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {rec}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(snmp, "SNMPTRAP", str(fake))
    cfg = _cfg("snmp-server enable traps ipsec isakmp\n"
               "snmp-server host 192.0.2.1 version 2c pub isakmp\n"
               "snmp-server host 192.0.2.2 informs version 2c inf isakmp\n"
               "snmp-server host 192.0.2.3 version 1 v1c isakmp\n")
    m = Management(cfg, sadb=Sadb(), mib_path=tmp_path / "snmp-mib.json")
    m.on_event(_ike_up(), 0.0)
    m.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (not rec.exists() or
                                           len(rec.read_text().splitlines()) < 3):
        time.sleep(0.05)
    lines = sorted(rec.read_text().splitlines())
    lt = ".1.3.6.1.4.1.9.9.171.1.2.3.1.15.1 i 86400"
    assert lines[0].startswith("-Ci -t 1 -r 2 -v 2c -c inf 192.0.2.2:162  "
                               ".1.3.6.1.4.1.9.9.171.2.0.1 ") and lines[0].endswith(lt)
    assert lines[1].startswith("-v 1 -c v1c 192.0.2.3:162 .1.3.6.1.4.1.9.9.171.2  6 1  ")
    assert lines[2].startswith("-v 2c -c pub 192.0.2.1:162  .1.3.6.1.4.1.9.9.171.2.0.1 ")
