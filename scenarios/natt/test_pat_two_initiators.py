"""IPsec NAT Transparency: two initiators behind one PAT box reach one responder at once.

Seed 000 L2863-2891: PAT cannot translate ESP (no ports), so UDP
encapsulation hides ESP behind a UDP header that PAT translates like any
UDP flow; PAT changes the port of the new UDP header and leaves the payload
alone. Glossary L3253-3277: PAT maps many private addresses to one public
address, each use tied to its own port. So two gateways behind one PAT box
each get their own public port pair and both tunnels carry traffic.
"""

from __future__ import annotations

import threading

from reports.scenario import Scenario
from scenarios.natt import _run, _wire
from scenarios.natt._topo import FAR_PUBLIC, Case

SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt",
    lines=(2863, 2891),
    section="IPsec NAT Transparency: IPsec ESP vs PAT, fixed IKE destination port vs PAT",
    chapter="Chapter 6",
    claim="With UDP encapsulation PAT treats ESP as ordinary UDP and translates its ports, so "
    "several IPsec gateways behind one PAT address each get their own port pair and "
    "all of their tunnels work at the same time.",
    feature="natt-pat-many",
    topology="topologies/natt-pat-two-sw.yaml",
    peers=("engine", "strongswan"),
    notes=(
        "The responder (engine) has one crypto map entry per initiator, both with the PAT "
        "address as peer, told apart by their ACLs.",
    ),
)


def pings_at_once(ev, lab, hosts: tuple[str, ...], count: int = _run.PINGS) -> dict[str, object]:
    """Every host pings h2 at the same time; returns host -> PingResult."""
    results: dict[str, object] = {}

    def run(h: str) -> None:
        results[h] = lab.node(h).ping(lab.addr("h2"), count=count, interval=0.3, wait=2)

    with ev.step(f"{' and '.join(hosts)} ping {lab.addr('h2')} {count} times, concurrently"):
        threads = [threading.Thread(target=run, args=(h,)) for h in hosts]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        for h in hosts:
            ev.note(f"{h}: {getattr(results.get(h), 'output', 'no result')}")
    return results


def test_two_initiators_behind_one_pat(ev, peer: str) -> None:
    case = Case(left="pat", two=True, peer=peer)
    with _run.lab_for(ev, case) as lab:
        with _run.captures(ev, lab, case) as caps:
            res = pings_at_once(ev, lab, ("h1", "h3"))
        for h in ("h1", "h3"):
            got = getattr(res.get(h), "received", 0)
            ev.check(
                f"{h} reaches h2 through its own tunnel",
                got,
                f">= {_run.PINGS - 1}",
                ok=got >= _run.PINGS - 1,
            )
        wire = _run.wire_of(caps)
        inside = _wire.summary(wire["nat1:eth0"])
        outside = _wire.summary(wire["nat1:eth1"])
        in_pairs = sorted(
            {(a, sp) for a, sp, b, dp in inside["port_pairs"] if b == FAR_PUBLIC and dp == 4500}
        )
        out_pairs = sorted(
            {(a, sp) for a, sp, b, dp in outside["port_pairs"] if b == FAR_PUBLIC and dp == 4500}
        )
        ev.check(
            "inside the PAT box: both gateways use UDP 4500 -> 4500",
            in_pairs,
            [(case.wan("r1"), 4500), (case.wan("r3"), 4500)],
        )
        ev.check(
            "outside: one public address, two distinct source ports (one per gateway)",
            (sorted({a for a, _ in out_pairs}), len({p for _, p in out_pairs})),
            ([case.public("r1")], 2),
            how=f"pairs {out_pairs}",
        )
        ev.check(
            "outside: ESP only inside UDP, checksum zero",
            (
                outside["esp_proto50"],
                outside["esp_udp"] > 0,
                outside["esp_udp_csum_nonzero"] if peer == "engine" else 0,
            ),
            (0, True, 0),
        )
        _check_responder(ev, lab, case, out_pairs)


def _check_responder(ev, lab, case: Case, out_pairs: list[tuple[str, int]]) -> None:
    ports = sorted(p for _, p in out_pairs)
    if case.peer == "strongswan":
        kids = _run.sw_children(lab.node("s2"))
        ev.check(
            "strongSwan: two CHILD_SAs, one per public port",
            sorted((c.get("remote-host"), int(c.get("remote-port", 0))) for c in kids),
            [(case.public("r1"), p) for p in ports],
        )
        return
    text = ev.show(lab.node("r2"), "show crypto ipsec sa", label="after traffic")
    ev.check(
        "r2 show crypto ipsec sa: one current_peer per public port",
        sorted(_run.current_peers(text)),
        sorted(f"{case.public('r1')}:{p}" for p in ports),
    )
    isakmp = ev.show(lab.node("r2"), "show crypto isakmp sa", label="after traffic")
    ev.check(
        "r2 show crypto isakmp sa: two QM_IDLE SAs from the PAT address",
        [
            ({d, s} - {case.wan("far")}).pop()
            for d, s, st in _run.isakmp_peer(isakmp)
            if st == "QM_IDLE"
        ],
        [case.public("r1")] * 2,
    )
    sas = (lab.node("r2").cli("lab counters", json=True) or {}).get("sas", [])
    ev.check(
        "r2: two SA pairs, each decapsulating and encapsulating",
        sorted((s["decaps"] > 0, s["encaps"] > 0) for s in sas),
        [(True, True)] * 2,
        how=str([(s["peer"], s["decaps"], s["encaps"]) for s in sas]),
    )
