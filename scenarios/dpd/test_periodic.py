"""Periodic DPD (IPsec Dead Peer Detection Periodic Message Option, seed 003).

``crypto isakmp keepalive 10 periodic`` (the site-to-site example, L196) makes
the router send an R_U_THERE every 10 s whether or not it has traffic (L55-57,
L97); the peer answers R_U_THERE_ACK (L259-276). When the peer stops
answering, the router retransmits every ``retry-seconds`` (default 2 s, L97),
sends 1 R_U_THERE + 4 retransmissions (L397) and declares the peer dead at the
5th unanswered retry interval, deleting the IKE and IPsec SAs with
``%CRYPTO-5-SESSION_STATUS: Crypto tunnel is DOWN`` (L339-347). The Easy VPN
example's ``crypto isakmp keepalive 30 20 periodic`` (L213-216) resends every
20 s. Timing is read from packet timestamps on r1's outside link and
converted with the engines' clock scale.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab import Lab
from reports.scenario import Scenario
from scenarios.dpd import _dpd

HERE = Path(__file__).resolve().parent / "pair"
TOPO = HERE / "engine.yaml"
SCALE = 10.0  # clock_scale of both engines in pair/engine.yaml
TOL = 1.0  # protocol seconds of tolerance on every DPD timer (0.1 s real at scale 10)
R1, R2 = "10.1.32.14", "10.2.80.209"
SCENARIO = Scenario(
    seed="003_61cafab59ba10743.txt", lines=(45, 397),
    section="IPsec Dead Peer Detection Periodic Message Option: periodic DPD, retries, "
            "dead peer (site-to-site example, debug trace)",
    claim="With crypto isakmp keepalive S [R] periodic the router sends R_U_THERE every S "
          "seconds without traffic; if unanswered it retransmits every R seconds (default 2), "
          "1 R_U_THERE + 4 retransmissions, and then deletes the peer's IKE and IPsec SAs "
          "(Crypto tunnel is DOWN).",
    feature="dpd-periodic", topology="scenarios/dpd/pair/engine.yaml", peers=("engine",),
    chapter="DPD",
    notes=("r1 loads the seed's site-to-site example (L182-208) verbatim plus an inside "
           "interface and access list 101, which the seed does not show. r2 (10.2.80.209) is "
           "its mirror image without a keepalive line, so every DPD exchange is r1's.",
           "Engines run with --clock-scale 10: 10 protocol seconds are 1 real second. Times "
           "are reported in protocol (scaled) seconds with the real value beside them.",
           "The link is cut on r2's side (r2:eth0 down); r1 keeps sending into the ISP router, "
           "so its probes stay visible on r1's outside link.",
           "30 20 periodic: entered with `lab config` on r1 before the first traffic (the seed "
           "shows it inside an Easy VPN Remote configuration, which the lab does not model)."))


def _up(ev, lab) -> None:
    with ev.step("h1 pings h2: the first traffic brings the tunnel up"):
        res = lab.node("h1").ping("192.168.2.10", count=3, interval=0.3, wait=2)
        ev.note(res.output)
    ev.check("tunnel up: echo replies", res.received, ">= 2", ok=res.received >= 2)


@pytest.mark.parametrize("keepalive,seconds,retry", [
    ("crypto isakmp keepalive 10 periodic", 10.0, 2.0),
    ("crypto isakmp keepalive 30 20 periodic", 30.0, 20.0),
], ids=["10-periodic", "30-20-periodic"])
def test_periodic_dpd_and_dead_peer(ev, peer: str, keepalive: str, seconds: float,
                                    retry: float) -> None:
    ev.topology(TOPO)
    ev.config("r1", HERE / "r1.cfg", label="seed 003 L182-208 (+ inside interface, ACL 101)")
    ev.config("r2", HERE / "r2.cfg", label="mirror of r1, no keepalive")
    with Lab.up(TOPO) as lab, ev.collecting(lab, nodes=("r1", "r2")):
        r1 = lab.node("r1")
        if "30 20" in keepalive:
            with ev.step(f"r1: {keepalive}"):
                r = r1.cli(f"lab config {keepalive}", json=True)
                ev.note(f"lab config: {r!r}")
        ev.show(r1, "show running-config | include keepalive", label="DPD setting")
        with ev.capture(lab, "r1:eth0", keys_from=("r1", "r2")) as cap:
            _up(ev, lab)
            n_alive = 3
            with ev.step(f"idle tunnel: wait for {n_alive} R_U_THERE/ACK exchanges"):
                _dpd.wait_until(lambda: len(_dpd.info(_dpd.packets(cap), R1, R2)) >= n_alive,
                                within=(n_alive + 1) * seconds / SCALE + 2)
            pk = _dpd.packets(cap)
            probes, acks = _dpd.info(pk, R1, R2), _dpd.info(pk, R2, R1)
            spacing = _dpd.gaps([p.t for p in probes], SCALE)
            ev.check(f"R_U_THERE spacing = {seconds:g} s (± {TOL:g} s) without traffic",
                     spacing, f"{seconds:g} each (real {seconds / SCALE:g} s)",
                     ok=len(spacing) >= n_alive - 1 and all(abs(g - seconds) <= TOL
                                                            for g in spacing),
                     how="consecutive r1→r2 Informational exchanges, capture timestamps x "
                         f"clock scale {SCALE:g}")
            ok = _dpd.answered(probes, acks, within=0.5)
            ev.check("every R_U_THERE answered by R_U_THERE_ACK", ok, [True] * len(ok))
            with ev.step("cut the link on r2's side (r2:eth0 down)"):
                lab.faults.link_down("r2:eth0")
                t_cut = time.time()
            dead_within = seconds + 5 * retry + 2 * TOL  # documented worst case after the cut

            def down_line() -> str:
                return next((s for s in _dpd.syslog(r1) if "Crypto tunnel is DOWN" in s), "")

            with ev.step("wait for the dead-peer declaration (syslog)"):
                line = _dpd.wait_until(down_line, within=dead_within / SCALE + 2)
                t_down_seen = time.time()
            time.sleep(2 * retry / SCALE)  # would show a 6th probe if there were one
        pk = _dpd.packets(cap)
        lost = [p for p in _dpd.info(pk, R1, R2) if p.t > t_cut]
        ev.check("after the cut: 1 R_U_THERE + 4 retransmissions (seed 003 L397)",
                 len(lost), 5)
        rgaps = _dpd.gaps([p.t for p in lost], SCALE)
        ev.check(f"retransmissions every retry-seconds = {retry:g} s (± {TOL:g} s)", rgaps,
                 f"{retry:g} x 4", ok=len(rgaps) == 4 and all(abs(g - retry) <= TOL
                                                             for g in rgaps))
        if lost:
            first = (lost[0].t - t_cut) * SCALE
            ev.check(f"first unanswered R_U_THERE within one interval ({seconds:g} s) of the cut",
                     round(first, 2), f"<= {seconds + TOL:g}", ok=first <= seconds + TOL)
            det = (t_down_seen - lost[0].t) * SCALE
            ev.check(f"dead declared 5 x retry = {5 * retry:g} s after the first unanswered "
                     "R_U_THERE (seed 003 trace L278-347: 35.343 → 45.391)",
                     round(det, 2), f"{5 * retry:g} (+ poll delay)",
                     ok=5 * retry - TOL <= det <= 5 * retry + TOL + 0.2 * SCALE,
                     how="syslog line first seen by polling every 0.05 s real")
            ev.note(f"detection: cut → DOWN {round((t_down_seen - t_cut) * SCALE, 1)} s "
                    f"protocol ({round(t_down_seen - t_cut, 2)} s real); documented bound "
                    f"seconds + 5 x retry = {seconds + 5 * retry:g} s")
        ev.check("syslog: Crypto tunnel is DOWN (seed 003 L346-347)", line.split(": ", 1)[-1],
                 f"%CRYPTO-5-SESSION_STATUS: Crypto tunnel is DOWN. Peer {R2}:500 Id: {R2}",
                 ok=line.endswith(f"Crypto tunnel is DOWN. Peer {R2}:500 Id: {R2}"))
        ev.check("IKE SA with the dead peer deleted", _dpd.isakmp_peers(r1), [])
        ev.check("IPsec SAs with the dead peer deleted", _dpd.ipsec_peers(r1), [])
        ev.show(r1, "show crypto isakmp sa", label="after the dead-peer declaration")


DEBUG_LINES = (  # seed 003 L240, L267-268, L290-291, L339-343 (normalised, spec A.4.6)
    ("IKE_DPD is enabled, initializing timers", 1),
    (f"DPD/R_U_THERE_ACK received from peer {R2}, sequence 0x", 1),
    ("incrementing error counter on sa: PEERS_ALIVE_TIMER", 5),
    (f"peer {R2} not responding!", 1),
    ("peer does not do paranoid keepalives.", 1),
    (f'deleting SA reason "peers alive" state (I) QM_IDLE (peer {R2})', 1),
)


def test_debug_crypto_isakmp(ev, peer: str) -> None:
    """``debug crypto isakmp`` shows DPD as the seed's trace does (L235-397)."""
    ev.topology(TOPO)
    ev.config("r1", HERE / "r1.cfg", label="seed 003 L182-208 (+ inside interface, ACL 101)")
    with Lab.up(TOPO) as lab, ev.collecting(lab, nodes=("r1",)):
        r1 = lab.node("r1")
        with ev.step("r1# debug crypto isakmp"):
            ev.note(repr(r1.cli("debug crypto isakmp")))
        _up(ev, lab)
        with ev.step("wait for one R_U_THERE/ACK, then cut r2's link and wait for the death"):
            _dpd.wait_until(lambda: any("R_U_THERE_ACK" in s for s in _dpd.syslog(r1)),
                            within=2 * 10 / SCALE + 1)
            lab.faults.link_down("r2:eth0")
            _dpd.wait_until(lambda: any("Crypto tunnel is DOWN" in s for s in _dpd.syslog(r1)),
                            within=(10 + 5 * 2 + 2) / SCALE + 2)
        lines = _dpd.syslog(r1)
        ev.note("\n".join(lines[-40:]))
        for text, n in DEBUG_LINES:
            seen = sum(1 for s in lines if text in s)
            ev.check(f"debug line: {text!r}", seen, f">= {n}" if n == 1 else n,
                     ok=seen >= 1 if n == 1 else seen == n)
        order = [next((i for i, s in enumerate(lines) if key in s), -1) for key in (
            "not responding!", "Crypto tunnel is DOWN")]
        ev.check("'not responding!' before the DOWN syslog (L339 → L346)", order[0] < order[1]
                 and order[0] >= 0, True)


def test_periodic_quiet_while_traffic_received(ev, peer: str) -> None:
    """Seed 003 L47 / seed 004 L70: the periodic "hello" is not sent while something is
    received from the peer within the interval (spec PP-20); it resumes when traffic stops."""
    ev.topology(TOPO)
    ev.config("r1", HERE / "r1.cfg", label="seed 003 L182-208 (+ inside interface, ACL 101)")
    with Lab.up(TOPO) as lab, ev.collecting(lab, nodes=("r1",)):
        h1 = lab.node("h1")
        with ev.capture(lab, "r1:eth0", keys_from=("r1", "r2")) as cap:
            with ev.step("h1 pings h2 every 2 s (0.2 s real) for 60 s: replies flow"):
                t0 = time.time()
                res = h1.ping("192.168.2.10", count=30, interval=0.2, wait=1)
                t1 = time.time()
            with ev.step("traffic stops: 25 s (2.5 s real) without traffic"):
                time.sleep(2.5)
        pk = _dpd.packets(cap)
        busy = [p for p in _dpd.info(pk, R1, R2) if t0 + 0.5 < p.t <= t1]
        ev.check("echo replies", res.received, ">= 28", ok=res.received >= 28)
        ev.check("no R_U_THERE while replies arrive (60 s, interval 10 s)", len(busy), 0)
        idle = [p for p in _dpd.info(pk, R1, R2) if p.t > t1]
        ev.check("R_U_THERE again once nothing is received (within 25 s)", len(idle),
                 ">= 1", ok=len(idle) >= 1)
        if idle:
            last_in = max(p.t for p in pk if p.src == R2 and p.t < idle[0].t)
            wait = round((idle[0].t - last_in) * SCALE, 2)
            ev.check("first R_U_THERE 10 s after the last packet received", wait,
                     f"10 ± {TOL:g}", ok=abs(wait - 10) <= TOL)
