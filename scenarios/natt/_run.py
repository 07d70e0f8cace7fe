"""Shared steps of the NAT traversal scenarios: bring a case up, capture, observe."""

from __future__ import annotations

import re
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator

from lab import Lab, strongswan
from scenarios.natt import _wire
from scenarios.natt._topo import FAR_PUBLIC, LANS, Case, build

PINGS = 5


def capture_points(case: Case) -> list[str]:
    """Both sides of every NAT box in the path (the ISP router's two sides if none)."""
    points = []
    if case.left != "none":
        points += ["nat1:eth0", "nat1:eth1"]
    if case.right != "none":
        points += ["nat2:eth1", "nat2:eth0"]
    return points or ["isp:eth0", "isp:eth1"]


@contextmanager
def lab_for(ev: Any, case: Case) -> Iterator[Lab]:
    """Generate ``case``'s topology and configs into the artefacts, record them, bring up."""
    d = Path(ev.artifacts) / "topology"
    path = build(case, d)
    ev.topology(path)
    ev.config("topology", path, label=case.name)
    for f in sorted(d.iterdir()):
        if f.suffix in (".cfg", ".conf"):
            ev.config(f.stem.split(".")[0], f, label="loaded")
    with ExitStack() as stack:
        with ev.step(
            f"bring up {case.name}: initiators behind {case.left} NAT, "
            f"{case.far} ({case.peer}) behind {case.right} NAT"
        ):
            lab = stack.enter_context(Lab.up(path))
        engines = tuple(n for n in (*case.initiators, case.far) if not n.startswith("s"))
        with ev.collecting(lab, nodes=engines):
            try:
                yield lab
            finally:
                for name in (*case.initiators, case.far):
                    if name.startswith("s"):
                        ev.show(lab.node(name), "--list-sas", label="final state")
                        ev.log(lab.node(name), lab.node(name).dir / "charon.log")
                for box in ("nat1", "nat2"):
                    if box in lab.topo.nodes:
                        ev.exec(lab.node(box), ["conntrack", "-L"], label=f"{box} mappings")


@contextmanager
def captures(
    ev: Any, lab: Lab, case: Case, points: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Capture on every point; yields {point: capture}; decoded with the SA keys."""
    keys = tuple(n for n in (*case.initiators, case.far))
    caps: dict[str, Any] = {}
    with ExitStack() as stack:
        for point in points or capture_points(case):
            caps[point] = stack.enter_context(ev.capture(lab, point, keys_from=keys))
        yield caps


def wire_of(caps: dict[str, Any]) -> dict[str, list[_wire.Pkt]]:
    return {point: _wire.decode(cap.packets) for point, cap in caps.items()}


def ping(ev: Any, lab: Lab, src: str, dst: str, count: int = PINGS) -> Any:
    with ev.step(f"{src} pings {lab.addr(dst)} {count} times"):
        res = lab.node(src).ping(lab.addr(dst), count=count, interval=0.3, wait=2)
        ev.note(res.output)
    return res


def host_of(router: str) -> str:
    return "h" + router[1:]


def isakmp_peer(text: str) -> list[tuple[str, str, str]]:
    """(dst, src, state) rows of ``show crypto isakmp sa``."""
    return re.findall(r"^\s*\S*/\S*\s+([\d.]+)\s+([\d.]+)\s+([A-Z_]+)", text, re.M)


def current_peers(text: str) -> list[str]:
    """``current_peer A:port`` values of ``show crypto ipsec sa``."""
    return re.findall(r"current_peer:?\s+(\S+)", text)


def encaps_settings(text: str) -> list[str]:
    return sorted(set(re.findall(r"in use settings =\{([^}]*)\}", text)))


def sw_children(node: Any) -> list[dict[str, Any]]:
    """Every CHILD_SA of a strongSwan node with its IKE_SA's endpoints.

    Walks VICI ``list-sas`` events itself: ``strongswan.child_sas`` keys IKE_SAs by
    connection name and loses all but one when several peers use one connection.
    """
    ctx = strongswan.node_ctx(node)
    with strongswan.vici(ctx) as v:
        events, _ = v.streamed("list-sas", "list-sa")
    out = []
    for event in events:
        for name, sa in event.items():
            if not isinstance(sa, dict):
                continue
            ike = strongswan._typed(sa)
            for child in ike.get("child-sas", {}).values():
                out.append(
                    dict(
                        child,
                        ike=name,
                        **{
                            k: ike.get(k)
                            for k in ("remote-host", "remote-port", "local-host", "local-port")
                        },
                    )
                )
    return out


def far_counters(lab: Lab, case: Case) -> dict[str, int]:
    """Decapsulated/encapsulated packets at the responder (engine or strongSwan)."""
    if case.peer == "strongswan":
        kids = sw_children(lab.node(case.far))
        return {
            "decaps": sum(int(c.get("packets-in", 0)) for c in kids),
            "encaps": sum(int(c.get("packets-out", 0)) for c in kids),
            "sas": len(kids),
        }
    data = lab.node(case.far).cli("lab counters", json=True) or {}
    sas = data.get("sas", [])
    return {
        "decaps": sum(s.get("decaps", 0) for s in sas),
        "encaps": sum(s.get("encaps", 0) for s in sas),
        "sas": len(sas),
    }


__all__ = [
    "FAR_PUBLIC",
    "LANS",
    "PINGS",
    "capture_points",
    "captures",
    "current_peers",
    "encaps_settings",
    "far_counters",
    "host_of",
    "isakmp_peer",
    "lab_for",
    "ping",
    "sw_children",
    "wire_of",
]
