"""IOS access lists (numbered 1-199/1300-2699 and named, IPv4 and IPv6) → ``Ace``.

Grammar pieces and handlers used by ``ios_commands``; ACE semantics follow
IOS extended ACLs (protocol, address + wildcard / ``host`` / ``any``, port
operators only after ``tcp``/``udp``).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from engine.config.grammar import INVALID, TYPES
from engine.config.model import PORT_NAMES, PROTOCOL_NUMBERS, AccessList, Ace, PortMatch

if TYPE_CHECKING:
    from engine.config.ios import Ctx


def _reject(message: str, column: int | None = None):
    from engine.config.ios import Reject

    return Reject(message, column)


def _enter(c: Ctx, mode: str, target=None) -> None:
    c.state.mode, c.state.target = mode, target


# -- access lists --------------------------------------------------------------------------------


def _port(v: str) -> int:
    if v.isdigit() and int(v) <= 65535:
        return int(v)
    if v.lower() in PORT_NAMES:
        return PORT_NAMES[v.lower()]
    raise ValueError(v)


def _proto(v: str) -> int | None:
    lv = v.lower()
    if lv in ("ip", "ipv6"):
        return None
    if lv in PROTOCOL_NUMBERS:
        return PROTOCOL_NUMBERS[lv]
    if lv == "icmp" or lv == "ipv6-icmp":
        return 1
    if v.isdigit() and int(v) <= 255:
        return int(v)
    raise ValueError(v)


_ICMP_TYPES = {
    "echo": 8,
    "echo-reply": 0,
    "unreachable": 3,
    "time-exceeded": 11,
    "packet-too-big": 3,
    "redirect": 5,
    "parameter-problem": 12,
}


def _icmp_type(v: str) -> int:
    if v.isdigit() and int(v) <= 255:
        return int(v)
    if v.lower() in _ICMP_TYPES:
        return _ICMP_TYPES[v.lower()]
    raise ValueError(v)


TYPES.update({"PORT": _port, "PROTO": _proto, "ICMPTYPE": _icmp_type})


def _ports(prefix: str) -> str:
    p = prefix
    return (
        f"[{{eq <{p}_eq:PORT>|neq <{p}_neq:PORT>|lt <{p}_lt:PORT>|gt <{p}_gt:PORT>"
        f"|range <{p}_lo:PORT> <{p}_hi:PORT>}}]"
    )


_ACE_TAIL = "[established] [<icmptype:ICMPTYPE>] [{log|log-input}]"
ACE_EXT = (
    "{permit|deny} <proto:PROTO> {any|host <sh:IPV4>|<sa:IPV4> <sw:IPV4>} "
    + _ports("sp")
    + " {any|host <dh:IPV4>|<da:IPV4> <dw:IPV4>} "
    + _ports("dp")
    + " "
    + _ACE_TAIL
)
ACE_STD = "{permit|deny} {any|host <sh:IPV4>|<sa:IPV4> [<sw:IPV4>]} [log]"
ACE_V6 = (
    "{permit|deny} <proto:PROTO> {any|host <sh:IPV6>|<sp6:IPV6PFX>} "
    + _ports("sp")
    + " {any|host <dh:IPV6>|<dp6:IPV6PFX>} "
    + _ports("dp")
    + " "
    + _ACE_TAIL
    + " [sequence <seq:INT(1-4294967295)>]"
)


def _net(c: Ctx, host: str, addr: str, wild: str, v6: str | None = None):
    """(network, non-contiguous wildcard or None) of an ACL address part."""
    m = c.m
    if m.get(host) is not None:
        a = m.get(host)
        return ipaddress.ip_network(a), None
    if v6 and m.get(v6) is not None:
        return m.get(v6).network, None
    if m.get(addr) is not None:
        a, w = m.get(addr), m.get(wild)
        if w is None:  # standard ACL without wildcard = host
            return ipaddress.ip_network(a), None
        wi = int(w)
        if (wi & (wi + 1)) == 0:  # contiguous wildcard: a prefix
            return ipaddress.IPv4Network(
                f"{ipaddress.IPv4Address(int(a) & ~wi & 0xFFFFFFFF)}/{w}"
            ), None
        return ipaddress.IPv4Network("0.0.0.0/0"), (int(a), wi)
    return (ipaddress.IPv6Network("::/0") if v6 else ipaddress.IPv4Network("0.0.0.0/0")), None


def _port_match(c: Ctx, p: str) -> PortMatch | None:
    m = c.m
    for op in ("eq", "neq", "lt", "gt"):
        if m.get(f"{p}_{op}") is not None:
            return PortMatch(op, m.get(f"{p}_{op}"))
    if m.get(f"{p}_lo") is not None:
        return PortMatch("range", m.get(f"{p}_lo"), m.get(f"{p}_hi"))
    return None


def make_ace(c: Ctx, v6: bool = False, standard: bool = False) -> Ace:
    m = c.m
    action = "permit" if m.has("permit") else "deny"
    src, sw = _net(c, "sh", "sa", "sw", "sp6" if v6 else None)
    if standard:
        dst, dw, proto = ipaddress.IPv4Network("0.0.0.0/0"), None, None
    else:
        dst, dw = _net(c, "dh", "da", "dw", "dp6" if v6 else None)
        proto = m.get("proto")
    sport, dport = _port_match(c, "sp"), _port_match(c, "dp")
    if (sport or dport) and proto not in (6, 17):
        # Port operators exist only after tcp/udp.
        col = next(
            t.column for t in c.tokens if t.text.lower() in ("eq", "neq", "lt", "gt", "range")
        )
        raise _reject(INVALID, col)
    return Ace(
        action,
        proto,
        src,
        dst,
        sport,
        dport,
        sequence=m.get("seq"),
        text=c.line.strip(),
        log=m.has("log") or m.has("log-input"),
        src_wildcard=sw,
        dst_wildcard=dw,
    )


def numbered_acl(c: Ctx) -> None:
    num = str(c.m.get("num"))
    standard = c.m.get("num") < 100 or 1300 <= c.m.get("num") <= 1999
    ace = make_ace(c, standard=standard)
    c.cfg.access_lists.setdefault(num, AccessList(num)).entries.append(ace)


def acl_remark(c: Ctx) -> None:
    name = str(c.m.get("num")) if c.m.get("num") is not None else c.state.target.name
    c.cfg.access_lists.setdefault(name, AccessList(name)).remarks.append(c.m.get("text"))


def no_acl(c: Ctx) -> None:
    c.cfg.access_lists.pop(str(c.m.get("num") or c.m.get("name")), None)


def named_acl(v6: bool, mode: str):
    def handler(c: Ctx) -> None:
        name = c.m.get("name")
        acl = c.cfg.access_lists.setdefault(name, AccessList(name, ipv6=v6))
        _enter(c, mode, acl)

    return handler


def named_ace(v6: bool = False, standard: bool = False):
    def handler(c: Ctx) -> None:
        ace = make_ace(c, v6=v6, standard=standard)
        acl: AccessList = c.state.target
        if ace.sequence is None:
            acl.entries.append(ace)
        else:
            acl.entries = [a for a in acl.entries if a.sequence != ace.sequence] + [ace]
            acl.entries.sort(key=lambda a: a.sequence if a.sequence is not None else 0)

    return handler
