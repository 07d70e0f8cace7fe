"""DPD interop with strongSwan (RFC 3706 in IKEv1; seed 003 L25-30, L45-65, L97, L259-276).

The documents require a DPD-capable peer (seed 003 L25-30). With strongSwan
(charon 5.9.8) as r1's peer 10.2.80.209: r1's periodic R_U_THERE
(``crypto isakmp keepalive 10 periodic``) is answered by strongSwan, and r1
still detects strongSwan's death (1 R_U_THERE + 4 retransmissions, dead at
5 x retry); strongSwan's own R-U-THERE (``dpd_delay``) is answered by r1, and
strongSwan detects r1's death (``dpd_timeout``). DPD runs over UDP 4500 here:
libipsec always UDP-encapsulates (NAT-T floated).
"""

from __future__ import annotations

import time
from pathlib import Path

from lab import Lab, strongswan
from reports.scenario import Scenario
from scenarios.dpd import _dpd

HERE = Path(__file__).resolve().parent / "interop"
SCALE = 10.0  # r1's clock scale; strongSwan runs in real time
TOL = 1.0
SECONDS, RETRY = 10.0, 2.0
R1, S2 = "10.1.32.14", "10.2.80.209"
SCENARIO = Scenario(
    seed="003_61cafab59ba10743.txt", lines=(25, 276),
    section="IPsec Dead Peer Detection Periodic Message Option: DPD with a DPD-capable peer",
    claim="R_U_THERE / R_U_THERE_ACK interoperate with a standard RFC 3706 peer in both "
          "directions, and each side detects the other's death.",
    feature="dpd-interop", topology="scenarios/dpd/interop/dpd0s.yaml", peers=("strongswan",),
    chapter="DPD",
    notes=("r1 loads the seed's site-to-site example (with keepalive 10 periodic); s2 is "
           "strongSwan configured as the peer 10.2.80.209 (3DES/SHA-1/MODP-1024, same PSK).",
           "r1 runs with --clock-scale 10, strongSwan in real time: strongSwan's dpd_delay 2 s "
           "and dpd_timeout 10 s are real seconds (20 s and 100 s of r1's protocol time).",
           "For strongSwan's probes r1 runs without keepalive (`no crypto isakmp keepalive` "
           "before the first traffic) so that only strongSwan probes."))


def _up(ev, lab) -> None:
    with ev.step("h1 pings s2's inside address: tunnel up"):
        res = lab.node("h1").ping("192.168.2.1", count=3, interval=0.3, wait=2)
        ev.note(res.output)
    ev.check("tunnel up: echo replies", res.received, ">= 2", ok=res.received >= 2)


def test_engine_probes_strongswan(ev, peer: str) -> None:
    topo = HERE / "dpd0s.yaml"
    ev.topology(topo)
    ev.config("r1", HERE.parent / "pair" / "r1.cfg", label="seed 003 L182-208")
    ev.config("s2", HERE / "s2-dpd0s.swanctl.conf", label="strongSwan, no own DPD")
    with Lab.up(topo) as lab, ev.collecting(lab, nodes=("r1",)):
        r1, s2 = lab.node("r1"), lab.node("s2")
        with ev.capture(lab, "r1:eth0", keys_from=("r1", "s2")) as cap:
            _up(ev, lab)
            with ev.step("idle tunnel: wait for 3 R_U_THERE/ACK exchanges"):
                _dpd.wait_until(lambda: len(_dpd.info(_dpd.packets(cap), R1, S2)) >= 3,
                                within=4 * SECONDS / SCALE + 2)
            pk = _dpd.packets(cap)
            probes, acks = _dpd.info(pk, R1, S2), _dpd.info(pk, S2, R1)
            ok = _dpd.answered(probes, acks, 0.5)
            ev.check("strongSwan answers every R_U_THERE (R_U_THERE_ACK)", ok, [True] * len(ok),
                     ok=len(ok) >= 3 and all(ok))
            g = _dpd.gaps([p.t for p in probes], SCALE)
            ev.check(f"R_U_THERE every {SECONDS:g} s (± {TOL:g})", g, f"{SECONDS:g} each",
                     ok=bool(g) and all(abs(x - SECONDS) <= TOL for x in g))
            with ev.step("cut strongSwan's link (s2:eth0 down)"):
                lab.faults.link_down("s2:eth0")
                t_cut = time.time()
            with ev.step("wait for r1's dead-peer declaration"):
                _dpd.wait_until(lambda: not _dpd.isakmp_peers(r1),
                                within=(SECONDS + 5 * RETRY + 2 * TOL) / SCALE + 2)
                t_seen = time.time()
        lost = [p for p in _dpd.info(_dpd.packets(cap), R1, S2) if p.t > t_cut]
        ev.check("1 R_U_THERE + 4 retransmissions, unanswered", len(lost), 5)
        if lost:
            det = (t_seen - lost[0].t) * SCALE
            ev.check(f"dead 5 x retry = {5 * RETRY:g} s after the first unanswered R_U_THERE",
                     round(det, 1), f"{5 * RETRY:g} (+ poll delay)",
                     ok=5 * RETRY - TOL <= det <= 5 * RETRY + TOL + 1)
        ev.check("r1: IKE and IPsec SAs with strongSwan deleted",
                 (_dpd.isakmp_peers(r1), _dpd.ipsec_peers(r1)), ([], []))
        ev.log(s2, strongswan.paths(s2)["log"])


def test_strongswan_probes_engine(ev, peer: str) -> None:
    topo = HERE / "dpd2s.yaml"
    ev.topology(topo)
    ev.config("r1", HERE.parent / "pair" / "r1.cfg", label="seed 003 L182-208, keepalive off")
    ev.config("s2", HERE / "s2-dpd2s.swanctl.conf", label="strongSwan dpd_delay 2 s")
    with Lab.up(topo) as lab, ev.collecting(lab, nodes=("r1",)):
        r1, s2 = lab.node("r1"), lab.node("s2")
        with ev.step("r1: no crypto isakmp keepalive"):
            ev.note(repr(r1.cli("lab config no crypto isakmp keepalive", json=True)))
        with ev.capture(lab, "r1:eth0", keys_from=("r1", "s2")) as cap:
            _up(ev, lab)
            with ev.step("idle tunnel: wait for 3 strongSwan R-U-THERE (dpd_delay 2 s real)"):
                _dpd.wait_until(lambda: len(_dpd.info(_dpd.packets(cap), S2, R1)) >= 3,
                                within=10.0)
            pk = _dpd.packets(cap)
            probes, acks = _dpd.info(pk, S2, R1), _dpd.info(pk, R1, S2)
            ok = _dpd.answered(probes, acks, 0.5)
            ev.check("r1 answers every strongSwan R-U-THERE", ok, [True] * len(ok),
                     ok=len(ok) >= 3 and all(ok))
            g = _dpd.gaps([p.t for p in probes], 1.0)
            ev.check("strongSwan probes every dpd_delay = 2 s real", g, "2 each (± 0.3)",
                     ok=bool(g) and all(abs(x - 2.0) <= 0.3 for x in g))
        ev.check("r1 sends no R_U_THERE of its own (no keepalive configured)",
                 len(acks), len(probes), ok=len(acks) <= len(probes))
        with ev.step("kill -9 r1's engine; strongSwan must detect it (dpd_timeout 10 s real)"):
            lab.faults.kill_daemon("r1")
            t_kill = time.time()
            gone = _dpd.wait_until(lambda: not strongswan.list_sas(s2), within=20.0)
            t_gone = time.time()
        ev.check("strongSwan closed the IKE_SA after its DPD timeout", bool(gone) or
                 not strongswan.list_sas(s2), True,
                 how=f"{t_gone - t_kill:.1f} s real after the kill")
        ev.log(s2, strongswan.paths(s2)["log"])




def test_failover_to_strongswan_hub(ev, peer: str) -> None:
    """Seed 000 L2604-2616 with strongSwan as the second peer of crypto map green: the
    engine hub 10.0.0.1 is killed, the spoke fails over to strongSwan 10.0.0.2."""
    topo = HERE.parent / "hubs" / "green-sw.yaml"
    spoke, first, second = R1, "10.0.0.1", "10.0.0.2"
    ev.topology(topo)
    ev.config("r1", HERE.parent / "hubs" / "r1-green.cfg", label="spoke: seed 000 map green")
    ev.config("hub2", HERE.parent / "hubs" / "s-hub-10.0.0.2.swanctl.conf", label="strongSwan")
    with Lab.up(topo) as lab, ev.collecting(lab, nodes=("r1",)):
        r1, hub2 = lab.node("r1"), lab.node("hub2")
        _dpd.add_service_address(lab, ("hh1",))
        with ev.capture(lab, "r1:eth0", keys_from=("r1", "hub2")) as cap, \
                _dpd.Pinger(lab.node("h1"), _dpd.SERVICE, interval=0.1, count=600) as ping:
            ev.wait_for("SAs with the engine hub 10.0.0.1", lambda: _dpd.ipsec_peers(r1),
                        lambda v: v == [first], [first], within=5.0)
            with ev.step("kill -9 the engine hub 10.0.0.1"):
                lab.faults.kill_daemon("hub1")
                t1 = time.time()
            ev.wait_for("SAs with strongSwan 10.0.0.2", lambda: _dpd.ipsec_peers(r1),
                        lambda v: v == [second], [second],
                        within=(SECONDS + 5 * RETRY + 10) / SCALE + 2)
            time.sleep(1.0)
            ping.stop()
            with ev.step("traffic stopped: periodic DPD to strongSwan"):
                t_idle = time.time()
                _dpd.wait_until(lambda: len(_dpd.info([p for p in _dpd.packets(cap)
                                                       if p.t > t_idle], spoke, second)) >= 2,
                                within=3 * SECONDS / SCALE + 2)
        pk = [p for p in _dpd.packets(cap) if p.t >= t1]
        ev.check("first new Phase 1 after the death goes to strongSwan 10.0.0.2",
                 [p.dst for p in _dpd.phase1_attempts(pk, spoke)][:1], [second])
        child = next(iter(strongswan.child_sas(hub2)), {})
        ev.check("strongSwan CHILD_SA installed with the spoke",
                 (child.get("state"), child.get("remote-host")), ("INSTALLED", spoke))
        after = [t for t in ping.replies() if t > t1]
        ev.check("traffic resumes through strongSwan", len(after), ">= 1", ok=bool(after))
        if after:
            gap = after[0] - t1
            ev.note(f"kill → traffic through strongSwan: {gap * SCALE:.1f} s protocol "
                    f"({gap:.2f} s real); documented detection <= {SECONDS:g} + 5 x {RETRY:g} s")
        idle = [p for p in _dpd.packets(cap) if p.t > t_idle]
        probes = _dpd.info(idle, spoke, second)
        ok = _dpd.answered(probes, _dpd.info(idle, second, spoke), 0.5)
        ev.check("strongSwan answers the spoke's periodic R_U_THERE", ok, [True] * len(ok),
                 ok=len(ok) >= 2 and all(ok))
        ev.log(hub2, strongswan.paths(hub2)["log"])
