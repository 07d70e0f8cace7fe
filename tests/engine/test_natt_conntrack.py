"""The PAT box's UDP mapping lifetime (NAT rule ``udp_timeout``) really applies.

The NAT keepalive scenarios depend on it (seed 000 L2920-2921: keepalive below the
mapping lifetime). Namespaces only, no daemons: a UDP datagram crosses the PAT box and
conntrack's remaining timeout is read back.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from lab import Lab
from scenarios.natt._topo import FAR_PUBLIC, Case, build

SEND = (
    "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
    f"s.bind(('', 4500)); s.sendto(b'x', ('{FAR_PUBLIC}', 4500))"
)


def test_pat_udp_timeout_applies(tmp_path: Path) -> None:
    case = Case(left="pat", udp_timeout=3)
    with Lab.up(build(case, tmp_path), daemons=False) as lab:
        lab.node("r1").exec([sys.executable, "-c", SEND])
        out = lab.node("nat1").exec(["conntrack", "-L", "-p", "udp"]).stdout
        left = [int(m) for m in re.findall(r"^udp\s+17\s+(\d+)\s", out, re.M)]
        assert left and all(n <= 3 for n in left), out
