"""Engine (IOS crypto map) against the strongSwan reference peer, both directions.

Topologies ``interop-engine-sw*.yaml`` (``-nat``: s2 behind a PAT box)::

    h1 --- r1 (engine, IOS) ===[IKEv1 MM PSK, ESP in UDP 4500]=== s2 (strongSwan) --- h2

r1's config is in the documents' style (``crypto isakmp policy 10`` / ``encr
aes`` / ``hash sha`` / ``group 14``, ``crypto isakmp key``, ``crypto ipsec
transform-set ... esp-aes esp-sha-hmac``, ``crypto map`` with ACL 110).
strongSwan's libipsec always UDP-encapsulates ESP and fakes a NAT, so the
engine must negotiate NAT-T (RFC 3947) and send ESP in UDP (RFC 3948).
"""

from __future__ import annotations

import time

import pytest
from scapy.layers.inet import ICMP, IP, UDP

import lab.strongswan as sw
from tests.interop.espcheck import decrypt_esp, wait_esp

PINGS = 3


def _ping_until_up(lab, src: str, dst: str, within: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    """Send single pings until one passes (the first ones trigger/await IKE)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if lab.node(src).ping(lab.addr(dst), count=1, wait=1.0).received:
            return
    raise AssertionError(f"no ping {src} -> {dst} passed within {within:g} s")


def _check_tunnel(lab) -> None:  # type: ignore[no-untyped-def]
    """Pings pass as ESP-in-UDP, both sides agree on SPIs and keys."""
    s2, r1 = lab.node("s2"), lab.node("r1")
    child = sw.wait_child_sa(s2, "net", timeout=5)
    assert child["encap"] is True and child["mode"] == "TUNNEL"
    assert (child["local-ts"], child["remote-ts"]) == (["192.168.2.0/24"], ["192.168.1.0/24"])

    with lab.capture("s2:eth0") as cap:
        result = lab.node("h1").ping(lab.addr("h2"), count=PINGS)
        esp = wait_esp(cap, 2 * PINGS)
    assert result.received == PINGS, result
    assert len(esp) >= 2 * PINGS
    assert not [p for p in cap.packets if IP in p and p[IP].proto == 50], "raw ESP"
    assert not [p for p in cap.packets if ICMP in p], "cleartext ICMP outside"

    sw_keys = {k["spi"]: k for k in sw.export_keys(s2)}
    engine_keys = {k["spi"]: k for k in r1.cli("lab keys", json=True)}
    for spi, k in sw_keys.items():
        e = engine_keys[spi]
        assert {k["direction"], e["direction"]} == {"in", "out"}
        assert (e["encr"], e["encr_key"], e["integ"], e["integ_key"]) == (
            k["encr"], k["encr_key"], k["integ"], k["integ_key"])
    for p in esp:
        payload = bytes(p[UDP].payload)
        d = decrypt_esp(payload, sw_keys[int.from_bytes(payload[:4], "big")])
        assert ICMP in IP(d.inner)

    after = sw.wait_child_sa(s2, "net")
    assert after["packets-in"] >= PINGS and after["packets-out"] >= PINGS
    assert "10.0.0.2" in r1.cli("show crypto isakmp sa")


@pytest.mark.topology("topologies/interop-engine-sw.yaml")
def test_engine_initiates_on_traffic(lab) -> None:  # type: ignore[no-untyped-def]
    """Traffic h1 -> h2 hits r1's crypto map; r1 is the IKE initiator."""
    _ping_until_up(lab, "h1", "h2")
    ike = sw.list_sas(lab.node("s2"))["engine"]
    assert ike["initiator"] is False and ike["version"] == 1
    _check_tunnel(lab)


@pytest.mark.topology("topologies/interop-engine-sw.yaml")
def test_strongswan_initiates(lab) -> None:  # type: ignore[no-untyped-def]
    """swanctl --initiate on s2; r1 responds (Main Mode + Quick Mode)."""
    sw.initiate(lab.node("s2"), "net", timeout=10)
    assert sw.list_sas(lab.node("s2"))["engine"]["initiator"] is True
    _check_tunnel(lab)


@pytest.mark.topology("topologies/interop-engine-sw-start.yaml")
def test_strongswan_start_action(lab) -> None:  # type: ignore[no-untyped-def]
    """``start_action = start``: s2 initiates as soon as its config is loaded."""
    sw.wait_child_sa(lab.node("s2"), "net", timeout=15)
    _check_tunnel(lab)


@pytest.mark.topology("topologies/interop-engine-sw-aggr.yaml")
def test_strongswan_initiates_aggressive_mode(lab) -> None:  # type: ignore[no-untyped-def]
    """s2 initiates Aggressive Mode; r1 answers it with its `crypto isakmp key`."""
    log = sw.initiate(lab.node("s2"), "net", timeout=10)
    assert any("generating AGGRESSIVE request" in line for line in log), log
    _check_tunnel(lab)


@pytest.mark.topology("topologies/interop-engine-sw-nat.yaml")
def test_strongswan_behind_pat(lab) -> None:  # type: ignore[no-untyped-def]
    """Real NAT-T: s2 behind PAT initiates; r1 talks to the PAT's public address."""
    s2, r1 = lab.node("s2"), lab.node("r1")
    sw.initiate(s2, "net", timeout=10)
    ike = sw.list_sas(s2)["engine"]
    assert ike["nat-local"] is True and (ike["local-port"], ike["remote-port"]) == (4500, 4500)
    with lab.capture("r1:eth0") as cap:
        assert lab.node("h2").ping(lab.addr("h1"), count=PINGS).received == PINGS
        esp = wait_esp(cap, 2 * PINGS)
    assert {p[IP].src for p in esp} == {"203.0.113.254", "203.0.113.1"}   # PAT public side
    keys = {k["spi"]: k for k in sw.export_keys(s2)}
    for p in esp:
        payload = bytes(p[UDP].payload)
        assert ICMP in IP(decrypt_esp(payload, keys[int.from_bytes(payload[:4], "big")]).inner)
    assert "203.0.113.254" in r1.cli("show crypto isakmp sa")
