"""IPsec VPN monitoring (seed 001 chapter 2): sessions, peer description, syslog, clear.

r1 names its IKE peer with ``crypto isakmp peer address`` + ``description``
(L271-290); after traffic brings the session up, ``show crypto session`` and
``show crypto session detail`` list it as the L360-390 samples do, a
``%CRYPTO-5-SESSION_STATUS`` message reports it UP (L243-252), and ``clear
crypto session`` removes the IKE and IPsec SAs with one command (L261-267,
L341-352) with a DOWN message.
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path

from lab import Lab
from reports.scenario import Scenario

HERE = Path(__file__).resolve().parent / "monitoring"
TOPO = HERE / "engine.yaml"
SCENARIO = Scenario(
    seed="001_983f8f9dda4afa9a.txt", lines=(178, 431),
    section="IPsec VPN monitoring: peer description, show crypto session [detail], session "
            "syslog, clear crypto session", chapter="Chapter 2",
    claim="A crypto session (one IKE SA and at least two IPsec SAs) is listed by show crypto "
          "session with its interface, UP-ACTIVE status, peer, IKE SA and IPsec flows, the "
          "detail form adds the peer description, phase-1 id and per-flow packet counts; a "
          "syslog message reports the session up and down; clear crypto session deletes all "
          "IKE and IPsec SAs.",
    feature="mgmt-monitoring", topology="scenarios/mgmt/monitoring/engine.yaml",
    peers=("engine",),
    notes=("The seed prints both 'Crypto session is UP.' (L250) and 'Crypto tunnel is UP.' "
           "(L321); either wording is accepted.",
           "clear crypto session with parameters (remote/local address, L263-267) is not "
           "checked: the keyword syntax is not in the seed."))

PINGS = 5
STATUS = re.compile(r"%CRYPTO-5-SESSION_STATUS: Crypto (?:session|tunnel) is (UP|DOWN)\. "
                    r"Peer 10\.2\.2\.2:500")


def _syslog(node) -> list[str]:
    return list(node.cli("lab syslog", json=True) or [])


def _status(lines: list[str]) -> list[str]:
    return [m.group(1) for ln in lines for m in [STATUS.search(ln)] if m]


def test_session_monitoring(ev, peer: str) -> None:
    ev.topology(TOPO)
    ev.config("r1", HERE / "r1.cfg", label="engine (seed 001 L287-290 description)")
    ev.config("r2", HERE / "r2.cfg", label="engine peer")
    with ExitStack() as stack:
        with ev.step("bring up the lab"):
            lab = stack.enter_context(Lab.up(TOPO))
        with ev.collecting(lab, nodes=("r1", "r2")):
            _run(ev, lab)


def _run(ev, lab) -> None:
    r1 = lab.node("r1")
    peer_txt = ev.show(r1, "show crypto isakmp peer", label="configured peer (L307-331)")
    ev.check("show crypto isakmp peer: Peer/Description/flags lines (L326-331)",
             [ln.strip() for ln in peer_txt.strip().splitlines()],
             ["Peer: 10.2.2.2 Port: 500", "Description: connection from site A",
              "flags: PEER_POLICY"])
    before = ev.show(r1, "show crypto session", label="before traffic")
    ev.check("no UP-ACTIVE session before traffic", "UP-ACTIVE" in before, False)

    with ev.step(f"h1 pings h2 {PINGS} times"):
        res = lab.node("h1").ping("10.0.2.2", count=PINGS, interval=0.2, wait=2)
        ev.note(res.output)
    ev.check("traffic crosses", res.received, f">= {PINGS - 1}", ok=res.received >= PINGS - 1)
    sa_txt = ev.show(r1, "show crypto ipsec sa", label="after traffic")
    enc = sum(int(x) for x in re.findall(r"#pkts encaps: (\d+)", sa_txt))
    dec = sum(int(x) for x in re.findall(r"#pkts decaps: (\d+)", sa_txt))

    summ = ev.show(r1, "show crypto session", label="session up (L360-369 layout)")
    lines = [ln.strip() for ln in summ.strip().splitlines() if ln.strip()]
    ev.check("show crypto session summary (L360-369)", lines,
             ["Crypto session current status", "Interface: FastEthernet1/1",
              "Session status: UP-ACTIVE", "Peer: 10.2.2.2/500",
              "IKE SA: local 10.1.1.1/500 remote 10.2.2.2/500 Active",
              "IPSEC FLOW: permit ip 10.0.0.0/255.255.255.0 10.0.2.0/255.255.255.0",
              "Active SAs: 2, origin: crypto map"],
             how="seed L366's flow form for the ACL 'permit ip 10.0.0.0 0.0.0.255 10.0.2.0 "
                 "0.0.0.255'; 1 IKE SA + 2 IPsec SAs = TB-10 (L218); blank lines ignored "
                 "(the PDF text has none, IOS prints one after the header)")
    det = ev.show(r1, "show crypto session detail", label="session detail (L373-390 layout)")
    d = [ln.strip() for ln in det.strip().splitlines()]
    ev.check("detail: peer line with port and VRFs (L376)",
             "Peer: 10.2.2.2 port 500 fvrf: (none) ivrf: (none)" in d, True)
    ev.check("detail: Desc line = the configured description (L377)",
             "Desc: connection from site A" in d, True)
    ev.check("detail: Phase1_id = the peer's address identity (L378)",
             "Phase1_id: 10.2.2.2" in d, True)
    ev.check("detail: Capabilities/connid/lifetime line (L380)",
             any(re.fullmatch(r"Capabilities:\S+ connid:\d+ lifetime:\d+:\d\d:\d\d", x)
                 for x in d), True)
    inb = next((x for x in d if x.startswith("Inbound:")), "")
    outb = next((x for x in d if x.startswith("Outbound:")), "")
    ev.check("detail: #pkts dec'ed / enc'ed = the SA's decaps / encaps (L384-389, TB-9)",
             (re.search(r"#pkts dec'ed (\d+) drop (\d+)", inb).groups() if inb else None,
              re.search(r"#pkts enc'ed (\d+) drop (\d+)", outb).groups() if outb else None),
             ((str(dec), "0"), (str(enc), "0")))
    ev.check("detail: life (KB/Sec) remaining shown per direction (L386-389)",
             bool(re.search(r"life \(KB/Sec\) \d+/\d+", inb)), True)
    ev.check("one SESSION_STATUS UP message (L243-252)", _status(_syslog(r1)), ["UP"])

    with ev.step("clear crypto session (L345-352)"):
        r1.cli("clear crypto session")
    ev.wait_for("DOWN message after the clear (L254-259)", lambda: _status(_syslog(r1)),
                lambda s: s == ["UP", "DOWN"], ["UP", "DOWN"], within=5)
    after = ev.show(r1, "show crypto session", label="after clear crypto session")
    ev.check("no UP-ACTIVE session after the clear (L267)", "UP-ACTIVE" in after, False)
    ev.check("no IPsec SA left (lab state)", (r1.cli("lab state", json=True) or {}).get(
        "ipsec_sas"), [])
    ev.check("no ISAKMP SA left (lab state)", (r1.cli("lab state", json=True) or {}).get(
        "isakmp_sas"), [])
