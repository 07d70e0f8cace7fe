"""Faults for scenarios: link down/up, random loss (nft numgen), MTU, NAT flush, daemon kill.

Loss rules live in an nft table of their own (``inet ilab_fault``) so they
never touch a NAT box's ruleset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab import names, nsexec
from lab.errors import LabError

if TYPE_CHECKING:
    from lab.api import Lab


class Faults:
    """Fault injection on a running lab (``lab.faults``)."""

    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        self._loss: dict[str, set[tuple[str, str]]] = {}   # netns -> {(ifname, dir)}

    def _set_link(self, spec: str, **kw: object) -> None:
        from pyroute2 import IPRoute

        node, ifname = self.lab._iface(spec)
        with IPRoute(netns=node.netns) as ipr:
            idx = ipr.link_lookup(ifname=ifname)
            if not idx:
                raise LabError(f"{spec}: interface not found")
            ipr.link("set", index=idx[0], **kw)

    def link_down(self, spec: str) -> None:
        """Set ``node:if`` down (carrier lost on the peer too)."""
        self._set_link(spec, state="down")

    def link_up(self, spec: str) -> None:
        """Set ``node:if`` up again and restore the node's static routes.

        The kernel drops IPv4 routes through an interface that goes down.
        """
        from pyroute2 import IPRoute

        from lab.realize import add_routes

        self._set_link(spec, state="up")
        node, _ = self.lab._iface(spec)
        routes = self.lab.topo.routes.get(node.name, [])
        if routes:
            with IPRoute(netns=node.netns) as ipr:
                add_routes(ipr, node.name, routes, exist_ok=True)

    def mtu(self, spec: str, mtu: int) -> None:
        """Change the MTU of ``node:if``."""
        self._set_link(spec, mtu=mtu)

    def loss(self, spec: str, percent: float, direction: str = "both") -> None:
        """Drop ``percent`` % of packets on ``node:if`` at random (nft ``numgen random``).

        ``direction``: "in", "out" or "both". ``percent`` 0 removes the rule.
        """
        if direction not in ("in", "out", "both"):
            raise LabError(f"loss direction must be in/out/both, not {direction!r}")
        if not 0 <= percent <= 100:
            raise LabError(f"loss percent must be within 0..100, not {percent}")
        node, ifname = self.lab._iface(spec)
        dirs = ("in", "out") if direction == "both" else (direction,)
        active = self._loss.setdefault(node.netns, set())
        for d in dirs:
            if percent > 0:
                active.add((ifname, d))
            else:
                active.discard((ifname, d))
        self._rates = getattr(self, "_rates", {})
        for d in dirs:
            self._rates[(node.netns, ifname, d)] = percent
        self._load(node.netns, node.name)

    def clear_loss(self, spec: str) -> None:
        self.loss(spec, 0)

    def _load(self, netns: str, node: str) -> None:
        t = names.NFT_FAULT_TABLE
        lines = [f"table inet {t}", f"delete table inet {t}", f"table inet {t} {{",
                 "  chain fin { type filter hook prerouting priority -400; policy accept; }",
                 "  chain fout { type filter hook postrouting priority 400; policy accept; }"]
        lines.append("}")
        for ifname, d in sorted(self._loss.get(netns, ())):
            pct = self._rates[(netns, ifname, d)]
            # numgen random mod 10000 < pct*100: 0.01 % resolution
            threshold = int(round(pct * 100))
            if d == "in":
                lines.append(f'add rule inet {t} fin iifname "{ifname}" '
                             f"numgen random mod 10000 < {threshold} drop")
            else:
                lines.append(f'add rule inet {t} fout oifname "{ifname}" '
                             f"numgen random mod 10000 < {threshold} drop")
        nsexec.run_in(netns, ["nft", "-f", "-"], input="\n".join(lines) + "\n", node=node)

    def nat_flush(self, node: str, proto: str | None = None) -> int:
        """Delete a NAT node's conntrack entries (so the next packet gets a new mapping).

        Returns the number of entries deleted.
        """
        n = self.lab.node(node)
        argv = ["conntrack", "-D"] + (["-p", proto] if proto else [])
        r = n.exec(argv, check=False)
        if r.rc not in (0, 1):
            raise LabError(f"node {node}: conntrack -D failed: {r.stderr.strip()}")
        import re

        m = re.search(r"(\d+) flow entries have been deleted", r.stderr + r.stdout)
        return int(m[1]) if m else 0

    def kill_daemon(self, node: str) -> None:
        """SIGKILL the node's daemon (no restart)."""
        self.lab.node(node).stop_daemon(kill=True)

    def reboot(self, node: str) -> None:
        """Peer reboot: SIGKILL the node's daemon and start it again."""
        self.lab.node(node).restart_daemon(kill=True)
