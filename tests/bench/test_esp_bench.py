"""Data-plane speed: protect + unprotect of 1400-byte packets (pytest-benchmark).

Run: ``PYTHONPATH=. .venv/bin/python -m pytest tests/bench/test_esp_bench.py -s``.
Prints packets/s and Mbit/s of inner traffic for one core doing both directions,
the crypto share of what an engine<->engine tunnel costs per packet.
"""

from __future__ import annotations

import os
import time

import pytest

from engine.crypto.algorithms import CIPHERS, INTEGRITY
from engine.esp import InboundSa, OutboundSa, SaParams

BATCH = 1000
SIZE = 1400


def _inner() -> bytes:
    payload = os.urandom(SIZE - 28)
    total = SIZE.to_bytes(2, "big")
    hdr = (
        b"\x45\x00"
        + total
        + b"\x00\x01\x40\x00\x40\x11\x00\x00"
        + bytes([10, 1, 0, 1, 10, 2, 0, 1])
    )
    return hdr + b"\x04\x00\x04\x00" + (SIZE - 20).to_bytes(2, "big") + b"\x00\x00" + payload


@pytest.mark.parametrize(
    "encr,integ,udp",
    [
        ("aes128", "hmac-sha1-96", False),
        ("aes128", "hmac-sha1-96", True),
        ("aes128gcm16", "null", False),
        ("aes256gcm16", "null", True),
    ],
)
def test_protect_unprotect_throughput(benchmark, encr: str, integ: str, udp: bool) -> None:
    params = SaParams(
        spi=0x1001,
        encr=encr,
        encr_key=os.urandom(CIPHERS[encr].key_len),
        integ=integ,
        integ_key=os.urandom(INTEGRITY[integ].key_len),
        local="192.0.2.1",
        remote="192.0.2.2",
        udp_encap=(4500, 4500) if udp else None,
        replay_window=1024,
    )
    out, inb = OutboundSa(params), InboundSa(params)
    packets = [_inner() for _ in range(BATCH)]

    times: list[float] = []

    def roundtrip() -> None:
        t0 = time.perf_counter()
        wires = out.protect_many(packets)
        back = inb.unprotect_many(wires)
        times.append(time.perf_counter() - t0)
        assert back[-1] == packets[-1]

    # pytest-benchmark disables itself under xdist and then runs the function once;
    # our own timing works either way.
    benchmark.pedantic(roundtrip, rounds=5, iterations=1, warmup_rounds=1)
    per_round = min(times)
    pps = BATCH / per_round
    mbit = pps * SIZE * 8 / 1e6
    print(
        f"\n{encr}+{integ}{' udp' if udp else ''}: protect+unprotect {pps:,.0f} packets/s,"
        f" {mbit:,.0f} Mbit/s of {SIZE}-byte packets (one core, both directions)"
    )
    assert inb.counters.recv_errors == 0
