"""Stateless failover with several peers in a crypto map (seed 000 L2034-2042, L2146-2152,
L2604-2616; seed 003 L63-65, L99-101, L399-410).

DPD combined with several ``set peer`` lines gives stateless failover: when
DPD declares the current peer dead, the router deletes its IKE and IPsec
SAs and moves to the next listed peer ("the peer list is cycled"). The seed's
map ``green`` lists 10.0.0.1, 10.0.0.2 and 10.0.0.3. Here hub 10.0.0.1's engine
is killed (kill -9), then hub 10.0.0.2's link is cut, while h1 pings the
service behind the hubs every 0.1 s real (1 s protocol); the outage is measured
from the echo replies and DPD timing from the capture on r1's outside link.
"""

from __future__ import annotations

import time
from pathlib import Path

from lab import Lab
from reports.scenario import Scenario
from scenarios.dpd import _dpd

HERE = Path(__file__).resolve().parent / "hubs"
TOPO = HERE / "green.yaml"
SCALE = 10.0
TOL = 1.0
SECONDS, RETRY = 10.0, 2.0  # crypto isakmp keepalive 10 periodic (retry default 2 s)
SPOKE = "10.1.32.14"
PEERS = ("10.0.0.1", "10.0.0.2", "10.0.0.3")
SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt", lines=(2034, 2616),
    section="IPsec Dead Peer Detection periodic message option: DPD and IOS XE keepalives "
            "with multiple peers in a crypto map",
    claim="When DPD declares the current peer dead the router deletes its IKE and IPsec SAs "
          "and moves to the next peer of the crypto map (stateless failover): 10.0.0.1, then "
          "10.0.0.2, then 10.0.0.3.",
    feature="dpd-failover", topology="scenarios/dpd/hubs/green.yaml", peers=("engine",),
    chapter="DPD",
    notes=("Spoke r1: the seed's crypto map green verbatim (L2610-2616) with the site-to-site "
           "example's policy, keepalive 10 periodic and transform set (L2414-2425); one "
           "wildcard pre-shared key for the three hubs. The hubs are engines whose crypto "
           "maps mirror the spoke's (the seed does not show them).",
           "The three hub sites carry the same service address 192.168.2.10/32 (added to "
           "hh1-hh3 by the scenario), so the spoke's traffic works through any current hub.",
           "Engines run with --clock-scale 10; times are given in protocol seconds with the "
           "real value beside them."))


def _outage(ev, replies: list[float], t_fault: float, label: str) -> float:
    before = [t for t in replies if t <= t_fault]
    after = [t for t in replies if t > t_fault]
    ev.check(f"{label}: traffic from h1 resumes through the next peer", len(after), ">= 1",
             ok=len(after) >= 1)
    if not before or not after:
        ev.check(f"{label}: echo replies before the fault", len(before), ">= 1",
                 ok=len(before) >= 1)
        return 0.0
    gap = after[0] - before[-1]
    bound = SECONDS + 5 * RETRY + 5.0
    ev.check(f"{label}: outage <= interval + 5 x retry + 5 s for a new Phase 1/2 "
             f"(= {bound:g} s)", round(gap * SCALE, 1), f"<= {bound:g}",
             ok=gap * SCALE <= bound,
             how="last echo reply before the fault to the first one after it (ping -D)")
    ev.note(f"{label}: connectivity lost for {gap * SCALE:.1f} s protocol ({gap:.2f} s real)")
    return gap


def _failover(ev, cap, r1, dead: str, nxt: str, t_fault: float, label: str) -> None:
    pk = [p for p in _dpd.packets(cap) if p.t >= t_fault]
    probes = _dpd.info(pk, SPOKE, dead)
    probes = [p for p in probes if not _dpd.answered([p], _dpd.info(pk, dead, SPOKE), 0.5)[0]]
    ev.check(f"{label}: 1 R_U_THERE + 4 retransmissions to {dead}, unanswered", len(probes), 5)
    g = _dpd.gaps([p.t for p in probes], SCALE)
    ev.check(f"{label}: retransmissions every {RETRY:g} s (± {TOL:g})", g, f"{RETRY:g} x 4",
             ok=len(g) == 4 and all(abs(x - RETRY) <= TOL for x in g))
    mm = [p for p in _dpd.phase1_attempts(pk, SPOKE)]
    ev.check(f"{label}: first new Phase 1 goes to the next peer {nxt}",
             mm[0].dst if mm else None, nxt)
    if probes and mm:
        det = (mm[0].t - probes[0].t) * SCALE
        ev.check(f"{label}: dead declared, SAs deleted and {nxt} contacted 5 x retry = "
                 f"{5 * RETRY:g} s after the first unanswered R_U_THERE", round(det, 2),
                 f"{5 * RETRY:g} (+ up to 1 s for the next packet)",
                 ok=5 * RETRY - TOL <= det <= 5 * RETRY + TOL + 1.0)
        ev.check(f"{label}: no probe to {dead} after the switch (SAs deleted first)",
                 [round((p.t - mm[0].t) * SCALE, 2) for p in _dpd.info(pk, SPOKE, dead)
                  if p.t > mm[0].t], [])
        total = (mm[0].t - t_fault) * SCALE
        ev.check(f"{label}: fault → next peer within interval + 5 x retry "
                 f"(= {SECONDS + 5 * RETRY:g} s)", round(total, 2),
                 f"<= {SECONDS + 5 * RETRY + TOL + 1:g}",
                 ok=total <= SECONDS + 5 * RETRY + TOL + 1)
        ev.note(f"{label}: detection (fault → Phase 1 with {nxt}) {total:.1f} s protocol "
                f"({total / SCALE:.2f} s real); documented: <= {SECONDS:g} + 5 x {RETRY:g} s")
    ev.wait_for(f"{label}: IKE SA now with {nxt} only", lambda: _dpd.isakmp_peers(r1),
                lambda v: nxt in v and dead not in v, [nxt, SPOKE], within=3.0)
    ev.check(f"{label}: IPsec SAs with {nxt} only", _dpd.ipsec_peers(r1), [nxt])
    sess = ev.show(r1, "show crypto session", label=f"{label}: after the failover")
    ev.check(f"{label}: show crypto session: UP-ACTIVE with {nxt}",
             ("Session status: UP-ACTIVE" in sess, f"Peer: {nxt}/500" in sess,
              f"Peer: {dead}/" in sess), (True, True, False))
    ev.check(f"{label}: syslog Crypto tunnel is DOWN for {dead}",
             any(f"DOWN. Peer {dead}:500" in s for s in _dpd.syslog(r1)), True)


def test_failover_through_three_peers(ev, peer: str) -> None:
    ev.topology(TOPO)
    ev.config("r1", HERE / "r1-green.cfg", label="spoke: seed 000 L2610-2616 + completions")
    for a in PEERS:
        ev.config(f"hub {a}", HERE / f"hub-{a}.cfg", label="hub (mirror image)")
    with Lab.up(TOPO) as lab, ev.collecting(lab, nodes=("r1",)):
        r1 = lab.node("r1")
        _dpd.add_service_address(lab, ("hh1", "hh2", "hh3"))
        with ev.capture(lab, "r1:eth0", keys_from=("r1",)) as cap, \
                _dpd.Pinger(lab.node("h1"), _dpd.SERVICE, interval=0.1, count=400) as ping:
            with ev.step("h1 pings the service: tunnel to the first peer"):
                ev.wait_for("IKE SA with the first peer 10.0.0.1", lambda: _dpd.isakmp_peers(r1),
                            lambda v: PEERS[0] in v, [PEERS[0], SPOKE], within=5.0)
                time.sleep(1.0)
            ev.check("first Phase 1 to the first listed peer (seed 003 L101)",
                     [p.dst for p in _dpd.phase1_attempts(_dpd.packets(cap), SPOKE)],
                     [PEERS[0]])
            ev.show(r1, "show crypto isakmp sa", label="on the first peer")
            with ev.step("kill -9 hub 10.0.0.1's engine"):
                lab.faults.kill_daemon("hub1")
                t1 = time.time()
            with ev.step("wait for the failover to 10.0.0.2 (bounded)"):
                _dpd.wait_until(lambda: PEERS[1] in _dpd.isakmp_peers(r1),
                                within=(SECONDS + 5 * RETRY) / SCALE + 3)
                time.sleep(1.0)
            _failover(ev, cap, r1, PEERS[0], PEERS[1], t1, "peer 1 killed")
            ev.show(r1, "show crypto isakmp sa", label="on the second peer")
            with ev.step("cut hub 10.0.0.2's link (hub2:eth0 down)"):
                lab.faults.link_down("hub2:eth0")
                t2 = time.time()
            with ev.step("wait for the failover to 10.0.0.3 (bounded)"):
                _dpd.wait_until(lambda: PEERS[2] in _dpd.isakmp_peers(r1),
                                within=(SECONDS + 5 * RETRY) / SCALE + 3)
                time.sleep(1.0)
            _failover(ev, cap, r1, PEERS[1], PEERS[2], t2, "peer 2 cut")
            ev.show(r1, "show crypto isakmp sa", label="on the third peer")
            ping.stop()
        replies = ping.replies()
        ev.note(f"h1: {len(replies)} echo replies in {len(ping.lines)} ping lines")
        _outage(ev, [t for t in replies if t < t2], t1, "peer 1 killed")
        _outage(ev, replies, t2, "peer 2 cut")
