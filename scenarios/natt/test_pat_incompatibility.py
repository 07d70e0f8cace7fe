"""IPsec NAT Transparency: ESP through PAT fails without NAT-T and works with it.

Seed 000 L2863-2878: PAT drops ESP packets it cannot map (ESP has no ports);
UDP encapsulation hides ESP behind a UDP header so that PAT treats it as a
normal UDP packet. L2930-2933: ``no crypto ipsec nat-transparency
udp-encapsulation`` turns NAT traversal off.

Two gateways behind one PAT box (a Linux masquerade: ESP is tracked by
address only) send ESP to the same responder. Without NAT-T the first ESP
flow owns the PAT box's one ESP mapping and the second gateway's ESP is
dropped in the box (seen on its inside, never on its outside); with NAT-T
both flows are UDP and both tunnels work.
"""

from __future__ import annotations

import re

import pytest

from reports.scenario import Scenario
from scenarios.natt import _run, _wire
from scenarios.natt._topo import FAR_PUBLIC, Case

SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt",
    lines=(2863, 2933),
    section="IPsec NAT Transparency: IPsec ESP vs PAT; disabling NAT traversal",
    chapter="Chapter 6",
    claim="Without UDP encapsulation PAT drops ESP it cannot translate; with NAT traversal "
    "(the default) ESP is UDP-encapsulated and passes PAT.",
    feature="natt-pat-esp",
    topology="topologies/natt-pat.yaml",
    peers=("engine",),
    notes=(
        "strongSwan (libipsec) cannot send ESP as IP protocol 50 at all, so the NAT-T "
        "disabled case runs engine against engine only.",
        "A single gateway's ESP does pass a Linux PAT box (it maps ESP by address); the "
        "incompatibility shows with the second gateway behind the same PAT address, as "
        "the document's many-to-one PAT implies (glossary L3253-3277).",
        "The gateways initiate one after the other (h1 first, then h3) so that which ESP "
        "flow owns the mapping is deterministic.",
    ),
)


@pytest.mark.parametrize("nat_t", [False, True], ids=["nat-t-disabled", "nat-t-enabled"])
def test_esp_through_pat(ev, peer: str, nat_t: bool) -> None:
    case = Case(left="pat", two=True, nat_t=nat_t)
    with _run.lab_for(ev, case) as lab:
        nat1 = lab.node("nat1")
        with _run.captures(ev, lab, case) as caps:
            first = _run.ping(ev, lab, "h1", "h2")
            d0 = _ct_drops(ev.exec(nat1, ["conntrack", "-S"], label="conntrack stats before"))
            second = _run.ping(ev, lab, "h3", "h2")
            d1 = _ct_drops(ev.exec(nat1, ["conntrack", "-S"], label="conntrack stats after"))
        spi3 = _outbound_spis(lab, "r3")
        wire = _run.wire_of(caps)
        inside, outside = wire["nat1:eth0"], wire["nat1:eth1"]
        ev.check(
            "h1 (first gateway) reaches h2",
            first.received,
            f">= {_run.PINGS - 1}",
            ok=first.received >= _run.PINGS - 1,
        )
        r3_in = [p for p in inside if p.src == case.wan("r3") and p.spi in spi3]
        r3_out = [p for p in outside if p.src == case.public("r3") and p.spi in spi3]
        if not nat_t:
            ev.check(
                "NAT-T disabled: ESP is IP protocol 50 inside the PAT box",
                sorted({p.kind for p in inside if p.kind.startswith("esp")}),
                ["esp"],
            )
            ev.check("h3 (second gateway) gets no reply", second.received, 0)
            ev.check(
                "r3's ESP reaches the PAT box (inside)",
                len(r3_in) >= _run.PINGS - 1,
                True,
                how=f"{len(r3_in)} packets with r3's SPIs {sorted(map(hex, spi3))}",
            )
            ev.check(
                "r3's ESP is dropped in the PAT box (never leaves its outside)", len(r3_out), 0
            )
            ev.check(
                "the PAT box's conntrack counts the drops (ESP mapping clash)",
                d1 - d0 >= len(r3_in) > 0,
                True,
                how=f"conntrack -S drop +{d1 - d0} (insert_failed: no free ESP mapping)",
            )
        else:
            ev.check(
                "NAT-T enabled: h3 (second gateway) reaches h2 too",
                second.received,
                f">= {_run.PINGS - 1}",
                ok=second.received >= _run.PINGS - 1,
            )
            ev.check(
                "r3's ESP passes the PAT box inside UDP 4500",
                (len(r3_in) > 0, len(r3_out) > 0, {p.kind for p in r3_out}),
                (True, True, {"esp-udp"}),
            )
            s = _wire.summary(outside)
            ev.check("outside: no ESP as IP protocol 50", s["esp_proto50"], 0)
            ev.check("no conntrack drops in the PAT box", d1 - d0, 0)
        ev.exec(lab.node("nat1"), ["conntrack", "-L"], label="PAT mappings")
        ev.note(
            f"ESP flows outside the PAT box towards {FAR_PUBLIC}: "
            f"{_wire.summary(outside, (case.public('r1'), FAR_PUBLIC))}"
        )


def _outbound_spis(lab, router: str) -> set[int]:
    keys = lab.node(router).cli("lab keys", json=True) or []
    return {int(k["spi"]) for k in keys if k.get("direction") == "out"}


def _ct_drops(stats: str) -> int:
    """Sum of the per-CPU ``drop=`` counters of ``conntrack -S``."""
    return sum(int(n) for n in re.findall(r"\bdrop=(\d+)", stats))
