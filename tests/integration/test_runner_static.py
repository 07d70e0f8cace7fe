"""Engine data plane between two engines with manually keyed SAs (no IKE).

h1 -- r1 (engine) -- isp -- r2 (engine) -- h2: pings cross the tunnel as ESP
(or AH+ESP) on the outside links, clear only on the inside links; counters
equal the packets sent; SPIs on the wire are the ones ``show crypto ipsec sa``
reports.
"""

from __future__ import annotations

import time

import pytest

from tests.integration.helpers import sa_add, static_pair, topo

pytestmark = pytest.mark.skipif(__import__("os").geteuid() != 0, reason="needs root")


def _install(lab, *, ah: bool = False, mode: str = "tunnel", encr: str = "aes128") -> None:
    a = static_pair(0x1001, 0x2001, "10.0.1.1", "10.0.2.1", "192.168.1.0/24",
                    "192.168.2.0/24", ah=ah, mode=mode, encr=encr)
    b = static_pair(0x2001, 0x1001, "10.0.2.1", "10.0.1.1", "192.168.2.0/24",
                    "192.168.1.0/24", ah=ah, mode=mode, encr=encr)
    sa_add(lab, "r1", a)
    sa_add(lab, "r2", b)


@pytest.mark.parametrize("ah", [False, True], ids=["esp", "ah+esp"])
def test_static_tunnel_ping_and_capture(lab_factory, ah: bool) -> None:
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.ipsec import AH, ESP

    lab = lab_factory(topo("ee-chain.yaml"))
    _install(lab, ah=ah)
    with lab.capture("isp:eth0") as outside, lab.capture("h2:eth0") as inside:
        res = lab.node("h1").ping(lab.addr("h2"), count=5, interval=0.05)
        time.sleep(0.3)
    assert res.received == 5, res
    outer = [p for p in outside.packets if IP in p and p[IP].src in ("10.0.1.1", "10.0.2.1")]
    want = AH if ah else ESP
    prot = [p for p in outer if want in p]
    assert len(prot) == 10, [p.summary() for p in outside.packets]
    assert not [p for p in outside.packets if ICMP in p and p[IP].dst == "192.168.2.10"], \
        "clear ICMP leaked onto the outside link"
    spis_r1_out = {p[want].spi for p in prot if p[IP].src == "10.0.1.1"}
    assert spis_r1_out == ({0x2002} if ah else {0x2001})
    assert len([p for p in inside.packets if ICMP in p]) == 10
    data = lab.node("r1").cli("show crypto ipsec sa", json=True)
    assert data[0]["current_outbound_spi"] == 0x2001
    assert data[0]["counters"]["encaps"] == 5 and data[0]["counters"]["decaps"] == 5
    text = lab.node("r1").cli("show crypto ipsec sa")
    assert "#pkts encaps: 5" in text and "0x2001" in text.replace("0X", "0x")


def test_no_sa_never_clear(lab_factory) -> None:
    """Phase 1 fails (PSK mismatch): the protected flow is dropped, never sent in clear."""
    from scapy.layers.inet import ICMP

    lab = lab_factory(topo("ee-badkey.yaml"))
    with lab.capture("isp:eth0") as outside:
        res = lab.node("h1").ping(lab.addr("h2"), count=3, interval=0.05, wait=0.3)
    assert res.received == 0
    assert not [p for p in outside.packets if ICMP in p]
    st = lab.node("r1").cli("lab counters", json=True)["engine"]
    assert st.get("acquires", 0) >= 1
