"""AR570S IPsec DPD (seed 002 L1537-1691): traffic-based R-U-THERE and the 5 min 12 s figure.

Router A has ``DPDMODE=BOTH`` with the default timers, Router B ``DPDMODE=RECEIVE`` (it
answers, L1546-1548).  While encrypted traffic arrives no R-U-THERE is sent; when it stops
for ``dpdidletimer`` (DPDIDLETIMEOUT, default 20 s) an R-U-THERE goes out and the ACK
restarts the timer (L1538-1544, L1588-1610).  With a silent peer and default settings the
figure (L1640-1691) shows R-U-THERE #0..#9 at 0, 20, 24, 32, 48, 72, 104, 144, 192, 248 s
and the SAs deleted at 312 s (5 min 12 s).  Engines run at --clock-scale 20.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from lab import Lab
from reports.scenario import Scenario
from scenarios.ar.test_ar_ios_tunnel import _rows
from scenarios.dpd import _dpd

HERE = Path(__file__).resolve().parent / "ar_dpd"
TOPOLOGY = HERE / "engine.yaml"
SCALE = 20.0  # clock_scale of both engines in ar_dpd/engine.yaml
TOL = 1.5  # protocol seconds of tolerance per timer (0.075 s real)
R1, R2 = "1.1.1.1", "2.2.2.2"
FIGURE = [20, 4, 8, 16, 24, 32, 40, 48, 56]  # gaps #0→#1 ... #8→#9 (L1660-1666)
SCENARIO = Scenario(
    seed="002_377d9b2fb7829bf0.txt", lines=(1537, 1691),
    section="IPsec DPD (Dead Peer Detection): traffic-based R-U-THERE, detection timeline",
    chapter="IPsec (AR570S)",
    claim="No R-U-THERE while encrypted traffic flows; after DPDIDLETIMEOUT of silence an "
          "R-U-THERE is sent and answered; a silent peer gets R-U-THERE #0..#9 at 0, 20, 24, "
          "32, 48, 72, 104, 144, 192, 248 s and is declared dead (SAs deleted) at 312 s.",
    feature="ar-dpd", topology="scenarios/ar/ar_dpd/engine.yaml", peers=("engine",),
    notes=("DPDMODE is set with SET ISAKMP POLICY (L2631-2643) on top of the basic "
           "configuration; the figure's mapping to MSGTIMEOUT/MSGBACKOFF/MSGRETRYLIMIT is "
           "inferred (spec §6 #6).",
           "The silent-peer timeline needs the IKE engine to follow Keepalive.schedule "
           "(docs/requests/ike.md); until then that test is an expected failure."),
)  # fmt: skip


def _up(ev, lab) -> None:
    with ev.step("h1 pings h2: the first traffic brings the tunnel up"):
        res = lab.node("h1").ping("192.168.20.10", count=3, interval=0.2, wait=2)
    ev.check("tunnel up: echo replies", res.received, ">= 2", ok=res.received >= 2)


def _topology(ev) -> Path:
    ev.topology(TOPOLOGY)
    ev.config("r1", HERE / "r1.cfg", label="Router A, DPDMODE=BOTH")
    ev.config("r2", HERE / "r2.cfg", label="Router B, DPDMODE=RECEIVE")
    return TOPOLOGY


def test_ar_dpd_traffic_based(ev, peer: str) -> None:
    with ExitStack() as stack:
        lab = stack.enter_context(Lab.up(_topology(ev)))
        stack.enter_context(ev.collecting(lab, nodes=("r1", "r2")))
        ev.show(lab.node("r1"), "show isakmp policy=i", label="DPD Mode BOTH, idle timeout 20")
        with ev.capture(lab, "r1:eth0", keys_from=("r1", "r2")) as cap:
            _up(ev, lab)
            t0 = time.time()
            with ev.step("steady traffic for 60 s (protocol): h1 pings every 2 s"):
                lab.node("h1").ping("192.168.20.10", count=30, interval=2 / SCALE, wait=1)
            t1 = time.time()
            with ev.step("idle: wait for 3 R-U-THERE"):
                _dpd.wait_until(
                    lambda: len([p for p in _dpd.info(_dpd.packets(cap), R1, R2) if p.t > t1]) >= 3,
                    within=4 * 20 / SCALE + 2,
                )
        pk = _dpd.packets(cap)
        during = [p for p in _dpd.info(pk, R1, R2) if t0 <= p.t <= t1]
        ev.check("no R-U-THERE while encrypted traffic is received (L1540-1544)", len(during), 0)
        probes = [p for p in _dpd.info(pk, R1, R2) if p.t > t1]
        acks = _dpd.info(pk, R2, R1)
        first = (probes[0].t - t1) * SCALE if probes else None
        ev.check("first R-U-THERE about DPDIDLETIMEOUT (20 s) after the traffic stopped",
                 first and round(first, 1), "<= 20 + tol",
                 ok=first is not None and first <= 20 + 2 * TOL)  # fmt: skip
        spacing = _dpd.gaps([p.t for p in probes], SCALE)
        ev.check("answered R-U-THEREs repeat every 20 s (ACK restarts dpdidletimer, L1604-1610)",
                 spacing, "20 each", ok=len(spacing) >= 2 and all(abs(g - 20) <= TOL
                                                                  for g in spacing))  # fmt: skip
        ok = _dpd.answered(probes, acks, within=0.5)
        ev.check("Router B (DPDMODE=RECEIVE) answers every R-U-THERE (L1546-1548)", ok,
                 [True] * len(ok))  # fmt: skip


@pytest.mark.xfail(reason="IKE does not follow Keepalive.schedule yet (docs/requests/ike.md)",
                   strict=False)  # fmt: skip
def test_ar_dpd_dead_peer_timeline(ev, peer: str) -> None:
    with ExitStack() as stack:
        lab = stack.enter_context(Lab.up(_topology(ev)))
        stack.enter_context(ev.collecting(lab, nodes=("r1", "r2")))
        r1 = lab.node("r1")
        with ev.capture(lab, "r1:eth0", keys_from=("r1", "r2")) as cap:
            _up(ev, lab)
            with ev.step("Router B falls silent (r2:eth0 down)"):
                lab.faults.link_down("r2:eth0")
                t_cut = time.time()

            def gone() -> bool:
                return not _rows(r1.cli("show isakmp sa"), "SA")

            with ev.step("wait for the SAs to be deleted (figure: 312 s after #0)"):
                _dpd.wait_until(gone, within=(20 + 312 + 20) / SCALE + 3)
                t_gone = time.time()
        pk = _dpd.packets(cap)
        probes = [p for p in _dpd.info(pk, R1, R2) if p.t > t_cut]
        rts = probes[:10]
        ev.check("R-U-THERE #0..#9: ten messages to the silent peer (L1642-1687)", len(rts), 10)
        gaps = _dpd.gaps([p.t for p in rts], SCALE)
        ev.check(
            "intervals 20, 4, 8, 16, 24, 32, 40, 48, 56 s (L1660-1666)",
            gaps,
            FIGURE,
            ok=len(gaps) == 9 and all(abs(g - f) <= TOL for g, f in zip(gaps, FIGURE)),
        )
        if rts:
            dead = (t_gone - rts[0].t) * SCALE
            ev.check("SAs deleted 312 s (5 min 12 s) after #0 (L1666)", round(dead, 1),
                     "312", ok=abs(dead - 312) <= 2 * TOL + 0.2 * SCALE)  # fmt: skip
        ev.check("SHOW ISAKMP SA empty (L1628-1636)", _rows(r1.cli("show isakmp sa"), "SA"), [])
        ev.check("SHOW IPSEC SA empty", _rows(r1.cli("show ipsec sa"), "SA"), [])
