"""Delay, duplication, reordering (NFQUEUE) and packet injection on the real network."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP

from lab.errors import LabError


def echo_requests(cap) -> list[int]:
    return [p[ICMP].seq for p in cap.packets if ICMP in p and p[ICMP].type == 8]


@pytest.mark.topology("topologies/chain.yaml")
def test_delay_adds_to_rtt_and_clears(lab) -> None:
    h2 = lab.addr("h2")
    imp = lab.faults.impair("r1:eth0", direction="out", delay=0.1)
    r = lab.h1.ping(h2, count=3, interval=0.05)
    assert r.received == 3 and 100 <= r.rtt_avg_ms < 300 and imp.stats.seen >= 3
    lab.faults.clear_impair("r1:eth0")
    assert lab.h1.ping(h2, count=3, interval=0.05).rtt_avg_ms < 50
    rules = lab.isp.exec(["iptables-legacy", "-w", "-t", "raw", "-S", "PREROUTING"]).stdout
    assert "NFQUEUE" not in rules


@pytest.mark.topology("topologies/chain.yaml")
def test_duplicate_only_matching_packets(lab) -> None:
    imp = lab.faults.impair("r2:eth0", duplicate=100, match="icmp type echo-request")
    with lab.capture("h2:eth0") as cap:
        lab.h1.ping(lab.addr("h2"), count=4, interval=0.05)
        cap.wait_for(lambda p: len(echo_requests(cap)) >= 8, timeout=3)
    seqs = echo_requests(cap)
    assert sorted(seqs) == [1, 1, 2, 2, 3, 3, 4, 4]           # every request twice
    replies = [p for p in cap.packets if ICMP in p and p[ICMP].type == 0]
    assert len(replies) == 8 and imp.stats.duplicated == 4    # replies (not matched) once each


@pytest.mark.topology("topologies/chain.yaml")
def test_reorder_swaps_neighbours_but_delivers_all(lab) -> None:
    lab.faults.impair("r2:eth0", reorder=30, seed=7, match="icmp type echo-request")
    with lab.capture("h2:eth0") as cap:
        r = lab.h1.ping(lab.addr("h2"), count=20, interval=0.01)
    seqs = echo_requests(cap)
    assert r.received == 20 and sorted(seqs) == list(range(1, 21))
    assert seqs != sorted(seqs)


@pytest.mark.topology("topologies/chain.yaml")
def test_inject_replays_a_captured_packet(lab) -> None:
    with lab.capture("r2:eth0") as cap:
        lab.h1.ping(lab.addr("h2"), count=1)
    request = next(p for p in cap.packets if ICMP in p and p[ICMP].type == 8)
    with lab.capture("h2:eth0") as cap2:
        assert lab.inject("r2:eth0", request) == 1
        cap2.wait_for(lambda p: ICMP in p and p[ICMP].type == 0, timeout=3)
    assert echo_requests(cap2) == [request[ICMP].seq]


@pytest.mark.topology("topologies/nat-pat.yaml")
def test_impair_checks_arguments(lab) -> None:
    with pytest.raises(LabError, match="segment"):
        lab.faults.impair("h1:eth0", direction="out", delay=0.1)
    with pytest.raises(LabError, match="0..100"):
        lab.faults.impair("srv:eth0", duplicate=150)
    # "in" on a segment member works: copies come from the bridge port
    imp = lab.faults.impair("h1:eth0", duplicate=100, match="icmp type echo-reply")
    r = lab.h1.ping(lab.addr("srv"), count=2, interval=0.05)
    assert r.received == 2 and imp.stats.duplicated >= 1
