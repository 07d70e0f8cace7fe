"""IPsec NAT Transparency: the PAT box loses its mappings and rebinds to new ports.

Seed 000 L2913-2921: the dynamic NAT mapping must be kept alive, since a
mapping that times out (or a NAT box that restarts) changes the public port
under a running tunnel; L2888-2891: PAT changes the port of the new UDP
header. RFC 3947/3948 leave the recovery to the implementation: the tunnel
must carry traffic again, and this scenario records *how* it did (the
responder following the new port on authenticated ESP-in-UDP, or learning it
from an authenticated IKE message such as a DPD R-U-THERE and re-keying, or a
full renegotiation).
"""

from __future__ import annotations

import re
import time

from reports.scenario import Scenario
from scenarios.natt import _run, _wire
from scenarios.natt._topo import FAR_PUBLIC, Case

SCALE = 5
COUNT, INTERVAL = 50, 0.4  # pings after the rebind (20 real seconds)
RECOVER_WITHIN = 15.0  # real seconds

SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt",
    lines=(2888, 2921),
    section="IPsec NAT Transparency: PAT changes the UDP port; NAT mapping kept alive",
    chapter="Chapter 6",
    claim="When the PAT box maps the tunnel to a new public port (mapping lost, box rebound), "
    "the UDP-encapsulated tunnel recovers and carries traffic again in both directions.",
    feature="natt-rebinding",
    topology="topologies/natt-pat.yaml",
    peers=("engine", "strongswan"),
    notes=(
        "Fault: lab.faults.nat_rebind flushes the PAT box's conntrack table and restricts "
        "its port range, so every flow gets a new public port.",
        "r1 runs on-demand DPD (crypto isakmp keepalive 10 2) with its clock scaled "
        f"{SCALE}:1: its R-U-THERE from the new port tells a responder that does not "
        "follow ESP (strongSwan) where r1 is now.",
        "The document names no recovery mechanism; the report shows which one happened.",
    ),
)


def test_tunnel_recovers_after_rebinding(ev, peer: str) -> None:
    case = Case(left="pat", peer=peer, dpd="10 2", clock_scale=SCALE)
    with _run.lab_for(ev, case) as lab:
        with _run.captures(ev, lab, case) as caps:
            first = _run.ping(ev, lab, "h1", "h2", count=3)
            before = _sa_view(ev, lab, case, "before the rebind")
            with ev.step("PAT box rebinds (conntrack flushed, new port range)"):
                t_rebind = time.time()
                lab.faults.nat_rebind("nat1")
            with ev.step(f"h1 pings h2 {COUNT} times every {INTERVAL} s"):
                res = lab.node("h1").exec(
                    [
                        "ping",
                        "-D",
                        "-n",
                        "-c",
                        str(COUNT),
                        "-i",
                        str(INTERVAL),
                        "-W",
                        "1",
                        lab.addr("h2"),
                    ],
                    check=False,
                    timeout=COUNT * INTERVAL + 15,
                )
                ev.note(res.stdout[-1500:])
            back = _run.ping(ev, lab, "h2", "h1", count=3)
            after = _sa_view(ev, lab, case, "after recovery")
        ev.check("tunnel up before the fault", first.received >= 2, True)
        seqs = sorted(int(s) for s in re.findall(r"icmp_seq=(\d+)", res.stdout))
        lost_until = seqs[0] - 1 if seqs else COUNT
        ev.check(
            f"h1 -> h2 carries traffic again within {RECOVER_WITHIN:g} s",
            lost_until * INTERVAL,
            f"<= {RECOVER_WITHIN}",
            ok=bool(seqs) and lost_until * INTERVAL <= RECOVER_WITHIN,
            how=f"first {lost_until} echoes lost, then {len(seqs)} of "
            f"{COUNT - lost_until} answered",
        )
        ev.check(
            "the tail of the run is loss-free",
            seqs[-10:] if seqs else [],
            list(range(COUNT - 9, COUNT + 1)),
        )
        ev.check(
            "h2 -> h1 (responder side first) works after the rebind",
            back.received,
            ">= 2",
            ok=back.received >= 2,
        )
        _how(ev, lab, case, _run.wire_of(caps), before, after, t_rebind)


def _sa_view(ev, lab, case: Case, label: str) -> dict[str, object]:
    r1 = lab.node("r1")
    ipsec = ev.show(r1, "show crypto ipsec sa", label=label)
    spis = sorted(set(re.findall(r"spi: (0x[0-9A-Fa-f]+)", ipsec)))
    view: dict[str, object] = {"r1_spis": spis}
    if case.peer == "engine":
        text = ev.show(lab.node("r2"), "show crypto ipsec sa", label=label)
        view["far_peers"] = _run.current_peers(text)
        counters = (lab.node("r2").cli("lab counters", json=True) or {}).get("engine", {})
        view["far_moved"] = counters.get("natt_peer_moved", 0)
    else:
        kids = _run.sw_children(lab.node("s2"))
        view["far_peers"] = sorted({f"{c.get('remote-host')}:{c.get('remote-port')}" for c in kids})
        view["far_spis"] = sorted(hex(int(c.get("spi-in", 0))) for c in kids)
    ev.note(f"{label}: {view}")
    return view


def _how(
    ev, lab, case: Case, wire: dict[str, list[_wire.Pkt]], before, after, t_rebind: float
) -> None:
    out = wire["nat1:eth1"]
    ports = []
    for p in out:
        if (
            p.src == case.public("r1")
            and p.dst == FAR_PUBLIC
            and p.dport == 4500
            and p.sport not in ports
        ):
            ports.append(p.sport)
    ev.check(
        "the PAT box gave r1's UDP 4500 flow a new public port",
        len(ports) >= 2,
        True,
        how=f"public source ports in order {ports}",
    )
    later = [p for p in out if p.t >= t_rebind and p.kind == "ike"]
    exch = {
        name: sum(1 for p in later if p.exch == code)
        for name, code in (
            ("Main Mode", _wire.MAIN_MODE),
            ("Quick Mode", _wire.QUICK_MODE),
            ("Informational (DPD/DELETE)", _wire.INFO),
        )
    }
    new_spis = sorted(set(after["r1_spis"]) - set(before["r1_spis"]))
    if exch["Main Mode"]:
        how = "renegotiated Phase 1 and IPsec SAs"
    elif exch["Quick Mode"]:
        how = (
            f"new IPsec SAs by Quick Mode on the existing IKE SA (new SPIs {new_spis}), "
            "after the responder learned the new port from an authenticated IKE message"
        )
    else:
        how = (
            "peer moved: the same SAs continue (r1 SPIs unchanged); the responder now "
            f"sends to {after['far_peers']} (was {before['far_peers']})"
        )
    how += f"; IKE after the rebind: {exch}"
    if case.peer == "strongswan":
        log = (lab.node("s2").dir / "charon.log").read_text(errors="replace")
        moved = [
            ln.split("] ", 1)[-1] for ln in log.splitlines() if "remote endpoint changed" in ln
        ]
        if moved:
            how += f"; charon: {moved[-1]}"
    ev.note(f"HOW THE TUNNEL RECOVERED: {how}")
    ev.check(
        "the responder sends to r1's new public port",
        any(str(ports[-1]) in str(x) for x in after["far_peers"]) if ports else False,
        True,
        how=how,
    )
    if case.peer == "engine":
        ev.check(
            "r2 followed the new port on authenticated ESP-in-UDP (no renegotiation)",
            (new_spis, after.get("far_moved", 0) > before.get("far_moved", 0)),
            ([], True),
            how=how,
        )
