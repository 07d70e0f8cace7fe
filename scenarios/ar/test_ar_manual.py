"""AR570S manual-key VPN (seed 002 L231-383): SPIs as configured, no ISAKMP at all.

Both routers run the AR dialect: ENCO keys (DES key 1, 20-byte SHA key 2, values
of L293-300), SA spec 1 ``KEYMAN=MANUAL ... INSPI=1000 OUTSPI=1001`` (L312-314;
Router B swaps them, L310), bundle 1 MANUAL, policy ``vpn`` with
``KEYMAN=MANUAL`` (L340-345), ``inet`` (L353), ``ENABLE IPSEC`` only (L359-361).
The IPsec SAs exist statically (L1834-1835): traffic crosses as ESP with SPI
1001 from A to B and 1000 from B to A (OUTSPI = sending SPI, L813), and no
ISAKMP message is ever sent.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from lab import Lab
from reports.scenario import Scenario
from scenarios.ar.test_ar_ios_tunnel import _rows
from scenarios.ios import _ipsec

HERE = Path(__file__).resolve().parent / "ar_manual"
TOPOLOGY = HERE / "engine.yaml"
SCENARIO = Scenario(
    seed="002_377d9b2fb7829bf0.txt", lines=(231, 383),
    section="IPsec basic configuration: manual keys (KEYMANAGEMENT=MANUAL)",
    chapter="IPsec (AR570S)",
    claim="With manual keys and mirrored INSPI/OUTSPI, the routers protect LAN-to-LAN traffic "
          "with ESP using exactly the configured SPIs, without any ISAKMP exchange.",
    feature="ar-manual-keys", topology="scenarios/ar/ar_manual/engine.yaml", peers=("engine",),
    notes=("The seed's Router A generates RANDOM keys and Router B types different values with a "
           "misspelt DESCRITION (spec §6 #1-2); both lab routers use the L293-300 values with "
           "DESCRIPTION spelt right.",
           "The runner installs the manual SA bundles at start-up "
           "(engine.config.ar_derive.manual_sa_pairs)."),
)  # fmt: skip

INNER = ("192.168.10.10", "192.168.20.10")
OUTER = ("1.1.1.1", "2.2.2.2")
PINGS = 5


def test_ar_manual_keys(ev, peer: str) -> None:
    ev.topology(TOPOLOGY)
    for n in ("r1", "r2"):
        ev.config(n, HERE / f"{n}.cfg", label="engine --dialect ar")
    with ExitStack() as stack:
        with ev.step("bring up ar-manual (two AR570S engines)"):
            lab = stack.enter_context(Lab.up(TOPOLOGY))
        with ev.collecting(lab, nodes=("r1", "r2")):
            _run(ev, lab)


def _run(ev, lab) -> None:
    before = _rows(ev.show(lab.node("r1"), "show ipsec sa", label="Router A before traffic"),
                   "SA")  # fmt: skip
    ev.check("the manual SAs exist from start-up, before any traffic (L1834-1835)",
             [r[1:] for r in before], [["vpn", "1", "Valid", "ESP", "1001", "1000"]])  # fmt: skip
    with ev.capture(lab, "isp:eth0", keys_from=("r1", "r2")):
        with ev.step(f"h1 pings LAN B {PINGS} times"):
            res = lab.node("h1").ping(INNER[1], count=PINGS, interval=0.3, wait=2)
            ev.note(res.output)
    ev.check("echo replies through the manual SAs", res.received, PINGS)
    events = ev.last_ladder().get("events", [])
    spis = {(e["src"], e.get("spi")) for e in events if e.get("cls") == "esp"}
    ev.check("ESP A->B uses SPI 1001 and B->A SPI 1000 (OUTSPI/INSPI, L306-315, L813)",
             sorted(spis), [(OUTER[0], 1001), (OUTER[1], 1000)])  # fmt: skip
    w = _ipsec.wire(ev.last_ladder(), INNER, OUTER)
    ev.check("no ISAKMP at all (ISAKMP not enabled, L359-361)",
             sum(1 for e in events if e.get("cls") == "ike"), 0)  # fmt: skip
    ev.check("every ESP packet decrypts to an echo or reply", w["decrypted_icmp"], w["esp"])
    sas = _rows(ev.show(lab.node("r1"), "show ipsec sa", label="Router A"), "SA")
    ev.check("SHOW IPSEC SA: OutSPI 1001 / InSPI 1000 on Router A",
             [r[1:] for r in sas], [["vpn", "1", "Valid", "ESP", "1001", "1000"]])  # fmt: skip
    ev.check(
        "SHOW ISAKMP SA: empty",
        _rows(ev.show(lab.node("r1"), "show isakmp sa", label="Router A"), "SA"),
        [],
    )
