"""NAT boxes: render an nftables ruleset for a ``nat`` node and load it inside its namespace.

``pat`` = masquerade/SNAT of everything from ``inside`` leaving ``outside``
(source ports rewritten when needed, or always with ``random``);
``static`` = 1:1 address (or prefix) mapping in both directions.
UDP conntrack timeouts are nft ``ct timeout`` objects attached to the
rule's traffic before conntrack sees it (RFC 4787 §4.3 mapping refresh).
"""

from __future__ import annotations

import ipaddress

from lab import names, nsexec
from lab.errors import LabError
from lab.model import NatRule, Node, Topology

CT_PRIO = -300   # before conntrack (-200): ct timeout must be set on the first packet


def _fam(addr: str) -> str:
    return "ip6" if ipaddress.ip_interface(addr).version == 6 else "ip"


def _net(addr: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    if "/" not in addr:
        addr += "/128" if ":" in addr else "/32"
    return ipaddress.ip_interface(addr)


def render(node: Node, topo: Topology) -> str:
    """The nftables ruleset (``nft -f`` syntax) of ``node``'s NAT rules."""
    pre: list[str] = []
    post: list[str] = []
    raw: list[str] = []
    objects: list[str] = []
    for i, rule in enumerate(node.nat):
        if rule.udp_timeout or rule.udp_stream_timeout:
            for l3 in ("ip", "ip6"):
                obj = f"udp{i}_{l3}"
                pol = []
                if rule.udp_timeout:
                    pol.append(f"unreplied : {rule.udp_timeout}")
                if rule.udp_stream_timeout:
                    pol.append(f"replied : {rule.udp_stream_timeout}")
                objects.append(f"  ct timeout {obj} {{\n    protocol udp;\n    l3proto {l3};\n"
                               f"    policy = {{ {', '.join(pol)} }}\n  }}")
                match = "meta nfproto ipv4" if l3 == "ip" else "meta nfproto ipv6"
                for ifname in (rule.inside, rule.outside):
                    raw.append(f'    iifname "{ifname}" {match} meta l4proto udp '
                               f'ct timeout set "{obj}"')
        if rule.type == "pat":
            post += _pat(rule)
        else:
            p, q = _static(rule)
            pre += p
            post += q
    lines = [f"table inet {names.NFT_TABLE} {{"]
    lines += objects
    if raw:
        lines += [f"  chain ct_timeouts {{\n    type filter hook prerouting priority {CT_PRIO}; "
                  "policy accept;", *raw, "  }"]
    lines += ["  chain prerouting {", "    type nat hook prerouting priority dstnat; "
              "policy accept;", *pre, "  }"]
    lines += ["  chain postrouting {", "    type nat hook postrouting priority srcnat; "
              "policy accept;", *post, "  }", "}"]
    return "\n".join(lines) + "\n"


def _pat(rule: NatRule) -> list[str]:
    ports = f":{rule.ports}" if rule.ports else ""
    flags = " fully-random" if rule.random else ""
    match = f'iifname "{rule.inside}" oifname "{rule.outside}"'
    if rule.address:
        fam = _fam(rule.address)
        nfproto = "ipv6" if fam == "ip6" else "ipv4"
        l4 = " meta l4proto { tcp, udp }" if ports else ""
        out = [f"    {match} meta nfproto {nfproto}{l4} snat {fam} to "
               f"{_bracket(rule.address, ports)}{flags}"]
        if ports:
            out.append(f"    {match} meta nfproto {nfproto} snat {fam} to {rule.address}")
        return out
    if ports:
        return [f"    {match} meta l4proto {{ tcp, udp }} masquerade to {ports}{flags}",
                f"    {match} masquerade{flags}"]
    return [f"    {match} masquerade{flags}"]


def _bracket(addr: str, ports: str) -> str:
    return f"[{addr}]{ports}" if ":" in addr and ports else f"{addr}{ports}"


def _static(rule: NatRule) -> tuple[list[str], list[str]]:
    assert rule.internal and rule.external
    inner, outer = _net(rule.internal), _net(rule.external)
    fam = "ip6" if inner.version == 6 else "ip"
    if inner.network.prefixlen == inner.max_prefixlen:
        pre = [f'    iifname "{rule.outside}" {fam} daddr {outer.ip} dnat {fam} to {inner.ip}']
        post = [f'    oifname "{rule.outside}" {fam} saddr {inner.ip} snat {fam} to {outer.ip}']
    else:
        i_net, o_net = inner.network, outer.network
        pre = [f'    iifname "{rule.outside}" {fam} daddr {o_net} '
               f"dnat {fam} prefix to {fam} daddr map {{ {o_net} : {i_net} }}"]
        post = [f'    oifname "{rule.outside}" {fam} saddr {i_net} '
                f"snat {fam} prefix to {fam} saddr map {{ {i_net} : {o_net} }}"]
    return pre, post


def load(netns: str, ruleset: str, node: str = "") -> None:
    """Load ``ruleset`` with ``nft -f -`` inside ``netns``."""
    try:
        nsexec.run_in(netns, ["nft", "-f", "-"], input=ruleset, node=node, timeout=10.0)
    except LabError as exc:
        raise LabError(f"node {node}: nft rejected the NAT ruleset: {exc}\n{ruleset}") from None


def conntrack_sysctls(node: Node) -> dict[str, str]:
    """Per-namespace conntrack UDP timeouts from the node's NAT rules.

    The nft ``ct timeout`` objects of :func:`render` load but leave new flows at the
    kernel defaults on this kernel (6.18, verified with a hand-written ruleset), so the
    namespace's own defaults carry the values: ``udp_timeout`` -> unreplied flows,
    ``udp_stream_timeout`` -> replied flows (the first rule that sets each wins; one NAT
    box is one namespace). Explicit node ``sysctls`` win; the realizer writes these
    after loading the ruleset (which loads nf_conntrack and creates the sysctls).
    """
    out: dict[str, str] = {}
    for rule in node.nat:
        if rule.udp_timeout and "net.netfilter.nf_conntrack_udp_timeout" not in out:
            out["net.netfilter.nf_conntrack_udp_timeout"] = str(rule.udp_timeout)
        if rule.udp_stream_timeout and "net.netfilter.nf_conntrack_udp_timeout_stream" not in out:
            out["net.netfilter.nf_conntrack_udp_timeout_stream"] = str(rule.udp_stream_timeout)
    return out


def apply(netns: str, node: Node, topo: Topology) -> None:
    """Render and load ``node``'s NAT rules."""
    load(netns, render(node, topo), node.name)
