"""Faults for scenarios: link down/up, random loss (nft numgen), MTU, NAT flush, daemon kill.

Loss rules live in an nft table of their own (``inet ilab_fault``) so they
never touch a NAT box's ruleset.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lab import names, nsexec
from lab.errors import LabError

if TYPE_CHECKING:
    from lab.api import Lab
    from lab.impair import Impairment


class Faults:
    """Fault injection on a running lab (``lab.faults``)."""

    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        self._impairs: dict[tuple[str, str], Impairment] = {}
        self._queue_num = 1000

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
        t = names.NFT_FAULT_TABLE
        # One chain per interface and direction, rewritten atomically: no state in
        # this process, so `./lab.sh fault` invocations compose.
        lines = [f"add table inet {t}"]
        for d in ("in", "out") if direction == "both" else (direction,):
            chain = f"{d}_{ifname}".replace("-", "_")
            hook, prio, match = (("prerouting", -400, "iifname") if d == "in"
                                 else ("postrouting", 400, "oifname"))
            lines += [f"add chain inet {t} {chain} {{ type filter hook {hook} priority {prio}; "
                      "policy accept; }", f"flush chain inet {t} {chain}"]
            if percent >= 100:
                lines.append(f'add rule inet {t} {chain} {match} "{ifname}" drop')
            elif percent > 0:
                # numgen random mod 10000 < percent*100: 0.01 % resolution
                lines.append(f'add rule inet {t} {chain} {match} "{ifname}" '
                             f"numgen random mod 10000 < {int(round(percent * 100))} drop")
            else:
                lines.append(f"delete chain inet {t} {chain}")
        nsexec.run_in(node.netns, ["nft", "-f", "-"], input="\n".join(lines) + "\n",
                      node=node.name)

    def clear_loss(self, spec: str) -> None:
        self.loss(spec, 0)

    def nat_flush(self, node: str, proto: str | None = None) -> int:
        """Delete a NAT node's conntrack entries (so the next packet gets a new mapping).

        Returns the number of entries deleted.
        """
        n = self.lab.node(node)
        argv = ["conntrack", "-D"] + (["-p", proto] if proto else [])
        r = n.exec(argv, check=False)
        if r.rc not in (0, 1):
            raise LabError(f"node {node}: conntrack -D failed: {r.stderr.strip()}")
        m = re.search(r"(\d+) flow entries have been deleted", r.stderr + r.stdout)
        return int(m[1]) if m else 0

    def nat_rebind(self, node: str) -> None:
        """NAT rebinding: every flow through ``node``'s PAT rules gets a new external port.

        Flushes conntrack and reloads the ruleset with the PAT rules restricted to
        a port range disjoint from the current one (10000-19999, 20000-29999, ...,
        50000-59999, then 10000-19999 again),
        as a NAT box does that lost its state and maps flows anew (RFC 3947 §4
        NAT keepalive / RFC 3948 §2.1 cases).
        """
        import dataclasses

        from lab import nat

        n = self.lab.node(node)
        if not any(r.type == "pat" for r in n.spec.nat):
            raise LabError(f"node {node} has no PAT rule to rebind")
        current = n.exec(["nft", "list", "table", "inet", names.NFT_TABLE], check=False).stdout
        m = re.search(r"(?:masquerade|snat).* to [^ ]*:(\d+)-\d+", current)
        lo = 10000 if not m else 10000 + (int(m[1]) // 10000 % 5) * 10000
        rules = [dataclasses.replace(r, ports=f"{lo}-{lo + 9999}") if r.type == "pat" else r
                 for r in n.spec.nat]
        ruleset = nat.render(dataclasses.replace(n.spec, nat=rules), self.lab.topo)
        t = names.NFT_TABLE
        nat.load(n.netns, f"table inet {t}\ndelete table inet {t}\n" + ruleset, node)
        self.nat_flush(node)

    def impair(self, spec: str, *, direction: str = "in", delay: float = 0.0,
               jitter: float = 0.0, duplicate: float = 0.0, reorder: float = 0.0,
               match: str = "", seed: int | None = None) -> Impairment:
        """Delay / duplicate / reorder packets on ``node:if`` (NFQUEUE, see lab.impair).

        Args:
            direction: "in" (packets arriving on the interface) or "out" (packets
                it sends; applied where they arrive, at the other end of the link).
            delay, jitter: seconds. duplicate, reorder: percent of packets.
            match: nft expression selecting packets, e.g. ``"meta l4proto esp"``
                or ``"udp dport 4500"`` (default: all IP packets).
        Returns:
            the running :class:`Impairment` (``.stats``); replaced by the next
            call for the same interface, removed by :meth:`clear_impair`.
        """
        from lab.impair import Impairment, Policy, mac_of

        node, ifname = self.lab._iface(spec)
        label = spec if direction == "in" else f"{spec} (out)"
        if direction == "out":
            netns, ifname = self.lab.peer_of(spec)
        elif direction == "in":
            netns = node.netns
        else:
            raise LabError(f"impair direction must be in/out, not {direction!r}")
        for name, value in (("duplicate", duplicate), ("reorder", reorder)):
            if not 0 <= value <= 100:
                raise LabError(f"impair {name} must be within 0..100 percent, not {value}")
        if delay < 0 or jitter < 0:
            raise LabError("impair delay/jitter must not be negative")
        self.clear_impair(label)
        old = self._impairs.pop((netns, ifname), None)
        if old is not None:
            old.stop()
        inject_ns, inject_if = self.lab.sender_of(netns, ifname)
        self._queue_num += 1
        imp = Impairment(netns, ifname, self._queue_num,
                         Policy(delay, jitter, duplicate, reorder, seed), inject_ns, inject_if,
                         mac_of(netns, ifname), match=match, label=label)
        self._impairs[(netns, ifname)] = imp
        return imp

    def clear_impair(self, spec: str | None = None) -> None:
        """Stop the impairments of ``node:if``, both directions (every one if None)."""
        for key, imp in list(self._impairs.items()):
            if spec is None or imp.label in (spec, f"{spec} (out)"):
                imp.stop()
                del self._impairs[key]

    def close(self) -> None:
        """Stop fault machinery living in this process (called by Lab.down)."""
        for imp in self._impairs.values():
            try:
                imp.stop()
            except Exception:  # teardown: the namespace may already be gone
                pass
        self._impairs.clear()

    def kill_daemon(self, node: str) -> None:
        """SIGKILL the node's daemon (no restart)."""
        self.lab.node(node).stop_daemon(kill=True)

    def reboot(self, node: str) -> None:
        """Peer reboot: SIGKILL the node's daemon and start it again."""
        self.lab.node(node).restart_daemon(kill=True)
