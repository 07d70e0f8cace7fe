"""Policy routing derived from the crypto ACLs of the applied crypto maps.

For every ACE of every crypto map entry applied on an interface (entry order,
then ACL order) one ``ip rule`` is installed: ``permit`` → lookup the engine
table, whose default route is the TUN device; ``deny`` → lookup main (bypass).
Rules may be wider than the ACE (``neq`` ports, non-contiguous wildcards):
the engine re-checks every packet exactly and sends non-matching ones on in
clear, so a wide rule costs speed, never correctness.

Two rules above them keep the engine's own packets out of the TUN: packets
carrying the engine's fwmark (its sockets set ``SO_MARK``) and packets that
arrive from the TUN (decrypted inbound traffic).
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from engine.config.model import Ace, Config, PortMatch

log = logging.getLogger("engine.policy")

ENGINE_TABLE = 100
ENGINE_MARK = 0x1F5EC  # set on every engine socket (SO_MARK)
PRIO_BASE = 900
MAIN_TABLE = 254


@dataclass(frozen=True)
class RuleSpec:
    """One ``ip rule`` as pyroute2 keyword arguments (for tests and show)."""

    kwargs: tuple[tuple[str, object], ...]

    def as_dict(self) -> dict[str, object]:
        return dict(self.kwargs)


def _port_range(pm: PortMatch | None) -> str | None:
    if pm is None:
        return None
    if pm.op == "eq":
        return f"{pm.low}:{pm.low}"
    if pm.op == "range":
        return f"{pm.low}:{pm.high}"
    if pm.op == "lt":
        return f"0:{max(pm.low - 1, 0)}"
    if pm.op == "gt":
        return f"{min(pm.low + 1, 65535)}:65535"
    return None  # neq: the whole protocol goes to the engine, which checks exactly


def _net_fields(prefix: str, net: ipaddress._BaseNetwork, wild: object) -> dict[str, object]:
    if wild is not None or net.prefixlen == 0:
        return {}
    return {prefix: str(net.network_address), f"{prefix}_len": net.prefixlen}


def ace_rule(ace: Ace, priority: int, table: int) -> dict[str, object]:
    """pyroute2 ``rule('add', ...)`` arguments for one ACE."""
    family = socket.AF_INET6 if ace.src.version == 6 else socket.AF_INET
    kw: dict[str, object] = {"family": family, "priority": priority, "table": table}
    kw.update(_net_fields("src", ace.src, ace.src_wildcard))
    kw.update(_net_fields("dst", ace.dst, ace.dst_wildcard))
    if ace.protocol is not None:
        kw["ip_proto"] = ace.protocol
        if ace.protocol in (6, 17):
            sr, dr = _port_range(ace.src_port), _port_range(ace.dst_port)
            if sr:
                kw["sport_range"] = sr
            if dr:
                kw["dport_range"] = dr
    return kw


def _local_source(ace: Ace, local_addrs: set[str]) -> str | None:
    """Our address when the ACE's source is exactly one of them (transport mode ACLs)."""
    if ace.src_wildcard is not None or ace.src.num_addresses != 1:
        return None
    addr = str(ace.src.network_address)
    return addr if addr in local_addrs else None


def plan_rules(config: Config, tun: str, table: int = ENGINE_TABLE,
               mark: int = ENGINE_MARK,
               local_addrs: set[str] | None = None) -> list[dict[str, object]]:
    """Every rule for ``config`` in priority order (pure, testable).

    A permit ACE whose source is one of our own addresses (``permit ip host
    10.0.1.1 host 10.0.2.1``, transport mode, router-originated traffic)
    matches on the destination only and uses a table of its own whose route
    carries that address as preferred source: locally generated packets are
    routed before they have a source address, and a TUN has none to pick.
    Such rule dicts carry ``_prefsrc``.
    """
    rules: list[dict[str, object]] = []
    prio = PRIO_BASE
    for family in (socket.AF_INET, socket.AF_INET6):
        rules.append({"family": family, "priority": prio, "fwmark": mark,
                      "fwmask": 0xFFFFFFFF, "table": MAIN_TABLE})
        rules.append({"family": family, "priority": prio + 1, "iifname": tun,
                      "table": MAIN_TABLE})
    prio += 100
    own_tables: dict[str, int] = {}
    for intf in config.interfaces.values():
        for map_name in (intf.crypto_map, intf.crypto_map_v6):
            cmap = config.crypto_maps.get(map_name or "")
            if cmap is None:
                continue
            for entry in cmap.ordered():
                acl = config.access_lists.get(entry.match_address or "")
                if acl is None:
                    continue
                for ace in acl.entries:
                    dest = table if ace.action == "permit" else MAIN_TABLE
                    own = _local_source(ace, local_addrs or set()) \
                        if ace.action == "permit" else None
                    if own is None:
                        rules.append(ace_rule(ace, prio, dest))
                    else:
                        own_table = own_tables.setdefault(own, table + 1 + len(own_tables))
                        kw = ace_rule(ace, prio, own_table)
                        kw.pop("src", None)
                        kw.pop("src_len", None)
                        kw["_prefsrc"] = own
                        rules.append(kw)
                    prio += 1
    return rules


class PolicyRouting:
    """Installs and removes the engine's rules and table in this namespace."""

    def __init__(self, tun: str, tun_index: int, table: int = ENGINE_TABLE,
                 mark: int = ENGINE_MARK) -> None:
        self.tun = tun
        self.tun_index = tun_index
        self.table = table
        self.mark = mark
        self.installed: list[dict[str, object]] = []
        self.dynamic: dict[tuple[str, str, int], dict[str, object]] = {}

    def install(self, config: Config, local_addrs: set[str] | None = None) -> list[str]:
        """(Re)install rules for ``config``; return problems as messages."""
        problems: list[str] = []
        self.remove()
        with IPRoute() as ipr:
            for family, dst in ((socket.AF_INET, "0.0.0.0/0"), (socket.AF_INET6, "::/0")):
                try:
                    ipr.route("replace", family=family, dst=dst, oif=self.tun_index,
                              table=self.table)
                except NetlinkError as exc:
                    problems.append(f"route {dst} table {self.table}: {exc}")
            for kw in plan_rules(config, self.tun, self.table, self.mark, local_addrs):
                prefsrc = kw.pop("_prefsrc", None)
                if prefsrc is not None:
                    fam = socket.AF_INET6 if ":" in str(prefsrc) else socket.AF_INET
                    try:
                        ipr.route("replace", family=fam, dst="::/0" if fam == socket.AF_INET6
                                  else "0.0.0.0/0", oif=self.tun_index, table=kw["table"],
                                  prefsrc=prefsrc)
                    except NetlinkError as exc:
                        problems.append(f"route via {self.tun} src {prefsrc}: {exc}")
                try:
                    ipr.rule("add", **kw)
                    self.installed.append(kw)
                except NetlinkError as exc:
                    if exc.code != errno.EEXIST:
                        problems.append(f"ip rule {kw}: {exc}")
        for p in problems:
            log.warning("policy routing: %s", p)
        return problems

    def ensure_pair(self, pair: object) -> bool:
        """Route an SA's selectors into the TUN when no rule does yet.

        Dynamic crypto maps have no ACL of their own: while the SA is up, its
        traffic selectors (local → remote) must reach the engine (IOS installs
        them like a reverse route). Returns True if a rule was added.
        """
        local, remote = pair.local_ts, pair.remote_ts  # type: ignore[attr-defined]
        key = (str(local.network), str(remote.network), local.protocol)
        if key in self.dynamic or self._covered(local.network, remote.network):
            return False
        family = socket.AF_INET6 if local.network.version == 6 else socket.AF_INET
        kw: dict[str, object] = {"family": family, "priority": PRIO_BASE + 50 + len(self.dynamic),
                                 "table": self.table}
        kw.update(_net_fields("src", local.network, None))
        kw.update(_net_fields("dst", remote.network, None))
        if local.protocol:
            kw["ip_proto"] = local.protocol
        try:
            with IPRoute() as ipr:
                ipr.rule("add", **kw)
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                log.warning("dynamic SA rule %s: %s", kw, exc)
                return False
        self.dynamic[key] = kw
        log.info("routing SA selectors %s -> %s into %s", key[0], key[1], self.tun)
        return True

    def release_pair(self, pair: object) -> None:
        """Remove the rule :meth:`ensure_pair` added for this SA's selectors."""
        local, remote = pair.local_ts, pair.remote_ts  # type: ignore[attr-defined]
        kw = self.dynamic.pop((str(local.network), str(remote.network), local.protocol), None)
        if kw is None:
            return
        try:
            with IPRoute() as ipr:
                ipr.rule("del", **kw)
        except NetlinkError as exc:
            if exc.code not in (errno.ENOENT, errno.ESRCH):
                log.warning("ip rule del %s: %s", kw, exc)

    def _covered(self, local: ipaddress._BaseNetwork, remote: ipaddress._BaseNetwork) -> bool:
        """Does an installed permit rule already send local → remote to the TUN?"""
        for kw in self.installed:
            if kw.get("table") != self.table or "ip_proto" in kw:
                continue
            src = ipaddress.ip_network(f"{kw['src']}/{kw['src_len']}") if "src" in kw else None
            dst = ipaddress.ip_network(f"{kw['dst']}/{kw['dst_len']}") if "dst" in kw else None
            if src is not None and (src.version != local.version or not local.subnet_of(src)):
                continue
            if dst is not None and (dst.version != remote.version or not remote.subnet_of(dst)):
                continue
            return True
        return False

    def remove(self) -> None:
        """Delete every rule this object installed (missing ones are fine)."""
        for kw in list(self.dynamic.values()):
            self.installed.append(kw)
        self.dynamic.clear()
        if not self.installed:
            return
        with IPRoute() as ipr:
            for kw in self.installed:
                try:
                    ipr.rule("del", **kw)
                except NetlinkError as exc:
                    if exc.code not in (errno.ENOENT, errno.ESRCH):
                        log.warning("ip rule del %s: %s", kw, exc)
        self.installed.clear()
