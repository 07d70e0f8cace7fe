"""IOS NAT-T commands (seed 000 L2925-3045): ranges as the device checks them, runtime changes."""

from __future__ import annotations

import pytest

from engine.config.grammar import INCOMPLETE, INVALID
from engine.config.ios import ModeState, apply_line, format_error, parse_ios


def parse(text: str):
    return parse_ios(text, "natt.cfg", repair=False)


@pytest.mark.parametrize("value", [5, 6, 20, 3599, 3600])
def test_nat_keepalive_in_range(value: int) -> None:
    cfg = parse(f"crypto isakmp nat keepalive {value}\n")
    assert cfg.errors == [] and cfg.globals.nat_keepalive == value


@pytest.mark.parametrize(
    "arg,message,column",
    [
        ("0", INVALID, 28),
        ("4", INVALID, 28),
        ("3601", INVALID, 28),
        ("99999999999", INVALID, 28),
        ("-5", INVALID, 28),
        ("ten", INVALID, 28),
        ("10 20", INVALID, 31),
        ("", INCOMPLETE, None),
    ],
)
def test_nat_keepalive_out_of_range_rejected(arg: str, message: str, column: int | None) -> None:
    line = f"crypto isakmp nat keepalive {arg}".rstrip()
    cfg = parse(f"crypto isakmp nat keepalive 20\n{line}\n")
    assert [(e.message, e.column, e.line) for e in cfg.errors] == [(message, column, 2)]
    assert cfg.globals.nat_keepalive == 20  # the rejected line changed nothing


def test_defaults_and_no_forms() -> None:
    cfg = parse("")
    assert cfg.globals.nat_keepalive is None  # off unless configured
    assert cfg.globals.nat_transparency is True  # NAT-T on by default (L2925-2928)
    cfg = parse(
        "no crypto ipsec nat-transparency udp-encapsulation\n"
        "crypto isakmp nat keepalive 10\nno crypto isakmp nat keepalive\n"
    )
    assert cfg.errors == []
    assert cfg.globals.nat_transparency is False and cfg.globals.nat_keepalive is None
    cfg = parse(
        "no crypto ipsec nat-transparency udp-encapsulation\n"
        "crypto ipsec nat-transparency udp-encapsulation\n"
    )
    assert cfg.globals.nat_transparency is True


def test_runtime_keepalive_change_and_error_text() -> None:
    cfg = parse("crypto isakmp nat keepalive 20\n")
    state = ModeState(file="<cli>")
    assert apply_line(cfg, "crypto isakmp nat keepalive 10", state) is None
    assert cfg.globals.nat_keepalive == 10
    err = apply_line(cfg, "crypto isakmp nat keepalive 4", state)
    assert err is not None and cfg.globals.nat_keepalive == 10
    text = format_error(err)
    assert text.endswith("% Invalid input detected at '^' marker.")
    assert "\n" + " " * 28 + "^" in text
