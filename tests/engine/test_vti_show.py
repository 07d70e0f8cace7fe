"""Show commands for IPv6 VTIs (seed 000 ch. 10.3, L5316-5487) and the pure
helpers of engine/dataplane/vti.py."""

from __future__ import annotations

import struct

from engine.config.ios import parse_ios
from engine.dataplane.vti import _triggers, linux_name
from engine.show.commands import run_show
from engine.show.views import Ident, IpsecCounters, IpsecFlowView, IpsecSaEntryView, ShowState
from tests.engine.test_vti_config import SEED_VTI

R1 = "3ffe:2002::a8bb:ccff:fe01:2b02"
PEER = "3ffe:2002::a8bb:ccff:fe01:2c02"


def _cfg():
    return parse_ios(SEED_VTI + f"interface Ethernet2/0\n ipv6 address {R1}/64\n")


def _flow(active: bool = True) -> IpsecFlowView:
    sas = [IpsecSaEntryView(0x1234, "esp", "in", "esp-aes", conn_id=2001,
                            status="ACTIVE" if active else "DELETED")]
    return IpsecFlowView("Tunnel0", "Tunnel0-head-0", R1, Ident("::", "0"), Ident("::", "0"),
                         PEER, counters=IpsecCounters(encaps=7, decaps=5), inbound_esp=sas,
                         outbound_esp=[IpsecSaEntryView(0x5678, "esp", "out", "esp-aes",
                                                        conn_id=2002)])


def _show(cmd: str, state: ShowState, as_json: bool = False):
    text, data = run_show(cmd, _cfg(), state)
    return data if as_json else text


def test_line_protocol_follows_sa_state():
    down = _show("show interfaces Tunnel0", ShowState(), as_json=True)
    assert down[0]["line_protocol"] == "down" and down[0]["status"] == "up"
    up = _show("show interfaces tunnel 0", ShowState(ipsec_flows=[_flow()]), as_json=True)
    d = up[0]
    assert (d["line_protocol"], d["source"], d["destination"]) == ("up", R1, PEER)
    assert (d["transport"], d["profile"], d["packets_output"]) == ("IPSEC/IPV6", "profile0", 7)
    text = _show("show interfaces Tunnel0", ShowState(ipsec_flows=[_flow()]))
    assert text.startswith("Tunnel0 is up, line protocol is up")
    assert f"Tunnel source {R1} (Ethernet2/0), destination {PEER}" in text
    assert 'Tunnel protection via IPSec (profile "profile0")' in text
    gone = _show("show interfaces Tunnel0", ShowState(ipsec_flows=[_flow(active=False)]),
                 as_json=True)
    assert gone[0]["line_protocol"] == "down"


def test_generated_crypto_map_instance():
    text = _show("show crypto map", ShowState())
    assert 'Crypto Map IPv6 "Tunnel0-head-0" 65536 ipsec-isakmp' in text
    assert "\tMap is a PROFILE INSTANCE." in text
    assert f"\tPeer = {PEER}" in text and "permit ipv6 any any" in text
    assert _show("show crypto map interface Tunnel0", ShowState()) == text


def test_crypto_engine_connections():
    text = _show("show crypto engine connection active", ShowState(ipsec_flows=[_flow()]))
    lines = text.splitlines()
    assert lines[0] == "Crypto Engine Connections"
    assert any(line.split()[:2] == ["2001", "IPsec"] and line.split()[4] == "5"
               for line in lines)
    assert any(line.split()[:2] == ["2002", "IPsec"] and line.split()[3] == "7"
               for line in lines)


def _v6(src: str, dst: str) -> bytes:
    import ipaddress

    return (struct.pack("!IHBB", 6 << 28, 8, 58, 64) + ipaddress.ip_address(src).packed
            + ipaddress.ip_address(dst).packed + b"\x80\0\0\0\0\0\0\0")


def test_acquire_triggers_and_names():
    assert _triggers(_v6("2001:db8:1::10", "2001:db8:2::10"))
    assert not _triggers(_v6("fe80::1", "ff02::16"))  # MLD report of a fresh interface
    assert not _triggers(_v6("2001:db8:1::10", "ff05::2"))
    assert not _triggers(b"\x00\x01")
    assert linux_name("Tunnel0") == "Tunnel0"
    assert linux_name("Tunnel 12/0.100") == "Tunnel_12_0.100"
    assert len(linux_name("Tunnel1234567890123")) == 15


def test_socket_acl_and_debug_commands():
    text = _show("show crypto socket", ShowState(ipsec_flows=[_flow()]))
    assert text.startswith("Number of Crypto Socket connections 1")
    assert f"Tu0 Peers (local/remote): {R1}/{PEER}" in text
    assert 'Map-name: "Tunnel0-head-0"' in text
    cfg = parse_ios("ipv6 access-list ACL_IPV6_1\n permit ipv6 2001:DB8:1::/64 2001:DB8:2::/64\n")
    text, _ = run_show("show ipv6 access-list", cfg, ShowState())
    assert text.splitlines() == ["IPv6 access list ACL_IPV6_1",
                                 "    permit ipv6 2001:db8:1::/64 2001:db8:2::/64 sequence 10"]
    # seed 000 L5517-5531: accepted in privileged EXEC, acknowledged
    assert _show("debug crypto engine packet detail", ShowState()).startswith(
        "Crypto Engine Packet Detail debugging is on")
    assert _show("no debug crypto ipsec", ShowState()) == "Crypto IPSEC debugging is off\n"
