"""TUN device creation (``/dev/net/tun``, ``TUNSETIFF``) and set-up with pyroute2.

The engine runs inside its node's network namespace, so a plain
``IPRoute()`` talks to that namespace.
"""

from __future__ import annotations

import fcntl
import os
import struct

from pyroute2 import IPRoute

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFF_MULTI_QUEUE = 0x0100


def open_tun(name: str, multi_queue: bool = False) -> int:
    """Create (or attach to) TUN device ``name``; return a non-blocking fd.

    Packets read/written are bare IP packets (``IFF_NO_PI``).
    """
    if len(name.encode()) > 15:
        raise ValueError(f"TUN name {name!r} longer than 15 bytes")
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    flags = IFF_TUN | IFF_NO_PI | (IFF_MULTI_QUEUE if multi_queue else 0)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), flags))
    except OSError:
        os.close(fd)
        raise
    os.set_blocking(fd, False)
    return fd


def link_up(name: str, mtu: int | None = None, address: str | None = None) -> int:
    """Bring ``name`` up (optional MTU and address); return its ifindex."""
    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=name)
        if not idx:
            raise RuntimeError(f"interface {name} not found")
        kw: dict[str, object] = {"state": "up"}
        if mtu:
            kw["mtu"] = mtu
        ipr.link("set", index=idx[0], **kw)
        if address:
            addr, _, plen = address.partition("/")
            ipr.addr("add", index=idx[0], address=addr, prefixlen=int(plen or 32))
        return idx[0]


def set_sysctl(path: str, value: str) -> None:
    """Write ``/proc/sys/<path>`` (namespace-local net sysctls only)."""
    try:
        with open(f"/proc/sys/{path}", "w") as f:
            f.write(value)
    except OSError:
        pass  # not fatal (e.g. interface vanished)
