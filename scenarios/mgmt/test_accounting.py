"""IPsec VPN accounting to a real RADIUS server (seed 001 chapter 5).

Router ``sheep`` (r1, our engine) accounts its IPsec session with r2 through ISAKMP
profile ``cisco`` (``accounting acc``) to FreeRADIUS on node rad: one Start record
after the IKE phases complete (L1737-1739), Watchdog/Interim updates every
``aaa accounting update periodic 1`` minute while up (L1825-1827, L1965), and one
Stop when no IPsec SA pair is left (L1772-1783), here after ``clear crypto
session`` (L261-267). Evidence: the server's ``detail`` accounting log.
"""

from __future__ import annotations

import re
import time
from contextlib import ExitStack
from pathlib import Path

from lab import Lab
from lab.radius import av_pairs, radius_on
from reports.scenario import Scenario
from scenarios.ios import _ipsec

HERE = Path(__file__).resolve().parent / "accounting"
TOPO = HERE / "engine.yaml"
SCENARIO = Scenario(
    seed="001_983f8f9dda4afa9a.txt", lines=(1655, 2243),
    section="IPsec VPN accounting: RADIUS start/stop/update records; configuration with an "
            "ISAKMP profile", chapter="Chapter 5",
    claim="With IPsec accounting configured, the router sends one RADIUS Accounting-Request "
          "Start when the session's IKE phases complete, interim updates with packet and octet "
          "counts while it is up, and one Stop with the session's usage when its last IPsec SA "
          "pair is deleted; Start and Stop carry the same Acct-Session-Id.",
    feature="mgmt-radius-accounting", topology="scenarios/mgmt/accounting/engine.yaml",
    peers=("engine",),
    notes=("The seed's example is a remote-access (Easy VPN) server; the lab keeps its AAA, "
           "RADIUS and ISAKMP-profile lines on a site-to-site crypto map (no XAUTH, so no "
           "User-Name and no Framed-IP-Address; no group, so no isakmp-group-id).",
           "AV-pair spelling isakmp-initator-ip as in two of the seed's three records and all "
           "three length fields (L1757, L1796, L1842); Table 4 says isakmp-initiator-ip.",
           "Acct-Output-Gigawords is attribute 53 (RFC 2869; the record at L1808), not 52 as "
           "Table 5 prints.",
           "clock_scale 20: the 1-minute update period is 3 real seconds."))

PINGS = 5
START, INTERIM, STOP = "Start", "Interim-Update", "Stop"


def _kinds(recs: list[dict]) -> list[str]:
    return [x["Acct-Status-Type"][0] for x in recs]


def _one(rec: dict, name: str) -> str | None:
    v = rec.get(name)
    return v[0] if v else None


def test_start_interim_stop(ev, peer: str) -> None:
    ev.topology(TOPO)
    ev.config("r1", HERE / "r1.cfg", label="engine (seed 001 L1985-2117 lines)")
    ev.config("r2", HERE / "r2.cfg", label="engine peer")
    with ExitStack() as stack:
        with ev.step("bring up the lab and FreeRADIUS on rad (acct-port 1646, key cisco123)"):
            lab = stack.enter_context(Lab.up(TOPO))
            rad = stack.enter_context(radius_on(lab.node("rad"), secret="cisco123"))
        with ev.collecting(lab, nodes=("r1", "r2")):
            try:
                _run(ev, lab, rad)
            finally:
                ev.attach(rad.detail, label="FreeRADIUS detail accounting log")


def _run(ev, lab, rad) -> None:
    r1 = lab.node("r1")
    ev.show(r1, "show running-config", label="AAA/RADIUS lines as the engine loaded them")
    ev.check("no accounting record before the session", _kinds(rad.records()), [])
    with ev.step(f"h1 pings h2 {PINGS} times (brings the session up)"):
        res = lab.node("h1").ping("10.0.2.2", count=PINGS, interval=0.2, wait=2)
        ev.note(res.output)
    ev.check("session traffic crosses", res.received, f">= {PINGS - 1}",
             ok=res.received >= PINGS - 1)
    ev.show(r1, "show crypto session detail", label="session up")
    ev.wait_for("Start record at the RADIUS server after the IKE phases (L1739)",
                lambda: _kinds(rad.records()), lambda k: START in k, [START], within=10)
    start = next(x for x in rad.records() if _one(x, "Acct-Status-Type") == START)
    ev.note("Start record: " + repr(start))
    ev.check("Start: NAS-IP-Address = r1's address towards the server (L1764)",
             _one(start, "NAS-IP-Address"), "10.1.1.1")
    ev.check("Start: NAS-Port 0, Acct-Delay-Time 0 (L1763, L1765)",
             (_one(start, "NAS-Port"), _one(start, "Acct-Delay-Time")), ("0", "0"))
    ev.check("Start: Cisco AV-pairs vrf-id, initiator ip, connect-progress (L1751-1757)",
             {k: v for k, v in av_pairs(start).items() if k != "isakmp-phase1-id"},
             {"vrf-id": "cisco", "isakmp-initator-ip": "10.2.2.2",
              "connect-progress": "No Progress"})
    ev.check("Start: isakmp-phase1-id = the peer's phase-1 identity (Table 4, L1713)",
             av_pairs(start).get("isakmp-phase1-id"), "10.2.2.2")
    ev.check("Start: cisco-nas-port = the crypto map interface (L1762)",
             _one(start, "Cisco-NAS-Port"), "FastEthernet1/1")
    sid = _one(start, "Acct-Session-Id")
    ev.check("Start: Acct-Session-Id of 8 digits (L1749)", len(sid or ""), 8)

    ev.wait_for("an interim update while the session is up (periodic 1 = 3 s real, L1827)",
                lambda: _kinds(rad.records()), lambda k: INTERIM in k, [START, INTERIM],
                within=12)
    sa_txt = ev.show(r1, "show crypto ipsec sa", label="counters during the session")
    counters = _ipsec.ipsec_counters(sa_txt)
    upd = next(x for x in rad.records() if _one(x, "Acct-Status-Type") == INTERIM)
    ev.check("update: packet counts = show crypto ipsec sa decaps/encaps (L1733)",
             (int(_one(upd, "Acct-Input-Packets") or -1),
              int(_one(upd, "Acct-Output-Packets") or -1)),
             (counters.get("decaps"), counters.get("encaps")))
    ev.check("update: octets counted (L1842-1845)", int(_one(upd, "Acct-Input-Octets") or 0),
             "> 0", ok=int(_one(upd, "Acct-Input-Octets") or 0) > 0)
    ev.check("update: same Acct-Session-Id", _one(upd, "Acct-Session-Id"), sid)

    with ev.step("clear crypto session on r1 (deletes every IKE and IPsec SA, L267)"):
        r1.cli("clear crypto session")
    ev.wait_for("Stop record when no IPsec SA pair is left (L1774)",
                lambda: _kinds(rad.records()), lambda k: STOP in k, [START, "...", STOP],
                within=10)
    stop = next(x for x in rad.records() if _one(x, "Acct-Status-Type") == STOP)
    ev.note("Stop record: " + repr(stop))
    ev.check("Stop: Acct-Session-Id = the Start's (L1709)", _one(stop, "Acct-Session-Id"), sid)
    ev.check("Stop: packets in/out = the SA counters (L1722-1726)",
             (int(_one(stop, "Acct-Input-Packets") or -1),
              int(_one(stop, "Acct-Output-Packets") or -1)),
             (counters.get("decaps"), counters.get("encaps")))
    ev.check("Stop: gigawords 0 below 4 GiB (L1807-1808)",
             (_one(stop, "Acct-Input-Gigawords"), _one(stop, "Acct-Output-Gigawords")),
             ("0", "0"))
    ev.check("Stop: Acct-Session-Time in protocol seconds > 0 (L1797)",
             int(_one(stop, "Acct-Session-Time") or 0), "> 0",
             ok=int(_one(stop, "Acct-Session-Time") or 0) > 0)
    ev.check("Stop: disc-cause-ext=No Reason (L1812)", av_pairs(stop).get("disc-cause-ext"),
             "No Reason")
    ev.check("Stop: Acct-Terminate-Cause present (L1810)",
             "Acct-Terminate-Cause" in stop, True)
    ev.show(r1, "show crypto session", label="after clear crypto session")
    with ev.step("wait two update periods (6 s real)"):
        time.sleep(6.5)
    kinds = _kinds(rad.records())
    ev.check("exactly one Start and one Stop; no update after the Stop (L1827)",
             (kinds.count(START), kinds.count(STOP), kinds[-1]), (1, 1, STOP))
    st = r1.cli("lab mgmt", json=True) or {}
    recs = st.get("records", [])
    ev.check("every record acknowledged by the server on the first attempt (L1767-1768)",
             sorted({(x["acked"], x["attempts"]) for x in recs}), [(True, 1)])
    start_dbg = next((x["debug"] for x in recs if x["status"] == 1), [])
    ev.note("debug radius rendering of the Start record:\n" + "\n".join(start_dbg))
    ev.check("debug radius: 'Send Accounting-Request to <server>:1646 id N, len L' (L1745)",
             bool(start_dbg) and bool(re.search(
                 r"Send Accounting-Request to 10\.3\.3\.4:1646 id \d+, len \d+$",
                 start_dbg[1])), True)
    ev.check("debug radius: 'Acct-Session-Id [44] 10' and 'Acct-Status-Type [40] 6 Start [1]' "
             "(L1749, L1760)",
             (any(re.search(r'Acct-Session-Id\s+\[44\] 10\s+"0{7}1"', x) for x in start_dbg),
              any(re.search(r"Acct-Status-Type\s+\[40\] 6\s+Start \[1\]", x)
                  for x in start_dbg)), (True, True))


def test_no_records_on_rekey(ev, peer: str) -> None:
    """L1739: 'No new accounting records are generated during rekeying.'"""
    ev.topology(TOPO)
    ev.config("r1", HERE / "r1.cfg", label="engine (seed 001 L1985-2117 lines)")
    with ExitStack() as stack:
        with ev.step("bring up the lab and FreeRADIUS on rad"):
            lab = stack.enter_context(Lab.up(TOPO))
            rad = stack.enter_context(radius_on(lab.node("rad"), secret="cisco123"))
        with ev.collecting(lab, nodes=("r1", "r2")):
            try:
                _rekey(ev, lab, rad)
            finally:
                ev.attach(rad.detail, label="FreeRADIUS detail accounting log")


def _spis(node) -> set[int]:
    return {k["spi"] for k in (node.cli("lab keys", json=True) or []) if k["direction"] == "in"}


def _rekey(ev, lab, rad) -> None:
    r1, r2 = lab.node("r1"), lab.node("r2")
    line = "crypto ipsec security-association lifetime seconds 120"
    with ev.step(f"'{line}' on both routers (120 s = 6 s real at clock scale 20)"):
        for r in (r1, r2):
            r.cli(f"lab config {line}")
    with ev.step("h1 pings h2 (session up)"):
        lab.node("h1").ping("10.0.2.2", count=3, interval=0.2, wait=2)
    ev.wait_for("Start record", lambda: _kinds(rad.records()), lambda k: START in k, [START],
                within=10)
    first = _spis(r1)
    ev.note(f"inbound SPIs before the rekey: {sorted(first)}")
    with ev.step("traffic for 12 s real (240 protocol seconds: two lifetimes)"):
        res = lab.node("h1").ping("10.0.2.2", count=24, interval=0.5, wait=2)
        ev.note(res.output)
    now = _spis(r1)
    ev.check("the IPsec SAs were rekeyed (new inbound SPIs)", sorted(now),
             f"disjoint from {sorted(first)}", ok=bool(now) and not (now & first))
    ev.check("pings kept crossing during the rekeys", res.received, ">= 20",
             ok=res.received >= 20)
    kinds = _kinds(rad.records())
    ev.check("one Start, no Stop, no second Start across the rekeys (L1739)",
             (kinds.count(START), kinds.count(STOP)), (1, 0))
    ev.check("Interim updates keep the same session id",
             sorted({_one(x, "Acct-Session-Id") for x in rad.records()}), ["00000001"])


def test_stop_when_the_peer_deletes(ev, peer: str) -> None:
    """L1772-1774: Stop when no flow is left with the peer, here after the peer's DELETEs."""
    ev.topology(TOPO)
    with ExitStack() as stack:
        with ev.step("bring up the lab and FreeRADIUS on rad"):
            lab = stack.enter_context(Lab.up(TOPO))
            rad = stack.enter_context(radius_on(lab.node("rad"), secret="cisco123"))
        with ev.collecting(lab, nodes=("r1", "r2")):
            try:
                with ev.step("h1 pings h2 (session up)"):
                    lab.node("h1").ping("10.0.2.2", count=3, interval=0.2, wait=2)
                ev.wait_for("Start record", lambda: _kinds(rad.records()),
                            lambda k: START in k, [START], within=10)
                with ev.step("clear crypto session on r2 (the peer sends DELETEs to r1)"):
                    lab.node("r2").cli("clear crypto session")
                ev.wait_for("Stop record from r1 after the peer's DELETE",
                            lambda: _kinds(rad.records()), lambda k: STOP in k,
                            [START, STOP], within=10)
                recs = rad.records()
                ev.check("Start and Stop carry the same Acct-Session-Id (L1709)",
                         len({_one(x, "Acct-Session-Id") for x in recs
                              if _one(x, "Acct-Status-Type") in (START, STOP)}), 1)
                ev.show(lab.node("r1"), "show crypto session", label="after the peer's clear")
            finally:
                ev.attach(rad.detail, label="FreeRADIUS detail accounting log")


def test_stop_when_the_engine_shuts_down(ev, peer: str) -> None:
    """The engine's orderly exit deletes its SAs (DELETEs sent) and so ends the session with
    a Stop record (L1774) before it exits."""
    ev.topology(TOPO)
    with ExitStack() as stack:
        with ev.step("bring up the lab and FreeRADIUS on rad"):
            lab = stack.enter_context(Lab.up(TOPO))
            rad = stack.enter_context(radius_on(lab.node("rad"), secret="cisco123"))
        try:
            with ev.step("h1 pings h2 (session up)"):
                lab.node("h1").ping("10.0.2.2", count=3, interval=0.2, wait=2)
            ev.wait_for("Start record", lambda: _kinds(rad.records()), lambda k: START in k,
                        [START], within=10)
            with ev.step("stop r1's engine (SIGTERM)"):
                lab.node("r1").stop_daemon()
            ev.wait_for("Stop record sent while the engine exits", lambda: _kinds(rad.records()),
                        lambda k: STOP in k, [START, STOP], within=10)
        finally:
            ev.attach(rad.detail, label="FreeRADIUS detail accounting log")


def test_crypto_map_accounting_without_profile(ev, peer: str) -> None:
    """L2119-2160: with no ISAKMP profile, ``crypto map NAME client accounting list L``
    enables accounting for the crypto map's sessions."""
    ev.topology(TOPO)
    with ExitStack() as stack:
        with ev.step("bring up the lab and FreeRADIUS on rad"):
            lab = stack.enter_context(Lab.up(TOPO))
            rad = stack.enter_context(radius_on(lab.node("rad"), secret="cisco123"))
        r1 = lab.node("r1")
        try:
            with ev.step("remove the ISAKMP profile, enable accounting on crypto map test "
                         "(lab config = configure terminal)"):
                for line in ("no crypto isakmp profile cisco",
                             "crypto map test client accounting list acc"):
                    reply = r1.cli(f"lab config {line}")
                    ev.note(f"{line}: {reply!r}")
            run = ev.show(r1, "show running-config", label="after the change")
            ev.check("running config: no profile, crypto map accounting line",
                     ("crypto isakmp profile" in run,
                      "crypto map test client accounting list acc" in run), (False, True))
            with ev.step("h1 pings h2 (session up)"):
                lab.node("h1").ping("10.0.2.2", count=3, interval=0.2, wait=2)
            ev.wait_for("Start record for the crypto map's session", lambda: _kinds(rad.records()),
                        lambda k: START in k, [START], within=10)
            start = next(x for x in rad.records() if _one(x, "Acct-Status-Type") == START)
            ev.check("no vrf-id AV-pair without the profile's 'vrf cisco'",
                     "vrf-id" in av_pairs(start), False)
            ev.check("initiator AV-pair still present", av_pairs(start).get("isakmp-initator-ip"),
                     "10.2.2.2")
        finally:
            ev.attach(rad.detail, label="FreeRADIUS detail accounting log")
