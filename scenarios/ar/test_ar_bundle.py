"""AR570S SA bundle specifications (seed 002 L851-950, L2083-2103): AND and comma alternatives.

``CREATE IPSEC BUNDLE=1 KEYMAN=ISAKMP STRING="1 and 3"`` with SA spec 1 = ESP
DES/SHA1 and 3 = AH SHA1 (Table 5, L873-883) makes one bundle of two IPsec SAs,
ESP applied first then AH (L891-899, L2089-2091): on the wire IP | AH | ESP, and
``SHOW IPSEC SA`` lists an ESP and an AH row of the same policy, ``SHOW IPSEC POLICY
SABUNDLE`` one bundle with both SA ids (L1847-1849, L1871).  With the candidates
``"1 and 3, 1"`` and a peer that accepts only ESP, the negotiation settles on the
second candidate, ESP only (L915-936, L2093-2095).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from lab import Lab
from reports.scenario import Scenario
from scenarios.ar.test_ar_ios_tunnel import _rows
from scenarios.ios import _ipsec

HERE = Path(__file__).resolve().parent / "ar_bundle"
SCENARIO = Scenario(
    seed="002_377d9b2fb7829bf0.txt", lines=(851, 950),
    section="SA bundle specification: AND (protocol combination, ESP then AH) and comma "
            "(ordered alternatives)",
    chapter="IPsec (AR570S)",
    claim="A bundle \"1 and 3\" protects traffic with ESP then AH as two SAs of one bundle; "
          "with \"1 and 3, 1\" a peer that only accepts ESP gets the ESP-only alternative.",
    feature="ar-sa-bundle", topology="scenarios/ar/ar_bundle/engine.yaml", peers=("engine",),
    notes=("Both variants start from the basic configuration (L102-223) with SA spec 3 and the "
           "bundle string of L897 / L936 in place of L145 (lines marked 'lab').",
           "ESP-only peer: the IOS engine with transform set esp-des esp-sha-hmac "
           "(scenarios/ar/ar_ios/r2.cfg)."),
)  # fmt: skip

INNER = ("192.168.10.10", "192.168.20.10")
OUTER = ("1.1.1.1", "2.2.2.2")
PINGS = 4
VARIANTS = {
    "and": ("engine.yaml", "r1.cfg", "r2.cfg"),
    "alternatives": ("ios.yaml", "r1-alt.cfg", "../ar_ios/r2.cfg"),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_ar_bundle(ev, peer: str, variant: str) -> None:
    topo, r1cfg, r2cfg = (HERE / n for n in VARIANTS[variant])
    ev.topology(topo)
    ev.config("r1", r1cfg, label="engine --dialect ar")
    ev.config("r2", r2cfg, label="engine --dialect " + ("ar" if variant == "and" else "ios"))
    with ExitStack() as stack:
        with ev.step(f"bring up {topo.name}"):
            lab = stack.enter_context(Lab.up(topo))
        with ev.collecting(lab, nodes=("r1", "r2")):
            _run(ev, lab, variant)


def _run(ev, lab, variant: str) -> None:
    r1 = lab.node("r1")
    ev.show(r1, "show ipsec bundlespecification=1", label="bundle spec")
    with ev.capture(lab, "isp:eth0", keys_from=("r1", "r2")):
        with ev.step(f"h1 pings LAN B {PINGS} times"):
            res = lab.node("h1").ping(INNER[1], count=PINGS, interval=0.3, wait=2)
            ev.note(res.output)
    ev.check("tunnel up: echo replies (at most the first lost)", res.received,
             f">= {PINGS - 1}", ok=res.received >= PINGS - 1)  # fmt: skip
    w = _ipsec.wire(ev.last_ladder(), INNER, OUTER)
    sas = _rows(ev.show(r1, "show ipsec sa", label="after traffic"), "SA")
    bundle = ev.show(r1, "show ipsec policy sabundle", label="after traffic")
    rows = [ln.split() for ln in bundle.splitlines() if ln[:1].isdigit()]
    if variant == "and":
        ev.check("every protected packet is IP | AH | ESP (ESP first, then AH, L891-899)",
                 (w["ah"], w["esp"]), f"ah = esp >= {2 * res.received}",
                 ok=w["ah"] == w["esp"] >= 2 * res.received > 0)  # fmt: skip
        ev.check(
            "SHOW IPSEC SA: an ESP and an AH SA of policy vpn (one SA per protocol)",
            [r[1:5] for r in sas],
            [["vpn", "1", "Valid", "ESP"], ["vpn", "1", "Valid", "AH"]],
        )
        ev.check("SABUNDLE: one bundle holding both SAs (cf. '2,3' of L1871)",
                 [r[:3] for r in rows], [["0", "0,1", "VALID"]])  # fmt: skip
    else:
        ev.check("ESP only on the wire: the second alternative \"1\" was chosen (L932-936)",
                 (w["ah"], w["esp"] >= 2 * res.received > 0), (0, True))  # fmt: skip
        ev.check("SHOW IPSEC SA: one ESP SA", [r[1:5] for r in sas],
                 [["vpn", "1", "Valid", "ESP"]])  # fmt: skip
        ev.check("SABUNDLE: one bundle with one SA", [r[:3] for r in rows], [["0", "0", "VALID"]])
    ev.check("every protected packet decrypts to an echo or reply", w["decrypted_icmp"], w["esp"])
