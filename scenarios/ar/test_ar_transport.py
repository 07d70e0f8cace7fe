"""AR570S IPsec transport mode between the routers (seed 002 L697-730).

``CREATE IPSEC POLICY=vpn INT=ppp0 ACTION=IPSEC KEYMAN=ISAKMP BUNDLE=2 PEER=1.2.3.4`` /
``SET IPSEC POLICY=vpn LAD=1.1.1.1 RAD=1.2.3.4`` (L717-720) protects only the traffic
between the router's own address and the peer (L697-703, L722-730), with the SA spec in
MODE=TRANSPORT (L788-790).  Both lab routers are AR570S engines; Router B plays the
client 1.2.3.4 at 2.2.2.2.  The ISAKMP pass policy ``isa`` placed first keeps IKE itself
(UDP 500 between the same two addresses) outside the IPsec policy (L147-151, L526-530).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from lab import Lab
from reports.scenario import Scenario
from scenarios.ar.test_ar_ios_tunnel import _rows
from scenarios.ios import _ipsec

HERE = Path(__file__).resolve().parent / "ar_transport"
TOPOLOGY = HERE / "engine.yaml"
SCENARIO = Scenario(
    seed="002_377d9b2fb7829bf0.txt", lines=(697, 730),
    section="IPsec policy: transport mode between the router and a peer with a fixed address",
    chapter="IPsec (AR570S)",
    claim="A transport-mode policy with LAD = own address and RAD = PEER protects the traffic "
          "between the two addresses with ESP (no new IP header), while ISAKMP between the "
          "same addresses passes in clear through the preceding PERMIT policy.",
    feature="ar-transport-mode", topology="scenarios/ar/ar_transport/engine.yaml",
    peers=("engine",),
    notes=("The seed shows the policy only; SA spec 2 (MODE=TRANSPORT) and bundle 2 are added "
           "(lines marked 'lab'), and 1.2.3.4 becomes Router B's 2.2.2.2.",),
)  # fmt: skip

OUTER = ("1.1.1.1", "2.2.2.2")
PINGS = 4


def test_ar_transport_mode(ev, peer: str) -> None:
    ev.topology(TOPOLOGY)
    for n in ("r1", "r2"):
        ev.config(n, HERE / f"{n}.cfg", label="engine --dialect ar")
    with ExitStack() as stack:
        with ev.step("bring up ar-transport (two AR570S engines)"):
            lab = stack.enter_context(Lab.up(TOPOLOGY))
        with ev.collecting(lab, nodes=("r1", "r2")):
            _run(ev, lab)


def _run(ev, lab) -> None:
    r1 = lab.node("r1")
    with ev.capture(lab, "isp:eth0", keys_from=("r1", "r2")):
        with ev.step(f"Router A pings Router B ({OUTER[1]}) {PINGS} times from {OUTER[0]}"):
            res = r1.exec(["ping", "-c", str(PINGS), "-i", "0.3", "-W", "2", "-I", OUTER[0],
                           OUTER[1]], check=False)  # fmt: skip
            ev.note(res.stdout)
    received = res.stdout.count("bytes from")
    ev.check("echo replies between the routers (at most the first lost)", received,
             f">= {PINGS - 1}", ok=received >= PINGS - 1)  # fmt: skip
    w = _ipsec.wire(ev.last_ladder(), OUTER, OUTER)
    ev.check("ISAKMP in clear on UDP 500 (policy isa first): Main Mode, 6 messages",
             w["main_mode"], 6)  # fmt: skip
    ev.check("ESP for every echo and reply", w["esp"], f">= {2 * received}",
             ok=w["esp"] >= 2 * received > 0)  # fmt: skip
    events = ev.last_ladder().get("events", [])
    icmp_clear = sum(1 for e in events if "ICMP" in e.get("label", "") and e.get("cls") != "esp")
    ev.check("no cleartext ICMP between the routers", icmp_clear, 0)
    sas = _rows(ev.show(r1, "show ipsec sa", label="after traffic"), "SA")
    ev.check("SHOW IPSEC SA: ESP SA of policy vpn, bundle 2", [r[1:5] for r in sas],
             [["vpn", "2", "Valid", "ESP"]])  # fmt: skip
    detail = ev.show(r1, "show ipsec sa=0", label="after traffic")
    ev.check("SHOW IPSEC SA=0: Mode TRANSPORT", "Mode .................................. "
             "TRANSPORT" in detail, True)  # fmt: skip
    ev.check("no tunnel addresses in transport mode (L6104-6110)",
             "tunnel IP address" in detail, False)  # fmt: skip
    keys = r1.cli("lab keys", json=True)
    ev.check("exported SAs are transport mode", sorted({k["mode"] for k in keys}), ["transport"])
