"""Peer lists of crypto map entries: stateless failover and the default peer
(engine/ike/peers.py; seed 003 L65/L101, seed 004 L30-33/L74/L90, seed 000 L2037-2042)."""

from __future__ import annotations

from engine.config.ios import parse_ios
from engine.ike.peers import PeerList, PeerTable

GREEN = """crypto map green 1 ipsec-isakmp
 set peer 10.0.0.1
 set peer 10.0.0.2
 set peer 10.0.0.3
 set transform-set txfm
 match address 101
"""  # seed 000 L2604-2616 verbatim
TOHUB = """crypto map tohub 1 ipsec-isakmp
 set peer 10.1.1.1 default
 set peer 10.2.2.2
 set security-association idletime 120 default
"""  # seed 004 L165-168 verbatim


def entry(text: str, name: str):
    cfg = parse_ios("crypto ipsec transform-set txfm esp-aes esp-sha-hmac\n" + text)
    assert not cfg.errors, cfg.errors
    return cfg.crypto_maps[name].entries[1]


def test_first_connection_goes_to_first_peer():
    t = PeerTable()
    assert t.choose("green", entry(GREEN, "green")) == "10.0.0.1"
    assert t.choose("tohub", entry(TOHUB, "tohub")) == "10.1.1.1"


def test_dpd_death_without_default_moves_to_next_then_third_then_cycles():
    t, e = PeerTable(), entry(GREEN, "green")
    assert t.choose("green", e) == "10.0.0.1"
    t.established("10.0.0.1")
    t.dpd_dead("10.0.0.1")
    assert t.choose("green", e) == "10.0.0.2"
    assert t.choose("green", e) == "10.0.0.2"  # repeated acquires while negotiating
    t.established("10.0.0.2")
    t.dpd_dead("10.0.0.2")
    assert t.choose("green", e) == "10.0.0.3"
    t.dpd_dead("10.0.0.3")
    assert t.choose("green", e) == "10.0.0.1"  # the list cycles (seed 000 L2149-2152)


def test_unanswered_attempt_moves_to_next_peer():
    t, e = PeerTable(), entry(GREEN, "green")
    assert t.choose("green", e) == "10.0.0.1"
    t.attempt_failed("10.0.0.1")
    assert t.choose("green", e) == "10.0.0.2"
    t.attempt_failed("10.0.0.9")  # not in the list: nothing changes
    assert t.choose("green", e) == "10.0.0.2"


def test_default_peer_dead_is_tried_again_then_backup_becomes_current():
    t, e = PeerTable(), entry(TOHUB, "tohub")
    assert t.choose("tohub", e) == "10.1.1.1"
    t.established("10.1.1.1")
    t.dpd_dead("10.1.1.1")
    assert t.choose("tohub", e) == "10.1.1.1"  # seed 004 L30: list reset to the default
    t.attempt_failed("10.1.1.1")  # L74: default does not respond -> next becomes current
    assert t.choose("tohub", e) == "10.2.2.2"
    t.established("10.2.2.2")
    assert t.current("tohub", 1) == "10.2.2.2"
    assert t.choose("tohub", e) == "10.2.2.2"  # no pre-emption


def test_backup_dead_goes_straight_to_default_not_next():
    three = TOHUB.replace(" set peer 10.2.2.2\n", " set peer 10.2.2.2\n set peer 10.3.3.3\n")
    t, e = PeerTable(), entry(three, "tohub")
    t.choose("tohub", e)
    t.attempt_failed("10.1.1.1")
    assert t.choose("tohub", e) == "10.2.2.2"
    t.dpd_dead("10.2.2.2")
    assert t.choose("tohub", e) == "10.1.1.1"  # L74: directly to the default, not 10.3.3.3


def test_idle_expiry_with_default_returns_to_default_peer():
    t, e = PeerTable(), entry(TOHUB, "tohub")
    t.choose("tohub", e)
    t.attempt_failed("10.1.1.1")
    assert t.choose("tohub", e) == "10.2.2.2"
    t.idle_expired("10.2.2.2", "tohub", 1, default=True)
    assert t.choose("tohub", e) == "10.1.1.1"  # seed 004 L162


def test_idle_expiry_without_default_keeps_current_peer():
    t, e = PeerTable(), entry(GREEN, "green")
    t.choose("green", e)
    t.attempt_failed("10.0.0.1")
    assert t.choose("green", e) == "10.0.0.2"
    t.idle_expired("10.0.0.2", "green", 1, default=True)  # no default peer in the list
    assert t.choose("green", e) == "10.0.0.2"  # seed 004 L90


def test_dpd_death_of_a_peer_that_is_not_current_changes_nothing():
    pl = PeerList(("a", "b", "c"))
    pl.dpd_dead("b")
    assert pl.choose() == "a"


def test_changed_peer_list_starts_afresh():
    t, e = PeerTable(), entry(GREEN, "green")
    t.choose("green", e)
    t.attempt_failed("10.0.0.1")
    e.peers = e.peers[1:]
    assert t.choose("green", e) == "10.0.0.2"
    assert t.current_peers() == {"green/1": "10.0.0.2"}


def test_single_peer_stays():
    pl = PeerList(("a",))
    pl.attempt_failed("a")
    pl.dpd_dead("a")
    assert pl.choose() == "a"
    assert PeerList(()).choose() is None
