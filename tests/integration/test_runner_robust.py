"""The engine never dies of input: garbage ESP, AH, IKE and ESP-in-UDP at r1.

A burst of malformed, truncated and random packets (bounded: a few hundred)
is sent from the ISP router to r1's outside address while a tunnel is up;
afterwards r1 still answers its control socket, the tunnel still carries
traffic, and the drops are counted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.integration.confgen import Tunnel, write_pair

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

FUZZER = r'''
import os, random, socket, struct, sys
random.seed(int(sys.argv[2]))
dst = sys.argv[1]
raw = {p: socket.socket(socket.AF_INET, socket.SOCK_RAW, p) for p in (50, 51)}
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
spis = [int(x, 16) for x in sys.argv[3:]]
for i in range(300):
    n = random.choice([0, 1, 3, 4, 7, 8, 12, 16, 28, 64, 200, 1400])
    body = os.urandom(n)
    if spis and i % 3 == 0 and n >= 8:   # known SPI, garbage after it
        body = struct.pack("!II", random.choice(spis), random.randrange(1 << 32)) + body[8:]
    kind = i % 5
    if kind < 2:
        raw[50 + kind].sendto(body, (dst, 0))
    elif kind == 2:
        udp.sendto(body, (dst, 500))
    elif kind == 3:
        udp.sendto(b"\0\0\0\0" + body, (dst, 4500))
    else:
        udp.sendto(body or b"\xff", (dst, 4500))
'''


def test_garbage_does_not_kill_engine(lab_factory, tmp_path: Path) -> None:
    lab = lab_factory(str(write_pair(tmp_path / "cfg", Tunnel())))
    h1, r1 = lab.node("h1"), lab.node("r1")
    assert h1.ping(lab.addr("h2"), count=2, interval=0.1, wait=2).received == 2
    flows = r1.cli("show crypto ipsec sa", json=True)
    spis = [f"{sa['spi']:x}" for f in flows for sa in f["inbound_esp"]]
    script = tmp_path / "fuzz.py"
    script.write_text(FUZZER)
    for seed in (1, 2):
        lab.node("isp").exec([sys.executable, str(script), "10.0.1.1", str(seed), *spis],
                             timeout=30)
    assert r1.daemon_pid is not None, "engine process died"
    res = h1.ping(lab.addr("h2"), count=3, interval=0.1, wait=2)
    assert res.received == 3, res
    st = r1.cli("lab counters", json=True)
    dropped = sum(v for k, v in st["engine"].items()
                  if k.startswith(("in_", "ike_")) and k not in ("ike_tx", "ike_rx"))
    recv_errors = sum(s["recv_errors"] for s in st["sas"])
    assert dropped + recv_errors > 0, st
    assert "loop_errors" not in st["engine"], st
