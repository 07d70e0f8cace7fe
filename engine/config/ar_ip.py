"""AR570S IP commands the engine needs: interface addresses, routes, system name.

``ADD IP INT=vlan1 IP=192.168.10.1 MASK=255.255.255.0`` and ``ADD IP ROUTE=0.0.0.0
INT=ppp0 NEXT=0.0.0.0`` (seed 002 L1428-1436, L1485-1531); the order of ADD IP
INTERFACE is kept (it selects the source address of an unnumbered WAN, L1393-1401).
"""

from __future__ import annotations

import ipaddress

from engine.config.ar import Ctx, fail
from engine.config.model import Interface, Route


def _interface(c: Ctx, name: str) -> Interface:
    for key, intf in c.cfg.interfaces.items():
        if key.lower() == name.lower():
            return intf
    intf = c.cfg.interfaces[name] = Interface(name=name)
    return intf


def add_ip_interface(c: Ctx) -> None:
    """``ADD IP INT=vlan1 IP=192.168.10.1 MASK=255.255.255.0`` (L1428-1436)."""
    ip = c.params["IPADDRESS"]
    mask = c.params.get("MASK")
    intf = _interface(c, c.head)
    if ip == "0.0.0.0":
        return  # unnumbered / IPCP-assigned (L1485-1490)
    if mask is None:
        mask = str(
            ipaddress.IPv4Address(ip).packed[0] < 128
            and "255.0.0.0"
            or ipaddress.IPv4Address(ip).packed[0] < 192
            and "255.255.0.0"
            or "255.255.255.0"
        )  # classful default, fmt: skip
    iface = ipaddress.IPv4Interface(f"{ip}/{mask}")
    if iface in intf.addresses:
        raise fail("ip", 1, f"Interface {c.head} already has address {ip}.", c.head_column)
    intf.addresses.append(iface)


def delete_ip_interface(c: Ctx) -> None:
    intf = _interface(c, c.head)
    ip = c.params.get("IPADDRESS")
    intf.addresses = [a for a in intf.addresses if ip is not None and str(a.ip) != ip]


def add_ip_route(c: Ctx) -> None:
    """``ADD IP ROUTE=0.0.0.0 INT=ppp0 NEXT=0.0.0.0`` (L1487, L1531)."""
    dest = c.head
    mask = c.params.get("MASK") or ("0.0.0.0" if dest == "0.0.0.0" else "255.255.255.255")
    try:
        prefix = ipaddress.IPv4Network(f"{dest}/{mask}")
    except ValueError:
        raise fail("ip", 2, f"Route {dest} mask {mask} is not a network.", c.head_column) from None
    nh = c.params.get("NEXTHOP")
    c.cfg.routes.append(Route(
        prefix,
        ipaddress.IPv4Address(nh) if nh and nh != "0.0.0.0" else None,
        c.params.get("INTERFACE"),
        c.params.get("METRIC", 1),
    ))  # fmt: skip


def set_system_name(c: Ctx) -> None:
    c.cfg.globals.hostname = c.head
