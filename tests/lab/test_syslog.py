"""Syslog collector inside a node."""

from __future__ import annotations

import pytest

from lab.errors import LabTimeout
from lab.syslog import parse

SEND = ("import socket,sys; s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else "
        "socket.AF_INET, socket.SOCK_DGRAM); s.sendto(sys.argv[2].encode(), (sys.argv[1], 514))")


def test_parse_is_lenient() -> None:
    m = parse(b"<189>42: *Mar  1 00:01:02: %CRYPTO-5-SESS_UP: x\n", ("10.0.0.1", 514))
    assert (m.facility, m.severity) == (23, 5) and m.text.startswith("42: *Mar")
    m = parse(b"\xffno pri", ("10.0.0.1", 514))
    assert m.facility is None and m.text.endswith("no pri")


@pytest.mark.topology("topologies/chain.yaml")
def test_collector_receives_v4_and_v6(lab) -> None:
    with lab.syslog("h2") as log:
        lab.h1.exec(["python3", "-c", SEND, lab.addr("h2"), "<187>%LINK-3-UPDOWN: test one"])
        hit = log.wait_for(r"%LINK-3-UPDOWN: (\w+ \w+)", timeout=3)
        assert hit[1] == "test one"
        lab.r1.exec(["python3", "-c", SEND, lab.addr("h2", 6), "<30>second"])
        log.wait_for("second", timeout=3)
        assert log.messages[0].src[0] == lab.addr("h1")
        assert log.messages[1].src[0] == "fd00:a1::1"      # r1: source of its egress link
        with pytest.raises(LabTimeout, match="never"):
            log.wait_for("never", timeout=0.2)
