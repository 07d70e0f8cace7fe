"""NAT keepalive timer (engine/dataplane/natkeepalive.py): RFC 3948 §2.3, seed 000 L2913-3043."""

from __future__ import annotations

import random

import pytest

from engine.dataplane.natkeepalive import KEEPALIVE, NatKeepalive, is_keepalive

LOCAL = ("192.168.1.2", 4500)
PEER = ("198.51.100.2", 4500)


def run(
    ka: NatKeepalive, until: float, step: float = 0.1, traffic: tuple[float, ...] = ()
) -> list[tuple[float, object]]:
    """Advance a protocol clock; return (time, datagram) of every keepalive sent."""
    sent = []
    t = 0.0
    pending = sorted(traffic)
    while t <= until + 1e-9:
        while pending and pending[0] <= t:
            ka.activity(LOCAL, PEER, pending.pop(0))
        timer = ka.get_timer()
        if timer is not None and timer <= t:
            ka.handle_timer(t)
        sent += [(round(t, 3), d) for d in ka.datagrams_to_send(t)]
        t = round(t + step, 6)
    return sent


def test_keepalive_after_silence_exact_spacing() -> None:
    ka = NatKeepalive(10, jitter=0)
    ka.track(LOCAL, PEER, 0.0)
    sent = run(ka, 35)
    assert [t for t, _ in sent] == [10.0, 20.0, 30.0]
    d = sent[0][1]
    assert (d.data, d.src, d.dst) == (b"\xff", LOCAL, PEER)  # 1 byte 0xFF, 4500 -> 4500
    assert ka.sent_total == 3 and ka.peerings()[0]["times"] == [10.0, 20.0, 30.0]


def test_traffic_suppresses_keepalives() -> None:
    """Sent only if nothing was sent or received for the interval (L2916-2919)."""
    ka = NatKeepalive(10, jitter=0)
    ka.track(LOCAL, PEER, 0.0)
    sent = run(ka, 40, traffic=tuple(float(t) for t in range(0, 25, 3)))  # busy until 24
    assert [t for t, _ in sent] == [34.0]


def test_jitter_is_at_most_five_percent_and_never_late() -> None:
    ka = NatKeepalive(20, rng=random.Random(7))
    ka.track(LOCAL, PEER, 0.0)
    times = [t for t, _ in run(ka, 400, step=0.05)]
    gaps = [b - a for a, b in zip([0.0] + times, times)]
    assert len(gaps) >= 19
    assert all(19.0 - 0.05 <= g <= 20.0 + 0.05 for g in gaps), gaps
    assert len({round(g, 2) for g in gaps}) > 3  # really jittered


def test_off_and_interval_change() -> None:
    ka = NatKeepalive(None)
    ka.track(LOCAL, PEER, 0.0)
    assert ka.get_timer() is None
    ka.handle_timer(100.0)
    assert ka.datagrams_to_send(100.0) == []
    ka.set_interval(10, now=100.0)  # switching on arms idle peerings right away
    assert ka.get_timer() == pytest.approx(100.0, abs=0.6)
    ka = NatKeepalive(10, jitter=0)
    ka.track(LOCAL, PEER, 0.0)
    ka.set_interval(30, now=5.0)  # pending deadline kept (L3027-3032) ...
    assert ka.get_timer() == 10.0
    ka.handle_timer(10.0)
    assert ka.get_timer() == 40.0  # ... the next one uses the new value
    ka.set_interval(None, now=11.0)
    assert ka.get_timer() is None


def test_untrack_move_and_multiple_peers() -> None:
    ka = NatKeepalive(10, jitter=0)
    other = ("203.0.113.9", 4500)
    ka.track(LOCAL, PEER, 0.0)
    ka.track(LOCAL, other, 5.0)
    ka.track(LOCAL, other, 6.0)  # idempotent: keeps the first deadline
    assert ka.get_timer() == 10.0
    ka.handle_timer(15.0)
    assert sorted(d.dst for d in ka.datagrams_to_send(15.0)) == [PEER, other]
    assert ka.move(LOCAL, PEER, ("198.51.100.2", 31000))
    assert not ka.move(LOCAL, PEER, ("198.51.100.2", 31001))
    ka.handle_timer(25.0)
    assert {d.dst for d in ka.datagrams_to_send(25.0)} == {("198.51.100.2", 31000), other}
    assert ka.untrack(LOCAL, other) and not ka.untrack(LOCAL, other)
    ka.activity(LOCAL, other, 30.0)  # unknown peering: ignored
    assert [p["peer"] for p in ka.peerings()] == [["198.51.100.2", 31000]]


def test_stale_activity_does_not_move_timer_back() -> None:
    ka = NatKeepalive(10, jitter=0)
    ka.track(LOCAL, PEER, 0.0)
    ka.activity(LOCAL, PEER, 8.0)
    ka.activity(LOCAL, PEER, 3.0)
    assert ka.get_timer() == 18.0


@pytest.mark.parametrize("interval,jitter", [(0, 0.05), (-5, 0.05), (10, 1.0), (10, -0.1)])
def test_bad_arguments(interval: float, jitter: float) -> None:
    with pytest.raises(ValueError):
        NatKeepalive(interval, jitter=jitter)


def test_is_keepalive() -> None:
    assert is_keepalive(KEEPALIVE)
    assert not is_keepalive(b"\xff\xff") and not is_keepalive(b"") and not is_keepalive(b"\x00")
