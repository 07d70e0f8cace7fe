"""IPsec preferred peer: default peer and idle timer with the default peer (seed 004).

Example (L160-169): ``crypto map tohub 1`` with ``set peer 10.1.1.1 default``,
``set peer 10.2.2.2`` and ``set security-association idletime 120 default``.
The first connection goes to the default peer. When DPD declares it dead,
the peer list is reset so the default peer is tried first for the next
connection (L30, L74); it does not answer, so the next peer 10.2.2.2 becomes
current and the SAs come up there (L74). When 10.1.1.1 is back, nothing
changes while the tunnel to 10.2.2.2 is used; once the current peer has been
idle for 120 s, its SAs are deleted and the next connection goes to the
default peer 10.1.1.1 (L90, L143, L162).
"""

from __future__ import annotations

import time
from pathlib import Path

from lab import Lab
from reports.scenario import Scenario
from scenarios.dpd import _dpd

HERE = Path(__file__).resolve().parent / "hubs"
TOPO = HERE / "tohub.yaml"
SCALE = 20.0  # clock_scale of hubs/tohub.yaml
TOL = 1.5  # protocol seconds (75 ms real)
SECONDS, RETRY, IDLE = 10.0, 2.0, 120.0
ACQUIRE_RETRY = 1.0  # engine/runner.py: real seconds between acquires of one flow
P1_GIVE_UP = 4 + 8 + 16 + 32 + 64 + 128  # engine: 5 retransmissions, then one more wait (s)
SPOKE, DEFAULT, BACKUP = "10.1.32.14", "10.1.1.1", "10.2.2.2"
SCENARIO = Scenario(
    seed="004_c89671c59f5b09b7.txt", lines=(26, 169),
    section="IPsec Preferred Peer: default peer, idle timer used with the default peer",
    claim="The first connection and every connection after a DPD timeout or an idle-timer "
          "expiry (idletime N default) goes to the default peer 10.1.1.1; if it does not "
          "answer, 10.2.2.2 becomes the current peer; the current peer is kept while used.",
    feature="preferred-peer", topology="scenarios/dpd/hubs/tohub.yaml", peers=("engine",),
    chapter="DPD",
    notes=("Spoke r1: the seed's crypto map lines verbatim (L165-168), completed with a "
           "transform set, ACL 101 and `crypto isakmp keepalive 10 periodic` (the feature "
           "needs DPD, periodic recommended, L30).",
           "Both hub sites carry the service address 192.168.2.10/32, so traffic works "
           "through either hub.",
           f"Engines run with --clock-scale {SCALE:g}: 120 s of idle time are 6 s real.",
           "How long an unanswered Phase 1 lasts is not stated (spec ambiguity A4): the engine "
           f"retransmits 5 times (after 4, 8, 16, 32, 64 s) and gives up {P1_GIVE_UP} s after "
           "the first message."))


def _ping(h1, n: int = 3) -> int:
    return h1.ping(_dpd.SERVICE, count=n, interval=0.1, wait=1).received


def test_default_peer_failover_and_idle_return(ev, peer: str) -> None:
    ev.topology(TOPO)
    ev.config("r1", HERE / "r1-tohub.cfg", label="spoke: seed 004 L165-168 + completions")
    for a in (DEFAULT, BACKUP):
        ev.config(f"hub {a}", HERE / f"hub-{a}.cfg", label="hub (mirror image)")
    with Lab.up(TOPO) as lab, ev.collecting(lab, nodes=("r1", "hub2")):
        r1, h1 = lab.node("r1"), lab.node("h1")
        _dpd.add_service_address(lab, ("hh1", "hh2"))
        ev.show(r1, "show crypto map", label="configured peers")
        with ev.capture(lab, "r1:eth0", keys_from=("r1",)) as cap:
            with ev.step("first connection (h1 pings the service)"):
                ev.check("echo replies", _ping(h1), ">= 2", ok=_ping(h1) >= 2)
            ev.check("first Phase 1 goes to the default peer 10.1.1.1 (L74, L152)",
                     [p.dst for p in _dpd.phase1_attempts(_dpd.packets(cap), SPOKE)],
                     [DEFAULT])
            with ev.step("cut 10.1.1.1's link; h1 keeps pinging every 0.1 s real"):
                lab.faults.link_down("hub1:eth0")
                t_cut = time.time()
                with _dpd.Pinger(h1, _dpd.SERVICE, interval=0.1, count=1000) as ping:
                    _dpd.wait_until(lambda: BACKUP in _dpd.ipsec_peers(r1),
                                    within=(SECONDS + 5 * RETRY + P1_GIVE_UP + 20) / SCALE)
                    time.sleep(0.5)
            pk = [p for p in _dpd.packets(cap) if p.t >= t_cut]
            attempts = _dpd.phase1_attempts(pk, SPOKE)
            ev.check("after the DPD timeout: the next connection tries the default peer "
                     "first, then 10.2.2.2 (L30, L74)", [p.dst for p in attempts],
                     [DEFAULT, BACKUP])
            probes = [p for p in _dpd.info(pk, SPOKE, DEFAULT)]
            if attempts and probes:
                det = (attempts[0].t - probes[0].t) * SCALE
                ev.check("dead declared 5 x retry after the first unanswered R_U_THERE",
                         round(det, 2), f"{5 * RETRY:g} (+ next packet)",
                         ok=5 * RETRY - TOL <= det <= 5 * RETRY + TOL + 0.1 * SCALE,
                         how="first unanswered R_U_THERE to the first Phase 1 message; the "
                             "next ping (every 0.1 s real) triggers it")
            if len(attempts) == 2:
                wait = (attempts[1].t - attempts[0].t) * SCALE
                slack = ACQUIRE_RETRY * SCALE + TOL
                ev.check(f"10.1.1.1 given up after the Phase 1 retransmissions ({P1_GIVE_UP} s)",
                         round(wait, 1), f"{P1_GIVE_UP} .. {P1_GIVE_UP + slack:g}",
                         ok=P1_GIVE_UP - TOL <= wait <= P1_GIVE_UP + slack,
                         how="the runner re-acquires a flow at most once per real second "
                             f"(= {ACQUIRE_RETRY * SCALE:g} s protocol here)")
            replies = ping.replies()
            after = [t for t in replies if t > t_cut]
            if after:
                gap = after[0] - t_cut
                ev.note(f"outage while failing over to 10.2.2.2: {gap * SCALE:.1f} s protocol "
                        f"({gap:.2f} s real) = DPD ({SECONDS:g} + 5 x {RETRY:g}) + unanswered "
                        f"Phase 1 to the default peer ({P1_GIVE_UP} s) + negotiation")
            ev.check("traffic resumes through 10.2.2.2", len(after), ">= 1", ok=bool(after))
            ev.check("SAs with 10.2.2.2 only", _dpd.ipsec_peers(r1), [BACKUP])
            txt = ev.show(r1, "show crypto map", label="current peer 10.2.2.2")
            ev.check("show crypto map: Current peer 10.2.2.2", f"Current peer: {BACKUP}" in txt,
                     True)
            with ev.step("10.1.1.1 returns; traffic continues for 60 s (3 s real)"):
                lab.faults.link_up("hub1:eth0")
                t_back = time.time()
                h1.ping(_dpd.SERVICE, count=30, interval=0.1, wait=1)
            pk = [p for p in _dpd.packets(cap) if p.t >= t_back]
            ev.check("no pre-emption: no Phase 1 to 10.1.1.1 while 10.2.2.2 is used",
                     [p.dst for p in _dpd.phase1_attempts(pk, SPOKE)], [])
            ev.check("SAs still with 10.2.2.2", _dpd.ipsec_peers(r1), [BACKUP])
            with ev.step("no traffic for 100 s (< idletime 120), then one ping"):
                time.sleep(100 / SCALE)
                t_100 = time.time()
                ok = _ping(h1, 2)
            pk = [p for p in _dpd.packets(cap) if p.t >= t_100]
            ev.check("after 100 s idle: still 10.2.2.2, no new Phase 1",
                     (ok >= 1, [p.dst for p in _dpd.phase1_attempts(pk, SPOKE)],
                      _dpd.ipsec_peers(r1)), (True, [], [BACKUP]))
            with ev.step("no traffic until the idle timer (120 s) deletes the SAs"):
                t_idle = time.time()
                gone = _dpd.wait_until(lambda: not _dpd.ipsec_peers(r1),
                                       within=(IDLE + 20) / SCALE)
                t_gone = time.time()
            ev.check("idle timer deleted the SAs with 10.2.2.2", bool(gone), True)
            pk = _dpd.packets(cap)
            last_esp = max((p.t for p in pk if p.kind == "esp" and p.t <= t_gone), default=t_idle)
            dels = [p for p in _dpd.final_burst(pk, SPOKE, BACKUP) if p.t > last_esp]
            ev.check("DELETE notifications sent to 10.2.2.2 (IPsec SA, then ISAKMP SA)",
                     len(dels), 2, how="the spoke's last Informationals to 10.2.2.2, "
                                       "unanswered; periodic DPD ends with the IKE SA")
            if dels:
                idle_s = (dels[0].t - last_esp) * SCALE
                ev.check("SAs deleted after 120 s without traffic (periodic DPD is no activity)",
                         round(idle_s, 1), f"{IDLE:g} ± {TOL:g}", ok=abs(idle_s - IDLE) <= TOL + 1)
            ev.wait_for("10.2.2.2 removed its SAs too (it received the DELETEs)",
                        lambda: _dpd.ipsec_peers(lab.node("hub2")), lambda v: v == [], [],
                        within=2.0)
            with ev.step("next connection"):
                t_next = time.time()
                ok = _ping(h1)
            pk = [p for p in _dpd.packets(cap) if p.t >= t_next]
            ev.check("after the idle expiry the next connection goes to the default peer "
                     "10.1.1.1 (L90, L162)", [p.dst for p in _dpd.phase1_attempts(pk, SPOKE)],
                     [DEFAULT])
            ev.check("traffic flows through 10.1.1.1", (ok >= 1, _dpd.ipsec_peers(r1)),
                     (True, [DEFAULT]))
            txt = ev.show(r1, "show crypto map", label="current peer back to 10.1.1.1")
            ev.check("show crypto map: Current peer 10.1.1.1", f"Current peer: {DEFAULT}" in txt,
                     True)


def test_after_backup_dies_default_peer_not_next(ev, peer: str) -> None:
    """Seed 004 L74: with a default peer, the connection after a timeout goes directly to
    the default peer, not to the next peer of the list (spec PP-12): peers 10.0.0.1
    (default), 10.0.0.2, 10.0.0.3; the spoke runs on 10.0.0.2, 10.0.0.1 is back, 10.0.0.2
    dies → 10.0.0.1, not 10.0.0.3."""
    topo = HERE / "green-default.yaml"
    a, b, c = "10.0.0.1", "10.0.0.2", "10.0.0.3"
    ev.topology(topo)
    ev.config("r1", HERE / "r1-green-default.cfg", label="seed 000 map green, first peer default")
    with Lab.up(topo) as lab, ev.collecting(lab, nodes=("r1",)):
        r1, h1 = lab.node("r1"), lab.node("h1")
        _dpd.add_service_address(lab, ("hh1", "hh2", "hh3"))
        with ev.capture(lab, "r1:eth0", keys_from=("r1",)) as cap, \
                _dpd.Pinger(h1, _dpd.SERVICE, interval=0.1, count=1000) as ping:
            with ev.step("h1 pings the service: tunnel to the default peer 10.0.0.1"):
                ev.wait_for("SAs with 10.0.0.1", lambda: _dpd.ipsec_peers(r1),
                            lambda v: v == [a], [a], within=5.0)
            with ev.step("10.0.0.1's link cut: DPD, default retried, then 10.0.0.2 (bounded)"):
                lab.faults.link_down("hub1:eth0")
                t1 = time.time()
                _dpd.wait_until(lambda: _dpd.ipsec_peers(r1) == [b],
                                within=(SECONDS + 5 * RETRY + P1_GIVE_UP + 40) / SCALE)
            pk = [p for p in _dpd.packets(cap) if p.t >= t1]
            ev.check("after 10.0.0.1 died: Phase 1 to 10.0.0.1 (default) then 10.0.0.2",
                     [p.dst for p in _dpd.phase1_attempts(pk, SPOKE)], [a, b])
            with ev.step("10.0.0.1 back; then 10.0.0.2's link cut"):
                lab.faults.link_up("hub1:eth0")
                time.sleep(0.5)
                lab.faults.link_down("hub2:eth0")
                t2 = time.time()
                _dpd.wait_until(lambda: _dpd.ipsec_peers(r1) == [a],
                                within=(SECONDS + 5 * RETRY + 40) / SCALE + 2)
                time.sleep(0.5)
            pk = [p for p in _dpd.packets(cap) if p.t >= t2]
            ev.check("after 10.0.0.2 died: directly to the default peer 10.0.0.1, not to "
                     "the next peer 10.0.0.3 (L74)",
                     [p.dst for p in _dpd.phase1_attempts(pk, SPOKE)], [a])
            ev.check("SAs with 10.0.0.1 again", _dpd.ipsec_peers(r1), [a])
            ev.check("nothing sent to 10.0.0.3", [p.kind for p in pk if p.dst == c], [])
            ping.stop()
        after = [t for t in ping.replies() if t > t2]
        if after:
            gap = after[0] - t2
            ev.note(f"10.0.0.2 cut → traffic through 10.0.0.1: {gap * SCALE:.1f} s protocol "
                    f"({gap:.2f} s real); documented detection bound {SECONDS:g} + 5 x "
                    f"{RETRY:g} s")
        ev.check("traffic resumes through 10.0.0.1", len(after), ">= 1", ok=bool(after))
