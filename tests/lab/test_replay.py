"""lab.replay: hold/reorder/duplicate stage and raw injection on a real chain of namespaces."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP

from lab import replay
from lab.errors import LabError, LabTimeout


def _echo_seqs(cap, src: str) -> list[int]:
    return [
        p[ICMP].seq
        for p in cap.packets
        if IP in p and ICMP in p and p[IP].src == src and p[ICMP].type == 8
    ]


@pytest.mark.topology("topologies/chain.yaml")
def test_hold_reorder_duplicate(lab) -> None:
    h1 = lab.addr("h1")
    with lab.capture("h2:eth0") as cap:
        with replay.Hold(
            lab, "isp:eth0", protos=("icmp",), src=h1, holdable=lambda d: True
        ) as hold:
            hold.hold_next(1)
            res = lab.h1.ping(lab.addr("h2"), count=3, interval=0.2, wait=1)
            held = hold.wait_held(1)
            assert res.received == 2 and hold.forwarded == 2
            assert ICMP in IP(held[0].data) and IP(held[0].data)[ICMP].seq == 1
            hold.release(keep=True)
            hold.release()  # second time: a duplicate
            assert hold.held == [] and hold.released == 2
            cap.wait_for(lambda p: _echo_seqs(cap, h1).count(1) >= 2, timeout=5)
    assert _echo_seqs(cap, h1) == [2, 3, 1, 1]


@pytest.mark.topology("topologies/chain.yaml")
def test_stage_removed_after_stop_and_unselected_traffic_untouched(lab) -> None:
    with replay.Hold(lab, "isp:eth0", protos=("esp",)) as hold:
        assert lab.h1.ping(lab.addr("h2"), count=2, interval=0.1).received == 2  # not ESP
        with pytest.raises(LabError, match="already has a hold stage"):
            replay.Hold(lab, "isp:eth1").start()
        with pytest.raises(LabTimeout, match="1 packets held on isp:eth0"):
            hold.wait_held(1, timeout=0.2)
    hold2 = replay.Hold(lab, "isp:eth0", protos=("icmp",))
    with hold2:
        hold2.hold_next(5)  # ICMP is not an IPsec packet: forwarded, never held
        assert lab.h1.ping(lab.addr("h2"), count=1, wait=1).received == 1 and not hold2.held
    hold3 = replay.Hold(lab, "isp:eth0", protos=("icmp",), holdable=lambda d: True)
    with hold3:
        hold3.hold_next(5)
        assert lab.h1.ping(lab.addr("h2"), count=1, wait=1).received == 0
    assert lab.h1.ping(lab.addr("h2"), count=2, interval=0.1).received == 2  # rule gone


@pytest.mark.topology("topologies/chain.yaml")
def test_inject_replays_a_captured_packet(lab) -> None:
    with lab.capture("h2:eth0") as cap:
        lab.h1.ping(lab.addr("h2"), count=1)
        cap.wait_for(lambda p: ICMP in p and p[ICMP].type == 8)
        first = [p for p in cap.packets if ICMP in p and p[ICMP].type == 8][0]
        assert replay.inject(lab, "isp", first) == 1  # from the ISP router, source untouched
        cap.wait_for(lambda p: len(_echo_seqs(cap, lab.addr("h1"))) >= 2, timeout=5)
    a, b = [p for p in cap.packets if ICMP in p and p[ICMP].type == 8][:2]
    assert bytes(a[IP].payload) == bytes(b[IP].payload) and a[IP].id == b[IP].id


def test_bad_arguments() -> None:
    with pytest.raises(LabError):
        replay._l3(b"\x60" + bytes(39))
    assert replay.ipsec_seq(
        bytes(
            IP(src="1.1.1.1", dst="2.2.2.2", proto=50)
            / bytes.fromhex("0000100100000007")
            / bytes(16)
        )
    ) == ("esp", 0x1001, 7)
    assert replay.ipsec_seq(bytes(IP(proto=6) / bytes(20))) is None


def test_udp_checksum_fixed_known_answer() -> None:
    from scapy.layers.inet import UDP

    good = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=4500, dport=4500) / b"abcde")
    partial = bytearray(good)
    partial[26:28] = b"\x12\x34"  # what a CHECKSUM_PARTIAL packet carries
    assert replay._fix_udp_checksum(bytes(partial)) == good
    zero = bytearray(good)
    zero[26:28] = b"\0\0"  # no checksum: left alone
    assert replay._fix_udp_checksum(bytes(zero)) == bytes(zero)
