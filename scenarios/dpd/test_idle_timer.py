"""IPsec SA idle timers (seed 000 L3606-3968).

``crypto ipsec security-association idle-time 600`` (global, L3806) and
``set security-association idle-time 600`` in ``crypto map test 1`` (L3812-3813)
delete the SAs of a peer that has been inactive for 600 s, before their
lifetime expires (L3670-3678); when the last IPsec SA with the peer goes, IKE
with that peer is deleted too (L3680-3683). Traffic more often than the idle
time keeps the SAs; new traffic after the deletion negotiates new SAs.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab import Lab
from reports.scenario import Scenario
from scenarios.dpd import _dpd

HERE = Path(__file__).resolve().parent / "pair"
SCALE = 60.0  # clock_scale of pair/idle-*.yaml: 600 s idle = 10 s real
TOL = 6.0  # protocol seconds (0.1 s real): activity is polled every 0.05 s real (3 s)
IDLE = 600.0
R1, R2 = "10.1.32.14", "10.2.80.209"
SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt", lines=(3606, 3813),
    section="IPsec security association idle timers: global and per crypto map examples",
    claim="An IPsec SA whose peer has been idle for the configured idle time (600 s) is "
          "deleted before its lifetime expires, and IKE with that peer too when it was the "
          "last SA; traffic within the idle time keeps the SAs.",
    feature="sa-idle-timer", topology="scenarios/dpd/pair/idle-global.yaml", peers=("engine",),
    chapter="Idle timers",
    notes=("r1 is the seed 003 site-to-site example (without its keepalive line) plus the "
           "idle-timer example lines verbatim; r2 has no idle timer, so its SAs disappear only "
           "through r1's DELETE notifications.",
           "Engines run with --clock-scale 60: 600 s are 10 s real.",
           "IKE Informational messages are encrypted: the DELETEs are recognised as r1→r2 "
           "Informationals that r2 does not answer (r2 runs no DPD), at the idle expiry, "
           "followed by the disappearance of r2's SAs."))


def _ping(h1, n: int = 1) -> int:
    return h1.ping("192.168.2.10", count=n, interval=0.2, wait=1).received


@pytest.mark.parametrize("where", ["global", "map"])
def test_idle_timer_deletes_and_traffic_recreates(ev, peer: str, where: str) -> None:
    topo = HERE / f"idle-{where}.yaml"
    ev.topology(topo)
    ev.config("r1", HERE / f"r1-idle-{where}.cfg",
              label="seed 003 L182-208 + seed 000 " + ("L3806" if where == "global"
                                                        else "L3812-3813"))
    ev.config("r2", HERE / "r2-idle.cfg", label="mirror of r1, no idle timer")
    with Lab.up(topo) as lab, ev.collecting(lab, nodes=("r1", "r2")):
        r1, r2, h1 = lab.node("r1"), lab.node("r2"), lab.node("h1")
        ev.show(r1, "show running-config | include idle", label="idle timer")
        with ev.capture(lab, "r1:eth0", keys_from=("r1", "r2")) as cap:
            with ev.step("first traffic: SAs up"):
                ev.check("echo replies", _ping(h1, 3), ">= 2", ok=_ping(h1, 2) >= 1)
            spis0 = _dpd.outbound_spis(r1)
            with ev.step("one ping every 300 s (5 s real), three times: below the idle time"):
                for _ in range(3):
                    time.sleep(300 / SCALE)
                    _ping(h1)
            pk = _dpd.packets(cap)
            ev.check("traffic below the idle time keeps the SAs (same SPIs, 900 s after set-up)",
                     _dpd.outbound_spis(r1), spis0)
            ev.check("no DELETE and no new Phase 1 meanwhile",
                     (len(_dpd.info(pk, R1, R2)), len(_dpd.phase1_attempts(pk, R1))), (0, 1))
            with ev.step("no traffic until the idle timer deletes the SAs (bounded)"):
                t0 = time.time()
                gone = _dpd.wait_until(lambda: not _dpd.ipsec_peers(r1),
                                       within=(IDLE + 60) / SCALE)
            ev.check("SAs deleted by the idle timer", bool(gone), True)
            time.sleep(0.3)
            pk = _dpd.packets(cap)
            last_esp = max(p.t for p in pk if p.kind == "esp")
            dels = [p for p in _dpd.info(pk, R1, R2) if p.t >= t0]
            ev.check("DELETE notifications on the wire (IPsec SA, then ISAKMP SA)", len(dels),
                     ">= 2", ok=len(dels) >= 2,
                     how="r1→r2 Informationals after the last traffic (r2 sends none back)")
            if dels:
                idle_s = (dels[0].t - last_esp) * SCALE
                ev.check(f"deleted {IDLE:g} s after the last packet (± {TOL:g} s)",
                         round(idle_s, 1), IDLE, ok=abs(idle_s - IDLE) <= TOL)
                ev.note(f"idle expiry {idle_s:.1f} s protocol ({idle_s / SCALE:.2f} s real) "
                        "after the last ESP packet")
            ev.check("IKE SA deleted with the last IPsec SA (L3680-3683)",
                     _dpd.isakmp_peers(r1), [])
            ev.wait_for("r2 removed its IPsec and IKE SAs (it received the DELETEs)",
                        lambda: (_dpd.ipsec_peers(r2), _dpd.isakmp_peers(r2)),
                        lambda v: v == ([], []), ([], []), within=2.0)
            with ev.step("new traffic"):
                t1 = time.time()
                n = _ping(h1, 3)
            pk = [p for p in _dpd.packets(cap) if p.t >= t1]
            ev.check("new traffic recreates the SAs: new Main Mode, echo replies",
                     (len(_dpd.phase1_attempts(pk, R1)), n >= 2), (1, True))
            spis1 = _dpd.outbound_spis(r1)
            ev.check("new SPIs", bool(spis1) and not set(spis1) & set(spis0), True,
                     how=f"before {spis0}, after {spis1}")
