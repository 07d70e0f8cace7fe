"""Known answers from the reference peer: ESP packets strongSwan 5.9.8 (libipsec) sent.

``tests/vectors/strongswan_esp.json`` holds ESP-in-UDP payloads captured between
two charons with the keys they logged (see tests/vectors/make_strongswan_esp.py).
Each packet must verify and decrypt with ``engine.esp`` to the ICMP echo that
was sent, and re-protecting that echo with the same sequence number and IV must
give strongSwan's bytes exactly (same padding, ICV, AEAD tag).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP

from engine.esp import InboundSa, OutboundSa, SaParams

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "strongswan_esp.json").read_text()
)
HOSTS = {"192.168.1.10", "192.168.2.10"}


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["esp_proposal"])
def test_strongswan_packets(case: dict) -> None:
    sas = {sa["spi"]: SaParams.from_export(sa) for sa in case["sas"]}
    assert len(case["packets"]) >= 6
    for pkt in case["packets"]:
        params = sas[pkt["spi"]]
        esp = bytes.fromhex(pkt["esp"])
        inner = InboundSa(params).unprotect(esp, src=pkt["src"], dst=pkt["dst"])
        ip = IP(inner)
        assert ICMP in ip and {ip.src, ip.dst} == HOSTS
        seq = int.from_bytes(esp[4:8], "big")
        iv_len = {"aes128gcm16": 8, "aes256gcm16": 8, "3des": 8}.get(params.encr, 16)
        iv = esp[8 : 8 + iv_len]
        out = OutboundSa(params, initial_seq=seq - 1, iv_source=lambda n, iv=iv: iv)
        wire = out.protect(inner)
        assert wire[20 + 8 :] == esp, f"re-encryption differs for seq {seq}"
