"""strongSwan against strongSwan: proves the reference peer works for real.

Topologies ``interop-sw-sw.yaml`` (IKEv1 Main Mode, PSK) and
``interop-sw-sw-aggr.yaml`` (Aggressive Mode)::

    h1 --- s1 ===[ESP in UDP 4500]=== s2 --- h2

Checks: pings between the hosts pass; the outside link carries only
UDP-encapsulated ESP (libipsec forces RFC 3948 encapsulation; no raw ESP);
``list_sas`` shows the SA with encap and counters; the keys from
``export_keys`` decrypt the captured packets to the very ICMP echoes sent.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.inet6 import IPv6

import lab.strongswan as sw
from lab.daemons import wait_until
from tests.interop.espcheck import (
    decrypt_esp,
    decrypt_main_mode_id,
    isakmp_messages,
    wait_esp,
)

PINGS = 3


def _check_tunnel(lab, ike_name: str, exchange: str) -> None:  # type: ignore[no-untyped-def]
    s1, s2 = lab.node("s1"), lab.node("s2")
    log = sw.initiate(s1, "net", timeout=10)
    assert any("established with SPIs" in line for line in log), log
    sw.wait_child_sa(s2, "net", timeout=5)

    h2 = lab.addr("h2")
    with lab.capture("s2:eth0") as cap:
        result = lab.node("h1").ping(h2, count=PINGS)
        esp = wait_esp(cap, 2 * PINGS)
    assert result.received == PINGS, f"pings h1 -> h2 through the tunnel: {result}"

    # The outside link carries the echoes only as UDP-encapsulated ESP.
    assert len(esp) >= 2 * PINGS, f"ESP-in-UDP packets on s2:eth0: {len(esp)}"
    assert not [p for p in cap.packets if IP in p and p[IP].proto == 50], "raw ESP seen"
    assert not [p for p in cap.packets if ICMP in p], "cleartext ICMP on the outside link"

    # list_sas: one IKEv1 SA, one installed CHILD_SA, encap, counters.
    sas = sw.list_sas(s1)
    ike = sas[ike_name]
    assert (ike["version"], ike["state"]) == (1, "ESTABLISHED")
    assert (ike["local-port"], ike["remote-port"]) == (4500, 4500)
    (child,) = ike["child-sas"].values()
    assert child["state"] == "INSTALLED" and child["encap"] is True
    assert child["protocol"] == "ESP" and child["mode"] == "TUNNEL"
    assert child["packets-out"] >= PINGS and child["packets-in"] >= PINGS
    assert child["bytes-out"] >= PINGS * 84
    assert (child["local-ts"], child["remote-ts"]) == (["192.168.1.0/24"], ["192.168.2.0/24"])

    # Exported keys (both nodes agree) decrypt every captured packet.
    keys = {k["spi"]: k for k in sw.export_keys(s2)}
    keys1 = {k["spi"]: k for k in s1.cli("lab keys", json=True)}   # same as export_keys
    assert set(keys) == {child["spi-in"], child["spi-out"]}
    for spi, k in keys.items():
        mirror = keys1[spi]
        assert (mirror["encr_key"], mirror["integ_key"]) == (k["encr_key"], k["integ_key"])
        assert {mirror["direction"], k["direction"]} == {"in", "out"}
        assert k["udp_encap"] == [4500, 4500] and k["mode"] == "tunnel"
    echoes = {"echo-request": 0, "echo-reply": 0}
    for p in esp:
        payload = bytes(p[UDP].payload)
        d = decrypt_esp(payload, keys[int.from_bytes(payload[:4], "big")])
        inner = IP(d.inner)
        assert d.next_header == 4 and ICMP in inner   # IPv4-in-ESP, tunnel mode
        kind = "echo-request" if inner[ICMP].type == 8 else "echo-reply"
        echoes[kind] += 1
        assert {inner.src, inner.dst} == {lab.addr("h1"), h2}
    assert echoes == {"echo-request": PINGS, "echo-reply": PINGS}

    text = (s1.ctx.node_dir / "charon.log").read_text()
    assert f"generating {exchange} request" in text


@pytest.mark.topology("topologies/interop-sw-sw.yaml")
def test_main_mode_psk_tunnel(lab) -> None:  # type: ignore[no-untyped-def]
    _check_tunnel(lab, "sw-sw", "ID_PROT")


@pytest.mark.topology("topologies/interop-sw-sw-aggr.yaml")
def test_aggressive_mode_psk_tunnel(lab) -> None:  # type: ignore[no-untyped-def]
    _check_tunnel(lab, "sw-sw-aggr", "AGGRESSIVE")


@pytest.mark.topology("topologies/interop-sw-sw.yaml")
def test_terminate_and_restart(lab) -> None:  # type: ignore[no-untyped-def]
    """DELETE reaches the peer; a SIGKILLed charon restarts and re-establishes."""
    s1, s2 = lab.node("s1"), lab.node("s2")
    sw.initiate(s1, "net")
    sw.wait_child_sa(s2, "net")
    sw.terminate(s1, ike="sw-sw")
    sw.wait_log(s2, r"received DELETE for ISAKMP_SA|deleting IKE_SA sw-sw")
    assert sw.list_sas(s1) == {}
    assert "sw-sw" not in s1.cli("list-sas") and "sw-sw" in s1.cli("swanctl --list-conns")

    old = s2.daemon_pid
    s2.restart_daemon(kill=True)
    assert s2.daemon_pid not in (None, old)
    sw.initiate(s1, "net")
    assert lab.node("h1").ping(lab.addr("h2"), count=1).received == 1
    assert sw.wait_child_sa(s2, "net")["state"] == "INSTALLED"


@pytest.mark.topology("topologies/interop-sw-sw.yaml")
def test_rekey_by_responder_keys_still_decrypt(lab) -> None:  # type: ignore[no-untyped-def]
    """After s2 (Main Mode responder) rekeys the CHILD_SA, i.e. is Quick Mode
    initiator for the new SA, both nodes' exported keys still agree and decrypt."""
    s1, s2 = lab.node("s1"), lab.node("s2")
    sw.initiate(s1, "net")
    old = sw.wait_child_sa(s2, "net")
    sw.swanctl(s2, "--rekey", "--child", "net")

    def rekeyed() -> dict | None:
        new = [c for c in sw.child_sas(s1) if c["state"] == "INSTALLED"
               and c["spi-in"] not in (old["spi-in"], old["spi-out"])]
        return new[0] if new else None

    new = wait_until(rekeyed, 5.0, "rekeyed CHILD_SA on s1")
    with lab.capture("s1:eth0") as cap:
        assert lab.node("h2").ping(lab.addr("h1"), count=2).received == 2
        esp = wait_esp(cap, 4)
    keys1 = {k["spi"]: k for k in sw.export_keys(s1)}
    keys2 = {k["spi"]: k for k in sw.export_keys(s2)}
    assert {new["spi-in"], new["spi-out"]} <= set(keys1) & set(keys2)
    for spi in (new["spi-in"], new["spi-out"]):
        assert keys1[spi]["encr_key"] == keys2[spi]["encr_key"]
    for p in esp:
        payload = bytes(p[UDP].payload)
        spi = int.from_bytes(payload[:4], "big")
        assert spi in (new["spi-in"], new["spi-out"]), "traffic still on the old SA"
        assert ICMP in IP(decrypt_esp(payload, keys1[spi]).inner)


@pytest.mark.topology("topologies/interop-sw-sw.yaml")
def test_exported_ike_keys_decrypt_main_mode(lab) -> None:  # type: ignore[no-untyped-def]
    """The phase-1 key from export_ike_keys decrypts Main Mode message 5 (ID_I)."""
    s1, s2 = lab.node("s1"), lab.node("s2")
    with lab.capture("s2:eth0") as cap:
        sw.initiate(s1, "net")
        wait_until(lambda: len(isakmp_messages(cap.packets)) >= 9, 2.0, "MM + QM captured")
    (k1,) = sw.export_ike_keys(s1)
    (k2,) = sw.export_ike_keys(s2)
    assert k1["encr"] == "aes128" and len(bytes.fromhex(k1["encr_key"])) == 16
    for field in ("initiator_cookie", "responder_cookie", "encr_key"):
        assert k1[field] == k2[field]
    plain = decrypt_main_mode_id(isakmp_messages(cap.packets), "10.0.0.1", k1)
    # ID payload body: ID type 1 = ID_IPV4_ADDR (RFC 2407 §4.6.2.1), then 10.0.0.1.
    id_len = int.from_bytes(plain[2:4], "big")
    assert plain[4] == 1 and plain[8:id_len] == bytes([10, 0, 0, 1])


@pytest.mark.topology("topologies/interop-sw-sw-v6.yaml")
def test_ipv6_outer_ipv6_and_ipv4_inner(lab) -> None:  # type: ignore[no-untyped-def]
    """IKEv1 over IPv6; two CHILD_SAs carry IPv6 and IPv4 (AES-256/SHA-256)."""
    s1, s2 = lab.node("s1"), lab.node("s2")
    sw.initiate(s1, "net6")
    sw.initiate(s1, "net4")
    with lab.capture("s2:eth0") as cap:
        assert lab.node("h1").ping(lab.addr("h2", family=6), count=2).received == 2
        assert lab.node("h1").ping(lab.addr("h2"), count=2).received == 2
        esp = wait_esp(cap, 8)
    assert len(esp) >= 8 and all(p[IPv6].nh == 17 for p in esp)   # ESP in UDP over IPv6
    keys = {k["spi"]: k for k in sw.export_keys(s2)}
    inner = {}
    for p in esp:
        payload = bytes(p[UDP].payload)
        d = decrypt_esp(payload, keys[int.from_bytes(payload[:4], "big")])
        inner[d.next_header] = inner.get(d.next_header, 0) + 1
    assert inner == {41: 4, 4: 4}            # IPv6-in-ESP and IPv4-in-ESP, tunnel mode
    children = {c["name"]: c for c in sw.child_sas(s1)}
    assert children["net6"]["encr-alg"] == "AES_CBC" and children["net6"]["encr-keysize"] == 256
    assert children["net6"]["integ-alg"] == "HMAC_SHA2_256_128"
    assert {k["encr"] for k in keys.values()} == {"aes256"}
    assert {k["integ"] for k in keys.values()} == {"hmac-sha256-128"}
