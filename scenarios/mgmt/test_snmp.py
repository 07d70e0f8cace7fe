"""IPsec MIB and SNMP notifications with real net-snmp tools (seed 001 chapters 3-4).

r1 (our engine) is configured with the chapter 4 notification lines
(``snmp-server enable traps ipsec isakmp``, ``snmp-server host ... ipsec isakmp``,
history/failure table sizes, L1570-1593); net-snmp's snmpd in r1's namespace
serves the engine's CISCO-IPSEC-FLOW-MONITOR-MIB view (pass_persist), snmptrapd
on node nms receives the tunnel start/stop notifications (L469-474). The walk
is compared with the seed's walk after a ping (L1034-1240) and with the
engine's own SAs.
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path

from lab import Lab
from lab.snmp import snmpd_on, snmpget, snmptrapd_on, snmpwalk
from reports.scenario import Scenario

HERE = Path(__file__).resolve().parent / "snmp"
TOPO = HERE / "engine.yaml"
SCENARIO = Scenario(
    seed="001_983f8f9dda4afa9a.txt", lines=(435, 1651),
    section="IPsec and IKE MIB support; IPsec SNMP support: notifications, MIB tables, "
            "history/failure table sizes", chapter="Chapters 3-4",
    claim="The router's IPsec flow MIB reports each IKE and IPsec tunnel (algorithms, "
          "lifetimes from the configuration, SPIs, traffic counters) and the configured table "
          "sizes, and with IPsec/ISAKMP notifications enabled the router sends IKE and IPsec "
          "tunnel start and stop notifications to the configured receiver.",
    feature="mgmt-snmp", topology="scenarios/mgmt/snmp/engine.yaml", peers=("engine",),
    notes=("Notification OIDs and varbinds (cikeTunnelStart/Stop = 171.2.0.1/2, "
           "cipSecTunnelStart/Stop = 171.2.0.7/8) come from the public "
           "CISCO-IPSEC-FLOW-MONITOR-MIB, not from the seed, which names the traps only "
           "(IKE_TUNNEL_START ..., L469-474).",
           "No VRFs: the per-VRF contexts of chapter 3 are not modelled; the walk is the "
           "global context's. IKE message counters the engine does not keep read 0.",
           "snmpd: net-snmp 5.9 with pass_persist; receiver: snmptrapd (numeric OIDs)."))

FLOW = ".1.3.6.1.4.1.9.9.171.1"
IKE_G, IKE_T = FLOW + ".2.1", FLOW + ".2.3.1"
IPS_G, IPS_T, SPI = FLOW + ".3.1", FLOW + ".3.2.1", FLOW + ".3.4.1"
TRAP = ".1.3.6.1.4.1.9.9.171.2.0"


def _v(walk: dict, oid: str) -> str | None:
    return walk.get(oid)


def _num(text: str | None) -> int | None:
    if text is None:
        return None
    tail = text.split(": ", 1)[-1].strip()
    if "(" in tail and tail.endswith(")"):  # "enabled(1)" style is not used by -On; keep safe
        tail = tail.rsplit("(", 1)[1][:-1]
    try:
        return int(tail)
    except ValueError:
        return None


def _trap_oids(traps) -> list[str]:
    return [t.trap_oid for t in traps]


def test_ipsec_mib_and_notifications(ev, peer: str) -> None:
    ev.topology(TOPO)
    ev.config("r1", HERE / "r1.cfg", label="engine (seed 001 L1570-1593 lines)")
    ev.config("r2", HERE / "r2.cfg", label="engine peer")
    with ExitStack() as stack:
        with ev.step("bring up the lab, snmpd on r1 (community public), snmptrapd on nms"):
            lab = stack.enter_context(Lab.up(TOPO))
            stack.enter_context(snmpd_on(lab.node("r1"), community="public"))
            rx = stack.enter_context(snmptrapd_on(lab.node("nms")))
            rx2 = stack.enter_context(snmptrapd_on(lab.node("nms"), port=1162))
        with ev.collecting(lab, nodes=("r1", "r2")):
            try:
                _run(ev, lab, rx)
                ev.wait_for("the isakmp-only informs receiver (UDP 1162) got the IKE tunnel "
                            "start and stop", lambda: _trap_oids(rx2.traps()),
                            lambda t: f"{TRAP}.1" in t and f"{TRAP}.2" in t,
                            [f"{TRAP}.1", f"{TRAP}.2"], within=5)
                got = rx2.traps()
                ev.check("... as SNMPv2c informs", sorted({t.security for t in got}),
                         ["INFORM, SNMP v2c, community public"])
                ev.check("... and no IPsec tunnel notifications (host types: isakmp)",
                         [t.trap_oid for t in got if t.trap_oid in (f"{TRAP}.7", f"{TRAP}.8")],
                         [])
            finally:
                ev.attach(rx.log, label="snmptrapd log (nms)")


def _run(ev, lab, rx) -> None:
    r1, nms = lab.node("r1"), lab.node("nms")
    walk = lambda: snmpwalk(nms, "10.1.1.1")  # noqa: E731
    ev.wait_for("snmpget cipSecMibLevel.0 = 1 (L821)",
                lambda: snmpget(nms, "10.1.1.1", FLOW + ".1.1.0"), lambda v: v == "INTEGER: 1",
                "INTEGER: 1", within=10)
    w0 = walk()
    ev.note("walk before traffic:\n" + "\n".join(f"{k} = {v}" for k, v in w0.items()))
    ev.check("no tunnels before traffic: cikeGlobalActiveTunnels.0, cipSecGlobalActiveTunnels.0",
             (_num(_v(w0, IKE_G + ".1.0")), _num(_v(w0, IPS_G + ".1.0"))), (0, 0))
    ev.check("no table rows before traffic (L1253: a context without tunnels)",
             [k for k in w0 if k.startswith((IKE_T, IPS_T, SPI))], [])
    ev.check("cipSecHistTableSize.0 = tunnel size 130, cipSecFailTableSize.0 = failure size 140 "
             "(L1586, L1592; default 200 at L883-885)",
             (_num(_v(w0, FLOW + ".4.1.1.1.0")), _num(_v(w0, FLOW + ".5.1.1.1.0"))), (130, 140))
    ev.check("cipSecHistCheckPoint.0 = ready(1) (L884)", _num(_v(w0, FLOW + ".4.1.1.2.0")), 1)
    ev.check("show crypto mib ipsec flowmib history failure/tunnel size, version (L1519-1536)",
             [ev.show(r1, "show crypto mib ipsec flowmib history failure size").strip(),
              ev.show(r1, "show crypto mib ipsec flowmib history tunnel size").strip(),
              ev.show(r1, "show crypto mib ipsec flowmib version").strip()],
             ["IPSec Failure Window Size: 140", "IPSec History Window Size: 130",
              "IPSec Flow MIB version: 1"])
    ev.check("debug crypto mib acknowledged (L1540-1543)",
             ev.show(r1, "debug crypto mib").strip(), "Crypto IPsec Mgmt Entity debugging is on")
    cntl = [_num(_v(w0, f"{FLOW}.6.{i}.0")) for i in range(1, 14)]
    ev.check("cipSecTrapCntl*: IKE/IPsec tunnel start/stop enabled(1), the other nine "
             "disabled(2) (L886-898)", cntl, [1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 2, 2, 2])

    with ev.step("h1 pings h2 4 times (IKE phase 1 + IPsec SAs)"):
        res = lab.node("h1").ping("10.0.2.2", count=4, interval=0.2, wait=2)
        ev.note(res.output)
    ev.check("traffic crosses the tunnel", res.received, ">= 3", ok=res.received >= 3)
    ev.wait_for("IKE and IPsec tunnel start notifications at nms (L469-474)",
                lambda: _trap_oids(rx.traps()),
                lambda t: f"{TRAP}.1" in t and f"{TRAP}.7" in t,
                [f"{TRAP}.1 cikeTunnelStart", f"{TRAP}.7 cipSecTunnelStart"], within=10)
    traps = rx.traps()
    ike_start = next(t for t in traps if t.trap_oid == f"{TRAP}.1")
    ips_start = next(t for t in traps if t.trap_oid == f"{TRAP}.7")
    ev.check("notifications are SNMPv2c with community public (snmp-server host ... public)",
             ike_start.security, "TRAP2, SNMP v2c, community public")
    ev.check("cikeTunnelStart varbinds: cikePeerLocalAddr, cikePeerRemoteAddr, cikeTunLifeTime",
             (ike_start.value(FLOW + ".2.2.1.6."), ike_start.value(FLOW + ".2.2.1.7."),
              ike_start.value(IKE_T + ".15.")),
             ("Hex-STRING: 0A 01 01 01", "Hex-STRING: 0A 02 02 02", "INTEGER: 86400"))
    ev.check("cipSecTunnelStart varbinds: cipSecTunLifeTime 5000, cipSecTunLifeSize 99000 "
             "(L588-589)", (ips_start.value(IPS_T + ".9."), ips_start.value(IPS_T + ".8.")),
             ("INTEGER: 5000", "INTEGER: 99000"))

    sa_text = ev.show(r1, "show crypto ipsec sa", label="after traffic")
    keys = r1.cli("lab keys", json=True) or []
    w1 = walk()
    ev.note("walk after traffic:\n" + "\n".join(f"{k} = {v}" for k, v in w1.items()))
    ev.check("one IKE and one IPsec tunnel active (L1026, L1035, L1112)",
             (_num(_v(w1, IKE_G + ".1.0")), _num(_v(w1, IPS_G + ".1.0"))), (1, 1))
    ike_row = {c: _v(w1, f"{IKE_T}.{c}.1") for c in (2, 3, 5, 6, 7, 10, 11, 12, 13, 14, 15, 35)}
    ev.check("cikeTun row 1 as in the seed's walk (L1069-1109): types, zero-padded identities, "
             "hostname, main(1), dhGroup1(2), des(2), sha(3), preSharedKey(2), 86400, active(1)",
             ike_row, {2: "INTEGER: 1", 3: 'STRING: "010.001.001.001"', 5: 'STRING: "sheep"',
                       6: "INTEGER: 1", 7: 'STRING: "010.002.002.002"', 10: "INTEGER: 1",
                       11: "INTEGER: 2", 12: "INTEGER: 2", 13: "INTEGER: 3",
                       14: "INTEGER: 2", 15: "INTEGER: 86400", 35: "INTEGER: 1"})
    tun = {c: _num(_v(w1, f"{IPS_T}.{c}.1")) for c in (2, 3, 6, 7, 8, 9, 15, 17, 18, 19, 51)}
    ev.check("cipSecTun row 1 (L1142-1196): IKE tunnel 1, alive, ike(1), tunnel(1), LifeSize "
             "99000, LifeTime 5000, 4 SA instances, des(2), hmacSha(3) AH and ESP, active(1)",
             tun, {2: 1, 3: 1, 6: 1, 7: 1, 8: 99000, 9: 5000, 15: 4, 17: 2, 18: 3, 19: 3,
                   51: 1})
    spi_rows = [(_num(_v(w1, f"{SPI}.2.1.{n}")), _num(_v(w1, f"{SPI}.3.1.{n}")),
                 _num(_v(w1, f"{SPI}.4.1.{n}"))) for n in (1, 2, 3, 4)]
    want = []
    for proto in ("ah", "esp"):
        for direction, code in (("in", 1), ("out", 2)):
            k = next((x for x in keys if x["proto"] == proto and x["direction"] == direction),
                     None)
            want.append((code, k["spi"] if k else None, 1 if proto == "ah" else 2))
    ev.check("cipSecSpi rows 1.1-1.4 = (in, ah), (out, ah), (in, esp), (out, esp) with the "
             "engine's SPIs in decimal (L1209-1224)", spi_rows, want,
             how="SPIs from `lab keys` of r1 (also in show crypto ipsec sa)")
    spi_show = ev.show(r1, "show crypto mib ipsec flowmib spi", label="L3032-3064 layout")
    shown = [int(x, 16) for x in re.findall(r"SPI Value:\s+0x([0-9A-F]+)", spi_show)]
    ev.check("show crypto mib ipsec flowmib spi = the MIB's SPIs, in hex (L3032-3064)", shown,
             [w for _, w, _ in want])
    isa = ev.show(r1, "show crypto mib isakmp flowmib tunnel", label="L2833-2874 layout")
    ev.check("show crypto mib isakmp flowmib tunnel: the IKE SA (policy 1 defaults, L2833-2874)",
             [x.strip() for x in isa.splitlines() if x.strip().split(":")[0] in (
                 "Remote address", "Negotiation mode", "Diffie Hellman Grp", "Encryption algo",
                 "Hash algo", "Auth method", "Lifetime", "Policy priority")],
             ["Remote address: 10.2.2.2", "Negotiation mode: Main Mode",
              "Diffie Hellman Grp: 1", "Encryption algo: des", "Hash algo: sha",
              "Auth method: psk", "Lifetime: 86400", "Policy priority: 1"])
    glob = ev.show(r1, "show crypto mib ipsec flowmib global", label="L2935-2970 layout")
    ev.check("show crypto mib ipsec flowmib global: Active Tunnels 1",
             re.search(r"Active Tunnels:\s+(\d+)", glob).group(1), "1")
    decaps = sum(int(x) for x in re.findall(r"#pkts decaps: (\d+)", sa_text))
    encaps = sum(int(x) for x in re.findall(r"#pkts encaps: (\d+)", sa_text))
    ev.wait_for("cipSecGlobalInPkts / OutPkts = show crypto ipsec sa decaps / encaps "
                "(the agent's snapshot is at most 0.2 s old)",
                lambda: (lambda w: (_num(_v(w, IPS_G + ".9.0")), _num(_v(w, IPS_G + ".22.0"))))(
                    walk()), lambda v: v == (decaps, encaps), (decaps, encaps), within=5)
    w1 = walk()
    ev.check("cipSecGlobalHcInOctets = cipSecGlobalInOctets (L1114-1116), > 0",
             (_num(_v(w1, IPS_G + ".4.0")), _num(_v(w1, IPS_G + ".3.0"))),
             "equal, > 0", ok=_num(_v(w1, IPS_G + ".4.0")) == _num(_v(w1, IPS_G + ".3.0")) > 0)
    ev.check("global = sum of tunnels with one tunnel (L1112 vs L1166): InPkts",
             _num(_v(w1, IPS_T + ".32.1")), _num(_v(w1, IPS_G + ".9.0")))

    with ev.step("clear crypto session on r1"):
        r1.cli("clear crypto session")
    ev.wait_for("IPsec and IKE tunnel stop notifications at nms",
                lambda: _trap_oids(rx.traps()),
                lambda t: f"{TRAP}.2" in t and f"{TRAP}.8" in t,
                [f"{TRAP}.2 cikeTunnelStop", f"{TRAP}.8 cipSecTunnelStop"], within=10)
    ev.wait_for("after the clear: no active tunnels, one previous of each (walk)",
                lambda: (lambda w: (_num(_v(w, IKE_G + ".1.0")), _num(_v(w, IKE_G + ".2.0")),
                                    _num(_v(w, IPS_G + ".1.0")), _num(_v(w, IPS_G + ".2.0"))))(
                    walk()), lambda t: t == (0, 1, 0, 1), (0, 1, 0, 1), within=5)
    w2 = walk()
    ev.check("the terminated tunnels are in the history tables (L1442-1444): "
             "cipSecTunHistTermReason.1 / cikeTunHistTermReason.1 = operRequest(3)",
             (_num(_v(w2, FLOW + ".4.3.1.1.2.1")), _num(_v(w2, FLOW + ".4.2.1.1.2.1"))), (3, 3))
    ev.check("history row keeps the tunnel's usage: cipSecTunHistInPkts.1 = decaps",
             _num(_v(w2, FLOW + ".4.3.1.1.31.1")), decaps)
    ev.check("a normal termination has no failure row (L1444)",
             [k for k in w2 if k.startswith(FLOW + ".5.2.") or k.startswith(FLOW + ".5.3.")],
             [])
    hist = ev.show(r1, "show crypto mib ipsec flowmib history", label="after the clear")
    ev.check("show crypto mib ipsec flowmib history: Reason Operation request (L2976)",
             re.findall(r"Reason:\s+(.+)", hist), ["Operation request"])
    kinds = _trap_oids(rx.traps())
    ev.check("exactly one start and one stop of each kind",
             sorted(kinds), sorted([f"{TRAP}.1", f"{TRAP}.2", f"{TRAP}.7", f"{TRAP}.8"]))


def test_proposal_failure_recorded_without_notification(ev, peer: str) -> None:
    """L1420-1429, L1444: an IPsec proposal failure creates a failure-table entry, sends no
    notification, and leaves no tunnel-history entry."""
    topo = HERE / "engine-badts.yaml"
    ev.topology(topo)
    ev.config("r2", HERE / "r2-badts.cfg", label="peer without r1's transform set")
    with ExitStack() as stack:
        with ev.step("bring up the lab, snmpd on r1, snmptrapd on nms"):
            lab = stack.enter_context(Lab.up(topo))
            stack.enter_context(snmpd_on(lab.node("r1"), community="public"))
            rx = stack.enter_context(snmptrapd_on(lab.node("nms")))
        with ev.collecting(lab, nodes=("r1", "r2")):
            nms = lab.node("nms")
            with ev.step("h1 pings h2 (phase 1 succeeds, phase 2 has no common proposal)"):
                res = lab.node("h1").ping("10.0.2.2", count=3, interval=0.5, wait=1)
            ev.check("no traffic crosses", res.received, 0)
            fail_col = FLOW + ".5.3.1.1.2."
            ev.wait_for("a cipSecFailTable row on r1 (L1420-1421)",
                        lambda: {k: v for k, v in snmpwalk(nms, "10.1.1.1",
                                                           FLOW + ".5.3").items()
                                 if k.startswith(fail_col)},
                        lambda rows: len(rows) >= 1, ">= 1 row", within=10)
            rows = {k: v for k, v in snmpwalk(nms, "10.1.1.1", FLOW + ".5.3").items()
                    if k.startswith(fail_col)}
            ev.check("cipSecFailReason = proposalFailure(4) (NOTIFY_MIB_IPSEC_PROPOSAL_INVALID, "
                     "L1421)", sorted(set(rows.values())), ["INTEGER: 4"])
            ev.show(lab.node("r1"), "show crypto mib ipsec flowmib failure",
                    label="L2918-2933 layout")
            walk = snmpwalk(nms, "10.1.1.1")
            ev.check("no IPsec tunnel-history row (L1444: failed setups are not history)",
                     [k for k in walk if k.startswith(FLOW + ".4.3.")], [])
            ev.check("no IPsec tunnel notification for the failure (L1429)",
                     [t for t in _trap_oids(rx.traps()) if t in (f"{TRAP}.7", f"{TRAP}.8")],
                     [])
            ev.attach(rx.log, label="snmptrapd log (nms)")
