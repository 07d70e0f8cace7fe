"""Show commands of the IPv6 VTI chapter (seed 000 ch. 10.3, L5316-5487).

The seed lists the verification commands but prints no output; the formats
follow IOS XE (``show interfaces Tunnel0``, ``show crypto engine connections
active``), reduced to what the engine knows.  The line protocol of a VTI is
up only while an IPsec SA pair protects it (L4657-4659).
"""

from __future__ import annotations

from typing import Any

from engine.config.model import Config
from engine.config.vti import Vti, find_interface, vti_of
from engine.show.views import IpsecFlowView, ShowState

Out = tuple[str, Any]


def _flows(state: ShowState, name: str) -> list[IpsecFlowView]:
    return [f for f in state.ipsec_flows if f.interface.lower() == name.lower()]


def _active(flows: list[IpsecFlowView]) -> bool:
    return any(
        sa.status == "ACTIVE" for f in flows for sa in (*f.inbound_esp, *f.inbound_ah)
    )


def interface_data(cfg: Config, state: ShowState, vti: Vti) -> dict[str, Any]:
    """Structured form of ``show interfaces TunnelN`` for one VTI."""
    flows = _flows(state, vti.name)
    up = _active(flows)
    local = next((f.local_addr for f in flows if f.local_addr), None) or vti.local_address()
    intf = vti.interface
    pkts_in = sum(f.counters.decaps for f in flows)
    pkts_out = sum(f.counters.encaps for f in flows)
    return {
        "interface": vti.name,
        "status": "administratively down" if intf.shutdown else "up",
        "line_protocol": "up" if up and not intf.shutdown else "down",
        "source": local,
        "source_interface": vti.source_interface.name if vti.source_interface else None,
        "destination": str(vti.destination),
        "transport": f"IPSEC/IPV{vti.destination.version}",
        "inner": f"IPV{vti.inner_version}",
        "profile": vti.profile,
        "ipv6_mtu": intf.ipv6_mtu,
        "qos_pre_classify": intf.qos_pre_classify,
        "packets_input": pkts_in,
        "packets_output": pkts_out,
        "problems": list(vti.problems),
    }


def _interface_lines(d: dict[str, Any]) -> list[str]:
    src = d["source"] or "UNKNOWN"
    if d["source_interface"]:
        src += f" ({d['source_interface']})"
    lines = [
        f"{d['interface']} is {d['status']}, line protocol is {d['line_protocol']} ",
        "  Hardware is Tunnel",
        "  MTU 9938 bytes, BW 100 Kbit/sec, DLY 50000 usec, ",
        "     reliability 255/255, txload 1/255, rxload 1/255",
        "  Encapsulation TUNNEL, loopback not set",
        "  Keepalive not set",
        f"  Tunnel linestate evaluation {d['line_protocol']}",
        f"  Tunnel source {src}, destination {d['destination']}",
        f"  Tunnel protocol/transport {d['transport']}",
        "  Tunnel TTL 255",
        f'  Tunnel protection via IPSec (profile "{d["profile"]}")',
    ]
    if d["qos_pre_classify"]:
        lines.append("  QoS pre-classification is enabled")
    lines += [
        f"     {d['packets_input']} packets input, 0 no buffer",
        f"     {d['packets_output']} packets output, 0 underruns",
    ]
    return lines


def show_interfaces(cfg: Config, state: ShowState, name: str | None = None) -> Out:
    """``show interfaces [TunnelN]`` (tunnel interfaces only; others are not modelled)."""
    if name is not None:
        intf = find_interface(cfg, name)
        if intf is None:
            return f"% Invalid input: interface {name} does not exist\n", None
        vti = vti_of(cfg, intf)
        if vti is None:
            return f"{intf.name} is up, line protocol is up \n  Hardware is not modelled\n", None
        targets = [vti]
    else:
        targets = [v for v in (vti_of(cfg, i) for i in cfg.interfaces.values()) if v]
    data = [interface_data(cfg, state, v) for v in targets]
    lines: list[str] = []
    for d in data:
        lines += _interface_lines(d)
    return "\n".join(lines) + ("\n" if lines else ""), data


def crypto_engine_connections(cfg: Config, state: ShowState) -> Out:
    """``show crypto engine connections active`` (seed 000 L5362-5370)."""
    rows: list[dict[str, Any]] = []
    for sa in state.isakmp_sas:
        if sa.status != "ACTIVE":
            continue
        alg = f"{sa.hash.upper()}+{sa.encryption.upper()}"
        rows.append({"id": sa.conn_id, "type": "IKE", "algorithm": alg, "encrypt": 0,
                     "decrypt": 0, "last_seq": 0, "address": sa.local or sa.src})
    for f in state.ipsec_flows:
        for sa in (*f.inbound_ah, *f.inbound_esp, *f.outbound_ah, *f.outbound_esp):
            if sa.status != "ACTIVE":
                continue
            out = sa.direction == "out"
            rows.append({
                "id": sa.conn_id, "type": "IPsec", "algorithm": sa.transform.upper(),
                "encrypt": f.counters.encaps if out else 0,
                "decrypt": 0 if out else f.counters.decaps,
                "last_seq": f.counters.encaps if out else f.counters.decaps,
                "address": f.local_addr, "interface": f.interface, "spi": sa.spi,
            })
    rows.sort(key=lambda r: r["id"])
    lines = ["Crypto Engine Connections", "",
             "   ID  Type    Algorithm           Encrypt  Decrypt LastSeqN IP-Address"]
    for r in rows:
        lines.append(f"{r['id']:5d}  {r['type']:<7} {r['algorithm'][:19]:<19} "
                     f"{r['encrypt']:7d}  {r['decrypt']:7d} {r['last_seq']:8d} {r['address']}")
    return "\n".join(lines) + "\n", rows


def crypto_socket(cfg: Config, state: ShowState) -> Out:
    """``show crypto socket`` (seed 000 L5442-5448): one socket per VTI with SAs."""
    from engine.config.vti import vtis

    rows = []
    for vti in vtis(cfg):
        flows = [f for f in _flows(state, vti.name) if _active([f])]
        if not flows:
            continue
        f = flows[-1]
        rows.append({"interface": vti.name, "local": f.local_addr, "remote": f.current_peer,
                     "local_ident": str(f.local_ident), "remote_ident": str(f.remote_ident),
                     "profile": vti.profile, "map": vti.map_name})
    lines = [f"Number of Crypto Socket connections {len(rows)}", ""]
    for r in rows:
        short = "Tu" + r["interface"][len("Tunnel"):] if r["interface"].startswith("Tunnel") \
            else r["interface"]
        lines += [f"   {short} Peers (local/remote): {r['local']}/{r['remote']}",
                  f"       Local Ident  (addr/mask/port/prot): {r['local_ident']}",
                  f"       Remote Ident (addr/mask/port/prot): {r['remote_ident']}",
                  f'       IPSec Profile: "{r["profile"]}"',
                  "       Socket State: Open",
                  '       Client: "TUNNEL SEC" (Client State: Active)']
    lines.append("Crypto Sockets in Listen state:")
    from engine.config.vti import vtis as _all

    for vti in _all(cfg):
        lines.append(f'Client: "TUNNEL SEC" Profile: "{vti.profile}" Map-name: "{vti.map_name}"')
    return "\n".join(lines) + "\n", rows


def ipv6_access_lists(cfg: Config, name: str | None = None) -> Out:
    """``show ipv6 access-list [NAME]`` (seed 000 L5450-5459)."""
    from engine.show.ios import ace_text

    lines: list[str] = []
    data = []
    for acl_name, acl in cfg.access_lists.items():
        if not acl.ipv6 or (name is not None and acl_name != name):
            continue
        lines.append(f"IPv6 access list {acl_name}")
        for n, ace in enumerate(acl.entries, 1):
            seq = ace.sequence or n * 10
            lines.append(f"    {ace_text(ace)} sequence {seq}")
        data.append({"name": acl_name, "entries": [ace_text(a) for a in acl.entries]})
    return "\n".join(lines) + ("\n" if lines else ""), data


#: ``debug`` commands of seed 000 L5493-5531, L5659-5660: acknowledged; they change
#: nothing in the data plane (T54).
DEBUG_TEXT = {
    "ipsec": "Crypto IPSEC debugging is on",
    "engine packet": "Crypto Engine Packet debugging is on",
    "engine packet detail": "Crypto Engine Packet Detail debugging is on",
    "ipv6 ipsec": "Crypto IPv6 IPSEC debugging is on",
}


def debug_ack(what: str, on: bool = True) -> Out:
    text = DEBUG_TEXT[what]
    return (text if on else text.replace(" is on", " is off")) + "\n", {"debug": what, "on": on}
