"""On-demand DPD, the default (seed 003 L49-51, L57, L97; seed 004 L68).

Without ``periodic`` the router sends DPD messages only based on traffic:
when it has outbound IPsec traffic to send and has received nothing from the
peer for ``seconds``; with no traffic to send, no DPD message at all. The
peer's traffic (replies) keeps DPD silent.
"""

from __future__ import annotations

import time
from pathlib import Path

from lab import Lab
from reports.scenario import Scenario
from scenarios.dpd import _dpd

HERE = Path(__file__).resolve().parent / "pair"
TOPO = HERE / "engine.yaml"
SCALE = 10.0
TOL = 1.0
R1, R2 = "10.1.32.14", "10.2.80.209"
KEEPALIVE = "crypto isakmp keepalive 10"  # seed 003 L88 syntax, on-demand is the default
SCENARIO = Scenario(
    seed="003_61cafab59ba10743.txt", lines=(49, 97),
    section="IPsec Dead Peer Detection Periodic Message Option: on-demand DPD (the default)",
    claim="With on-demand DPD no DPD message is sent while the router has no traffic to send; "
          "with outbound traffic and nothing received from the peer for `seconds`, the router "
          "sends an R_U_THERE.",
    feature="dpd-on-demand", topology="scenarios/dpd/pair/engine.yaml", peers=("engine",),
    chapter="DPD",
    notes=(f"r1 loads the seed's site-to-site example and is switched to `{KEEPALIVE}` "
           "(on-demand) with `lab config` before the first traffic.",
           "One-way traffic: h1 pings 192.168.2.99, an unused address behind r2: r2 decrypts "
           "and forwards the requests, nothing comes back.",
           "Engines run with --clock-scale 10."))


def test_on_demand_dpd(ev, peer: str) -> None:
    ev.topology(TOPO)
    ev.config("r1", HERE / "r1.cfg", label="seed 003 L182-208; then " + KEEPALIVE)
    ev.config("r2", HERE / "r2.cfg", label="mirror of r1, no keepalive")
    with Lab.up(TOPO) as lab, ev.collecting(lab, nodes=("r1", "r2")):
        r1, h1 = lab.node("r1"), lab.node("h1")
        with ev.step(f"r1: {KEEPALIVE}"):
            ev.note(repr(r1.cli(f"lab config {KEEPALIVE}", json=True)))
        ev.show(r1, "show running-config | include keepalive", label="on-demand (keyword hidden)")
        with ev.capture(lab, "r1:eth0", keys_from=("r1", "r2")) as cap:
            with ev.step("one-way traffic: h1 pings 192.168.2.99 (no replies) for 3 s real"):
                t_start = time.time()
                h1.ping("192.168.2.99", count=15, interval=0.2, wait=0.2)
            one_way = [p for p in _dpd.packets(cap) if p.t >= t_start]
            probes = _dpd.info(one_way, R1, R2)
            esp_in = [p for p in one_way if p.src == R2 and p.kind in ("esp", "ike")]
            ev.check("R_U_THERE sent during one-way traffic", len(probes), ">= 1",
                     ok=len(probes) >= 1)
            if probes:
                last_in = max((p.t for p in esp_in if p.t < probes[0].t), default=t_start)
                wait = round((probes[0].t - last_in) * SCALE, 2)
                ev.check("first R_U_THERE `seconds` = 10 s after the last packet from the peer",
                         wait, f"10 ± {TOL:g}", ok=abs(wait - 10) <= TOL,
                         how="capture: last r2→r1 packet (Quick Mode) to the first r1→r2 "
                             "Informational, x clock scale")
                acks = _dpd.info(one_way, R2, R1)
                ev.check("the peer answers (R_U_THERE_ACK)", _dpd.answered(probes[:1], acks, 0.5),
                         [True])
            with ev.step("traffic stops; let pending timers settle (2 s real = 20 s)"):
                time.sleep(2.0)
            with ev.step("no traffic for 40 s (4 s real)"):
                t_idle = time.time()
                time.sleep(4.0)
            idle = [p for p in _dpd.packets(cap) if t_idle <= p.t]
            ev.check("no traffic to send → no DPD message at all (seed 003 L49-51)",
                     len(_dpd.info(idle, R1, R2)), 0)
            with ev.step("two-way traffic: h1 pings h2 every 2 s (0.2 s real) for 40 s"):
                t_two = time.time()
                res = h1.ping("192.168.2.10", count=20, interval=0.2, wait=1)
                ev.note(res.output)
            two = [p for p in _dpd.packets(cap) if t_two <= p.t]
            first_in = min((p.t for p in two if p.src == R2 and p.kind == "esp"), default=t_two)
            early = [p for p in _dpd.info(two, R1, R2) if p.t <= first_in]
            ev.note(f"{len(early)} R_U_THERE when the traffic started: the peer had been "
                    "silent for more than `seconds`, its liveliness is in doubt (L51)")
            ev.check("while replies flow → no R_U_THERE (seed 004 L68)",
                     len([p for p in _dpd.info(two, R1, R2) if p.t > first_in]), 0,
                     how="r1→r2 Informationals after the first echo reply came back")
        ev.check("tunnel still up", _dpd.isakmp_peers(r1), [R2, R1] if R2 > R1 else [R1, R2],
                 ok=R2 in _dpd.isakmp_peers(r1))


def test_on_demand_dead_peer_found_only_with_traffic(ev, peer: str) -> None:
    """Seed 003 L49-51: with on-demand DPD a dead peer is not detected while the router
    has nothing to send; once traffic is offered, R_U_THERE follows and the peer is
    declared dead 5 x retry later (spec XS-03)."""
    ev.topology(TOPO)
    ev.config("r1", HERE / "r1.cfg", label="seed 003 L182-208; then " + KEEPALIVE)
    with Lab.up(TOPO) as lab, ev.collecting(lab, nodes=("r1",)):
        r1, h1 = lab.node("r1"), lab.node("h1")
        r1.cli(f"lab config {KEEPALIVE}", json=True)
        with ev.capture(lab, "r1:eth0", keys_from=("r1", "r2")) as cap:
            with ev.step("tunnel up (3 pings), then r2's link cut"):
                h1.ping("192.168.2.10", count=3, interval=0.2, wait=1)
                time.sleep(0.3)
                lab.faults.link_down("r2:eth0")
                t_cut = time.time()
            with ev.step("no traffic for 60 s (6 s real)"):
                time.sleep(6.0)
            idle = [p for p in _dpd.packets(cap) if p.t > t_cut]
            ev.check("no DPD while there is nothing to send", len(_dpd.info(idle, R1, R2)), 0)
            ev.check("the dead peer is not detected while idle: SAs still there",
                     _dpd.ipsec_peers(r1), [R2])
            with ev.step("traffic offered again (ping, no replies now)"):
                t_tr = time.time()
                h1.ping("192.168.2.10", count=20, interval=0.1, wait=0.2)
                _dpd.wait_until(lambda: not _dpd.isakmp_peers(r1), within=3.0)
        probes = [p for p in _dpd.info(_dpd.packets(cap), R1, R2) if p.t >= t_tr]
        ev.check("R_U_THERE at once (nothing heard for > 10 s) + 4 retransmissions",
                 len(probes), 5)
        if probes:
            ev.check("first R_U_THERE right after the first packet to send",
                     round((probes[0].t - t_tr) * SCALE, 2), f"<= {TOL:g}",
                     ok=(probes[0].t - t_tr) * SCALE <= TOL + 1)
        ev.check("peer declared dead, SAs deleted", (_dpd.isakmp_peers(r1),
                                                     _dpd.ipsec_peers(r1)), ([], []))
