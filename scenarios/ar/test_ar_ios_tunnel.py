"""AR570S ISAKMP/IKE site-to-site VPN (seed 002 basic configuration) against an IOS peer.

Router A runs the seed's Router A procedure verbatim (L102-223: ENCO key,
ISAKMP policy ``i``, SA spec 1 ESP DES/SHA, bundle 1, policies ``isa``/``vpn``/
``inet`` on ppp0, ENABLE IPSEC/ISAKMP) with ``--dialect ar``; Router B is the
engine with a mirrored Cisco IOS configuration.  The first LAN A → LAN B packet
must trigger phase 1 (Main Mode, IDPROT, default DES/SHA/group 1) and phase 2
(L962-968), LAN traffic must cross as ESP with a new outer header between
1.1.1.1 and 2.2.2.2 (L577-583), and the AR show commands must list the SAs:
``SHOW ISAKMP SA`` one row with the peer, DES, SHA and hard lifetime 86400
(L1756-1764), ``SHOW IPSEC SA`` one ESP row of policy ``vpn`` in state Valid
(L1841-1853), ``SHOW IPSEC POLICY SABUNDLE`` a VALID bundle under ``Policy
..........vpn`` (L1859-1883).
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path

from lab import Lab
from reports.scenario import Scenario
from scenarios.ios import _ipsec

HERE = Path(__file__).resolve().parent / "ar_ios"
TOPOLOGY = HERE / "engine.yaml"
SCENARIO = Scenario(
    seed="002_377d9b2fb7829bf0.txt", lines=(78, 1883),
    section="IPsec overview/basic configuration: ISAKMP/IKE VPN with fixed addresses; "
            "troubleshooting show commands",
    chapter="IPsec (AR570S)",
    claim="With the basic ISAKMP configuration on Router A, the first packet from LAN A to "
          "LAN B negotiates an ISAKMP SA and an IPsec SA with the peer, LAN-to-LAN traffic is "
          "carried in ESP between the routers, and SHOW ISAKMP SA / SHOW IPSEC SA / SHOW IPSEC "
          "POLICY SABUNDLE list the SAs.",
    feature="ar-site-to-site", topology="scenarios/ar/ar_ios/engine.yaml", peers=("engine",),
    notes=("Router B is a Cisco IOS engine with the mirrored policy (the seed gives only "
           "Router A's commands); it proposes 3600 s, so the negotiated IPsec SA lifetime is "
           "3600 s rather than the AR default 28800 s.",
           "ppp0/vlan1 are Ethernet links in the lab; their addresses (step 1, L90-94, not "
           "given by the seed) are added with ADD IP INT lines marked 'lab'.",
           "The out-of-scope lines of the procedure (ADD USER, LOGIN, CREATE/SET CONFIG, "
           "ENABLE SYSTEM SECURITY MODE, L208-225) are accepted and ignored."))  # fmt: skip

PINGS = 5
INNER = ("192.168.10.10", "192.168.20.10")
OUTER = ("1.1.1.1", "2.2.2.2")


def _rows(text: str, first: str) -> list[list[str]]:
    """Table rows of an AR screen: lines after the dashed separator, split on blanks."""
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if re.fullmatch(r"-{20,}", ln.strip())), None)
    if start is None:
        return []
    return [ln.split() for ln in lines[start + 1 :] if ln.strip() and ln.split()[0] != first]


def test_ar_ios_tunnel_up_on_first_traffic(ev, peer: str) -> None:
    ev.topology(TOPOLOGY)
    ev.config("r1", HERE / "r1.cfg", label="engine --dialect ar (seed 002 L102-223)")
    ev.config("r2", HERE / "r2.cfg", label="engine --dialect ios (mirror)")
    with ExitStack() as stack:
        with ev.step("bring up ar-ios (r1 AR570S engine, r2 IOS engine)"):
            lab = stack.enter_context(Lab.up(TOPOLOGY))
        with ev.collecting(lab, nodes=("r1", "r2")):
            _tunnel(ev, lab)


def _tunnel(ev, lab) -> None:
    r1 = lab.node("r1")
    ev.show(r1, "show ipsec", label="module status (L1734-1738)")
    ev.show(r1, "show ipsec policy", label="SPD of ppp0")
    before = ev.show(r1, "show isakmp sa", label="before traffic")
    ev.check("SHOW ISAKMP SA: no ISAKMP SA before traffic (L962-968)", _rows(before, "SA"), [])
    with ev.capture(lab, "isp:eth0", keys_from=("r1", "r2")):
        with ev.step(f"h1 pings {INNER[1]} {PINGS} times (first LAN A -> LAN B traffic)"):
            res = lab.node("h1").ping(INNER[1], count=PINGS, interval=0.5, wait=2)
            ev.note(res.output)
    ev.check("tunnel up on first traffic: echo replies (at most the first lost)",
             res.received, f">= {PINGS - 1}", ok=res.received >= PINGS - 1)  # fmt: skip
    w = _ipsec.wire(ev.last_ladder(), INNER, OUTER)
    ev.check("Main Mode (IDPROT) on the wire: 6 messages (L116-118)", w["main_mode"], 6)
    ev.check("one Quick Mode exchange (phase 2, L962-968)", w["quick_mode_exchanges"], 1)
    ev.check("ESP between 1.1.1.1 and 2.2.2.2 for every echo and reply (L577-583)",
             w["esp"], f">= {2 * res.received}", ok=w["esp"] >= 2 * res.received > 0)  # fmt: skip
    ev.check('no AH (bundle "1" = ESP only, L885-889)', w["ah"], 0)
    ev.check("no cleartext LAN A <-> LAN B packets on the Internet side", w["clear_inner"], 0)
    ev.check("every ESP packet decrypts to an echo or reply (exported keys)",
             w["decrypted_icmp"], w["esp"])  # fmt: skip

    isa = ev.show(r1, "show isakmp sa", label="after traffic (L1756-1764)")
    rows = _rows(isa, "SA")
    ev.check("SHOW ISAKMP SA: one SA with peer 2.2.2.2, DES, SHA, Bytes -/-/-",
             [r[1:5] for r in rows], [["2.2.2.2", "DES", "SHA", "-/-/-"]])  # fmt: skip
    ev.check("SHOW ISAKMP SA: hard/soft lifetime 86400/82080 (defaults, L1764)",
             [r[5].rsplit("/", 1)[0] for r in rows], ["86400/82080"])  # fmt: skip
    sa = ev.show(r1, "show ipsec sa", label="after traffic (L1841-1853)")
    rows = _rows(sa, "SA")
    ev.check("SHOW IPSEC SA: one ESP SA of policy vpn, bundle 1, Valid",
             [r[1:5] for r in rows], [["vpn", "1", "Valid", "ESP"]])  # fmt: skip
    keys = r1.cli("lab keys", json=True)
    out_spis = sorted(k["spi"] for k in keys if k["direction"] == "out")
    in_spis = sorted(k["spi"] for k in keys if k["direction"] == "in")
    ev.check("SHOW IPSEC SA: OutSPI/InSPI in decimal = the SPIs on the wire",
             [[int(r[5])] for r in rows] + [[int(r[6])] for r in rows],
             [out_spis, in_spis])  # fmt: skip
    bundle = ev.show(r1, "show ipsec policy sabundle", label="after traffic (L1859-1883)")
    lines = [ln.split() for ln in bundle.splitlines()]
    vpn_at = next((i for i, ln in enumerate(lines) if ln == ["Policy", "..........vpn"]), None)
    ev.check("SABUNDLE lists every policy (isa, vpn, inet)",
             [ln[1] for ln in lines if ln[:1] == ["Policy"]],
             ["..........isa", "..........vpn", "..........inet"])  # fmt: skip
    row = lines[vpn_at + 1] if vpn_at is not None and vpn_at + 1 < len(lines) else []
    ev.check("SABUNDLE: bundle 0 of vpn with SA 0, VALID", row[:3], ["0", "0", "VALID"])
    ev.show(r1, "show ipsec policy=vpn", label="after traffic")
    link = ev.show(r1, "show ipsec isakmp", label="after traffic (L5266-5288)")
    isakmp_id = rows[0][0] if (rows := _rows(isa, "SA")) else None
    ev.check("SHOW IPSEC ISAKMP: IPsec SA 0 belongs to the ISAKMP SA with 2.2.2.2",
             [ln.split()[:5] for ln in link.splitlines() if ln[:1].isdigit()],
             [["0", "N/A", "(Tnl", "Mode)", isakmp_id]])  # fmt: skip
    cnt = ev.show(r1, "show ipsec sa=0 counters", label="after traffic (L5906-6065)")
    words = cnt.split()

    def counter(name: str) -> int | None:
        return int(words[words.index(name) + 1]) if name in words else None

    ev.check("SHOW IPSEC SA COUNTERS: outProcessDone = ESP packets Router A sent on the wire",
             counter("outProcessDone"), w["esp_out"])  # fmt: skip
    ev.check("SHOW IPSEC SA COUNTERS: inProcessDone = ESP packets Router A received",
             counter("inProcessDone"), w["esp_in"])  # fmt: skip
    log = ev.show(r1, "show log module=isak", label="after traffic (L1788-1810)")
    msgs = [ln.split(None, 6)[6] for ln in log.splitlines() if " ISAK IKMP " in ln]
    ev.check("SHOW LOG MODULE=ISAK: the initiator's exchange lines in order (L1794-1808)",
             [m for m in msgs if m.startswith("Exchange")],
             ["Exchange 1: Phase 1 [init] started with peer 2.2.2.2",
              "Exchange 1: Completed successfully",
              "Exchange 2: Phase 2 [init] started with peer 2.2.2.2",
              "Exchange 2: Completed successfully"])  # fmt: skip
    ipsc = ev.show(r1, "show log type=ipsc", label="after traffic (L1911-1925)")
    ev.check("SHOW LOG TYPE=IPSC: SA bundle created: Policy - vpn (L1919-1923)",
             [ln.split(None, 6)[6] for ln in ipsc.splitlines() if " IPSE IPSC " in ln],
             ["IPSEC has been enabled", "SA bundle created: Policy - vpn"])  # fmt: skip
    far = ev.show(lab.node("r2"), "show crypto isakmp sa", label="IOS peer after traffic")
    ev.check("IOS peer: QM_IDLE with 1.1.1.1",
             [s for s in _ipsec.isakmp_states(far) if s[2] == "QM_IDLE"],
             [(OUTER[0], OUTER[1], "QM_IDLE")])  # fmt: skip
    with ev.step("RESET IPSEC POLICY=vpn at the AR prompt (L3978-3986)"):
        r1.cli("RESET IPSEC POLICY=vpn")
    ev.check("RESET IPSEC POLICY deletes the policy's SAs",
             _rows(ev.show(r1, "show ipsec sa", label="after RESET"), "SA"), [])  # fmt: skip
