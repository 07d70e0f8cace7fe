"""Bad DPD / preferred-peer / idle-timer input is rejected the IOS way, state unchanged
(seed 003 L88-97, seed 000 L2087-2144 and L3730-3798, seed 004 L32-33, L38)."""

from __future__ import annotations

import copy

import pytest

from engine.config.ios import ModeState, apply_line, format_error, parse_ios

BASE = """crypto isakmp keepalive 10 periodic
crypto ipsec security-association idle-time 600
crypto ipsec transform-set txfm esp-aes esp-sha-hmac
crypto map tohub 1 ipsec-isakmp
 set peer 10.1.1.1 default
 set peer 10.2.2.2
 set security-association idletime 120 default
 set transform-set txfm
 match address 101
"""


def configured():
    cfg = parse_ios(BASE)
    assert not cfg.errors, cfg.errors
    return cfg


def apply(cfg, *lines: str):
    """Apply ``lines`` in one configure session; return the last line's error (or None)."""
    state = ModeState(file="<test>")
    err = None
    for line in lines:
        err = apply_line(cfg, line, state)
    return err


def test_documents_examples_accepted():
    cfg = configured()
    ka = cfg.globals.keepalive
    assert (ka.seconds, ka.retry, ka.mode) == (10, 2, "periodic")
    e = cfg.crypto_maps["tohub"].entries[1]
    assert [(str(p), p.default) for p in e.peers] == [("10.1.1.1", True), ("10.2.2.2", False)]
    assert (e.idletime, e.idletime_default) == (120, True)
    assert apply(cfg, "crypto isakmp keepalive 30 20 periodic") is None  # seed 003 L216
    ka = cfg.globals.keepalive
    assert (ka.seconds, ka.retry, ka.mode) == (30, 20, "periodic")
    assert apply(cfg, "crypto isakmp keepalive 10") is None  # on-demand, retry 2 (L97)
    ka = cfg.globals.keepalive
    assert (ka.seconds, ka.retry, ka.mode) == (10, 2, "on-demand")


@pytest.mark.parametrize(
    "line",
    [
        "crypto isakmp keepalive 9 periodic",  # seconds 10-3600
        "crypto isakmp keepalive 3601",
        "crypto isakmp keepalive 10 1 periodic",  # retry 2-60
        "crypto isakmp keepalive 10 61",
        "crypto isakmp keepalive",  # seconds mandatory (L97: an error message is displayed)
        "crypto isakmp keepalive 10 periodic on-demand",
        "crypto ipsec security-association idle-time 59",  # 60-86400 (seed 000 L3730-3733)
        "crypto ipsec security-association idle-time 86401",
    ],
)
def test_out_of_range_globals_rejected_state_unchanged(line: str):
    cfg = configured()
    before = copy.deepcopy(cfg.globals)
    err = apply(cfg, line)
    assert err is not None, line
    text = format_error(err)
    assert text.startswith("%") or "% " in text, text
    assert cfg.globals == before


@pytest.mark.parametrize(
    "line",
    [
        "set security-association idletime 59 default",  # seed 000 L3795-3798
        "set security-association idle-time 86401",
        "set peer 10.3.3.3 default",  # a second default peer (seed 004 L32)
    ],
)
def test_bad_map_lines_rejected_entry_unchanged(line: str):
    cfg = configured()
    before = copy.deepcopy(cfg.crypto_maps["tohub"].entries[1])
    err = apply(cfg, "crypto map tohub 1 ipsec-isakmp", line)
    assert err is not None, line
    assert "%" in format_error(err)
    assert cfg.crypto_maps["tohub"].entries[1] == before


def test_default_peer_must_be_first():
    """Seed 004 L33: the default peer must be the first peer in the list."""
    cfg = parse_ios("crypto map tohub 1 ipsec-isakmp\n set peer 10.2.2.2\n")
    before = copy.deepcopy(cfg.crypto_maps["tohub"].entries[1])
    err = apply(cfg, "crypto map tohub 1 ipsec-isakmp", "set peer 10.1.1.1 default")
    assert err is not None
    assert "%" in format_error(err)
    assert cfg.crypto_maps["tohub"].entries[1] == before


def test_idletime_equal_to_global_is_not_added():
    """Seed 004 L38: a map idle timer equal to the global one is not added to the map."""
    cfg = parse_ios(
        "crypto ipsec security-association idle-time 120\n"
        "crypto map tohub 1 ipsec-isakmp\n set peer 10.1.1.1 default\n"
        " set security-association idletime 120 default\n"
    )
    assert cfg.crypto_maps["tohub"].entries[1].idletime is None
