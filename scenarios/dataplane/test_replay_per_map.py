"""Anti-replay disabled for one crypto map entry only (seed 000 example 2).

"Anti-replay checking is disabled for the IPsec connection to 172.17.150.2,
but enabled (with the default window size of 64) for the IPsec connections to
172.17.150.3 and 172.17.150.4" (L372–374): ``set security-association replay
disable`` under ``crypto map ETH0 17`` affects only the SAs created from that
entry (L199–201, L247–251, L269–273). ESP packets of both peers are captured
on networkserver1's segment and sent again from each peer: the copies from
.2 reach the inside host, those from .3 are dropped and counted.
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path

from scapy.layers.inet import ICMP, IP

from lab import Lab, replay
from reports.scenario import Scenario

HERE = Path(__file__).resolve().parent / "replaymap"
TOPOLOGY = HERE / "engine.yaml"
SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt",
    lines=(368, 429),
    section="IPsec Anti-Replay Window: configuration example 2 (disabling per crypto map)",
    chapter="Chapter 2",
    claim="With set security-association replay disable in crypto map entry 17 only, replayed "
    "packets from 172.17.150.2 are accepted while the SAs with 172.17.150.3 keep the "
    "default window of 64 and drop them.",
    feature="anti-replay-window",
    topology="scenarios/dataplane/replaymap/engine.yaml",
    peers=("engine",),
    notes=(
        "Config reconstructed one command per line (spec 2.5.2); entries 18/19 name peers "
        "192.168.1.3/.4 in the document, inconsistent with their keys, routes and the text: "
        "the lab uses 172.17.150.3/.4 ('! lab:' lines).",
        "Peers 172.17.150.2 and .3 are lab-made mirror images; .4 is left out (same as .3).",
    ),
)

H1 = "172.16.160.10"
PEERS = {  # peer node -> (peer address, host behind it, expected replay window)
    "p2": ("172.17.150.2", "172.18.170.10", 0),
    "p3": ("172.17.150.3", "172.19.180.10", 64),
}
REPLAYS = 3


def _requests_at_h1(cap, src: str) -> list[int]:
    return [
        p[ICMP].seq
        for p in cap.packets
        if IP in p and ICMP in p and p[IP].src == src and p[ICMP].type == 8
    ]


def test_replay_disabled_for_one_map_entry(ev, peer: str) -> None:
    ev.topology(TOPOLOGY)
    for n in ("r1", "p2", "p3"):
        ev.config(n, HERE / f"{n}.cfg", label="seed 000 L376-429" if n == "r1" else "lab")
    with ExitStack() as stack:
        with ev.step("bring up networkserver1 with peers 172.17.150.2 and .3"):
            lab = stack.enter_context(Lab.up(TOPOLOGY))
        with ev.collecting(lab, nodes=("r1",)):
            _run(ev, lab)


def _run(ev, lab) -> None:
    r1 = lab.node("r1")
    for node, (addr, host, _w) in PEERS.items():
        with ev.step(f"h1 pings {host}: SAs with {addr}"):
            res = lab.node("h1").ping(host, count=3, interval=0.3, wait=2)
        ev.check(f"tunnel to {addr} up", res.received, ">= 2", ok=res.received >= 2)
    detail = ev.show(r1, "show crypto ipsec sa detail", label="per-entry windows")
    blocks = re.split(r"\n(?=\s*Crypto map tag)", detail)
    for node, (addr, _host, window) in PEERS.items():
        sizes = sorted(
            {
                w
                for b in blocks
                if f"current_peer: {addr}:" in b
                for w in re.findall(r"replay window size: (\d+)", b)
            }
        )
        flags = sorted(
            {
                f
                for b in blocks
                if f"current_peer: {addr}:" in b
                for f in re.findall(r"replay detection support: ([YN])", b)
            }
        )
        ev.check(
            f"SAs with {addr}: replay window {window or 'disabled'}",
            (flags, sizes),
            (["N" if window == 0 else "Y"], [str(window)]),
        )
    c0 = {s["peer"]: s for s in (r1.cli("lab counters", json=True) or {}).get("sas", [])}
    with ExitStack() as stack:
        outer = stack.enter_context(ev.capture(lab, "r1:eth0", keys_from=("r1",)))
        inner = stack.enter_context(ev.capture(lab, "r1:eth1"))
        for node, (addr, host, _w) in PEERS.items():
            with ev.step(f"{host} pings h1 {REPLAYS} times"):
                lab.node(f"h{node[1]}").ping(H1, count=REPLAYS, interval=0.2, wait=2)
        for node, (addr, host, _w) in PEERS.items():
            esp = [p for p in outer.packets if IP in p and p[IP].src == addr and p[IP].proto == 50]
            with ev.step(f"send the {len(esp[:REPLAYS])} captured ESP packets again from {addr}"):
                replay.inject(lab, node, esp[:REPLAYS])
        ev.wait_for(
            "copies from 172.17.150.2 delivered to h1",
            lambda: len(_requests_at_h1(inner, PEERS["p2"][1])),
            lambda n: n >= 2 * REPLAYS,
            f"{2 * REPLAYS} echo requests",
            within=5,
        )

    def failures(addr: str) -> int:
        sas = (r1.cli("lab counters", json=True) or {}).get("sas", [])
        now = next((x for x in sas if x["peer"] == addr), {})
        return now.get("replay_failures", 0) - c0.get(addr, {}).get("replay_failures", 0)

    ev.wait_for(
        "r1 has processed the replays from 172.17.150.3",
        lambda: failures(PEERS["p3"][0]),
        lambda n: n >= REPLAYS,
        REPLAYS,
        within=5,
    )
    c1 = {s["peer"]: s for s in (r1.cli("lab counters", json=True) or {}).get("sas", [])}
    for node, (addr, host, window) in PEERS.items():
        seen = _requests_at_h1(inner, host)
        fails = c1.get(addr, {}).get("replay_failures", 0) - c0.get(addr, {}).get(
            "replay_failures", 0
        )
        if window == 0:
            ev.check(
                f"replayed packets from {addr} accepted (map entry 17: replay disable)",
                len(seen),
                2 * REPLAYS,
            )
            ev.check(f"no replay failure counted for {addr}", fails, 0)
        else:
            ev.check(f"replayed packets from {addr} dropped (window {window})", len(seen), REPLAYS)
            ev.check(f"replay failures counted for {addr}", fails, REPLAYS)
    logs = [x for x in r1.cli("lab syslog", json=True) or [] if "PKT_REPLAY_ERR" in x]
    ev.check("%CRYPTO-4-PKT_REPLAY_ERR logged (for the .3 SA only)", len(logs) >= 1, True)
