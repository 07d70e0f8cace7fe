"""IOS ``show crypto ...`` formatters.

Layouts follow the documents' sample outputs (spec notes; the seeds are PDF
extractions that lost IOS's indentation, so the indentation here is IOS's own,
and the documents' samples compare equal after collapsing whitespace):

* ``show crypto isakmp sa`` — seed 000 L1119-1131, L1268 (``(deleted)`` rows);
  detail rows — seed 001 L3310-3318.
* ``show crypto ipsec sa`` — seed 000 L1137-1257 and L1269-1292 (cleared SAs).
* ``show crypto map`` — seed 001 L3320-3354.
* ``show crypto session [detail]`` — seed 001 L356-390.
* ``show crypto isakmp peer`` — seed 001 L311-331.
* ``show crypto isakmp [default] policy`` — seed 001 L2485-2535.
* ``show crypto ipsec [default] transform-set`` — seed 001 L2596-2601.

Every formatter returns ``(text, data)``: ``data`` is the JSON form.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict
from typing import Any

from engine.config.model import (
    DEFAULT_ISAKMP_POLICIES,
    DEFAULT_TRANSFORM_SETS,
    Ace,
    Config,
    CryptoMapEntry,
    IsakmpPolicy,
    TransformSet,
    effective_transform_sets,
)
from engine.show.views import IpsecFlowView, IpsecSaEntryView, IsakmpSaView, ShowState

Out = tuple[str, Any]


def _hms(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


# -- show crypto isakmp sa -----------------------------------------------------------------------


def isakmp_sa(state: ShowState, detail: bool = False) -> Out:
    """``show crypto isakmp sa [detail]``."""
    data = [asdict(sa) | {"deleted": sa.deleted} for sa in state.isakmp_sas]
    if detail:
        return _isakmp_sa_detail(state.isakmp_sas), data
    lines = ["f_vrf/i_vrf   dst             src             state          conn-id slot", ""]
    for sa in state.isakmp_sas:
        vrf = f"{sa.f_vrf}/{sa.i_vrf}"
        row = f"{vrf:<13} {sa.dst:<15} {sa.src:<15} {sa.state:<14} {sa.conn_id:>7} {sa.slot:>4}"
        if sa.deleted:
            row += " (deleted)"
        lines.append(row)
    return "\n".join(lines) + "\n", data


def _isakmp_sa_detail(sas: list[IsakmpSaView]) -> str:
    lines = [
        "Codes: C - IKE configuration mode, D - Dead Peer Detection",
        "       K - Keepalives, N - NAT-traversal",
        "       X - IKE Extended Authentication",
        "       psk - Preshared key, rsig - RSA signature",
        "       renc - RSA encryption",
        "",
        # Columns as seed 001 L3311: C-id Local Remote [I-VRF] Status Encr Hash Auth DH
        # Lifetime [Cap.]
        "C-id  Local           Remote          I-VRF  Status Encr Hash   Auth DH Lifetime Cap.",
        "",
    ]
    for sa in sas:
        life = _hms(sa.lifetime_remaining) if sa.lifetime_remaining > 0 else "0"
        status = "ACTIVE" if not sa.deleted else "DELETED"
        lines.append(
            f"{sa.conn_id:<5} {sa.local or sa.src:<15} {sa.remote or sa.dst:<15} {sa.i_vrf:<6} "
            f"{status:<6} {sa.encryption:<4} {sa.hash:<6} {sa.auth:<4} {sa.group:<2} {life:<8} "
            f"{sa.capabilities}".rstrip()
        )
        lines.append(f"       Engine-id:Conn-id =  {sa.engine_id}:{sa.conn_id}")
        lines.append("")
    return "\n".join(lines) + "\n"


# -- show crypto ipsec sa ------------------------------------------------------------------------


def _sa_block(title: str, sas: list[IpsecSaEntryView], detail: bool) -> list[str]:
    out = [f"     {title}:"]
    for sa in sas:
        out += [
            f"      spi: 0x{sa.spi:X}({sa.spi})",
            f"        transform: {sa.transform} ,",
            f"        in use settings ={{{sa.settings}}}",
            f"        slot: {sa.slot}, conn id: {sa.conn_id}, flow_id: {sa.flow_id}, "
            f"crypto map: {sa.crypto_map}",
            f"        crypto engine type: {sa.engine_type}",
            "        sa timing: remaining key lifetime (k/sec): "
            f"({sa.remaining_kb}/{sa.remaining_sec})",
        ]
        if sa.iv_size is not None:
            out.append(f"        IV size: {sa.iv_size} bytes")
        out.append(f"        replay detection support: {'Y' if sa.replay_detection else 'N'}")
        if detail:
            out.append(f"        replay window size: {sa.replay_window}")
            out.append(f"        Status: {sa.status}")
        out.append("")
    if not sas:
        out.append("")
    return out


def _counter_lines(flow: IpsecFlowView, detail: bool) -> list[str]:
    c = flow.counters
    out = [
        f"    #pkts encaps: {c.encaps}, #pkts encrypt: {c.encrypt}, #pkts digest: {c.digest}",
        f"    #pkts decaps: {c.decaps}, #pkts decrypt: {c.decrypt}, #pkts verify: {c.verify}",
        f"    #pkts compressed: {c.compressed}, #pkts decompressed: {c.decompressed}",
        f"    #pkts not compressed: {c.not_compressed}, #pkts compr. failed: {c.compr_failed}",
        f"    #pkts not decompressed: {c.not_decompressed}, "
        f"#pkts decompress failed: {c.decompress_failed}",
    ]
    if detail:
        out += [
            f"    #pkts no sa (send) {c.no_sa_send}, #pkts invalid sa (rcv) {c.invalid_sa_recv}",
            f"    #pkts encaps failed (send) {c.encaps_failed_send}, "
            f"#pkts decaps failed (rcv) {c.decaps_failed_recv}",
            f"    #pkts invalid prot (recv) {c.invalid_prot_recv}, "
            f"#pkts verify failed: {c.verify_failed}",
            f"    #pkts invalid identity (recv) {c.invalid_identity_recv}, "
            f"#pkts invalid len (rcv) {c.invalid_len_recv}",
            f"    #pkts replay rollover (send): {c.replay_rollover_send}, "
            f"#pkts replay rollover (rcv) {c.replay_rollover_recv}",
            f"    ##pkts replay failed (rcv): {c.replay_failed_recv}",
            f"    #pkts internal err (send): {c.internal_err_send}, "
            f"#pkts internal err (recv) {c.internal_err_recv}",
        ]
    else:
        out.append(f"    #send errors {c.send_errors}, #recv errors {c.recv_errors}")
    return out


def _flow_lines(flow: IpsecFlowView, detail: bool) -> list[str]:
    spi = flow.current_outbound_spi
    lines = [
        f"    Crypto map tag: {flow.crypto_map}, local addr. {flow.local_addr}",
        "",
        f"   protected vrf: {flow.protected_vrf}".rstrip(),
        f"   local ident (addr/mask/prot/port): {flow.local_ident}",
        f"   remote ident (addr/mask/prot/port): {flow.remote_ident}",
        f"   current_peer: {flow.current_peer}:{flow.peer_port}",
        f"     PERMIT, flags={{{flow.flags}}}",
        *_counter_lines(flow, detail),
        "",
        f"     local crypto endpt.: {flow.local_endpoint or flow.local_addr}, "
        f"remote crypto endpt.: {flow.remote_endpoint or flow.current_peer}",
        f"     path mtu {flow.path_mtu}, media mtu {flow.media_mtu}",
        f"     current outbound spi: {spi:X}",
        "",
    ]
    for title, sas in (
        ("inbound esp sas", flow.inbound_esp),
        ("inbound ah sas", flow.inbound_ah),
        ("inbound pcp sas", flow.inbound_pcp),
        ("outbound esp sas", flow.outbound_esp),
        ("outbound ah sas", flow.outbound_ah),
        ("outbound pcp sas", flow.outbound_pcp),
    ):
        lines += _sa_block(title, sas, detail)
    return lines


def _flow_data(flow: IpsecFlowView) -> dict[str, Any]:
    return asdict(flow) | {
        "current_outbound_spi": flow.current_outbound_spi,
        "active_sas": flow.active_sas,
    }


def ipsec_sa(
    state: ShowState,
    peer: str | None = None,
    interface: str | None = None,
    map_name: str | None = None,
    detail: bool = False,
) -> Out:
    """``show crypto ipsec sa [peer X | interface X | map X] [detail]``."""
    flows = state.ipsec_flows
    if peer is not None:
        flows = [f for f in flows if f.current_peer == peer]
    if interface is not None:
        flows = [f for f in flows if f.interface.lower() == interface.lower()]
    if map_name is not None:
        flows = [f for f in flows if f.crypto_map == map_name]
    lines: list[str] = []
    seen: list[str] = []
    for intf in [f.interface for f in flows]:
        if intf not in seen:
            seen.append(intf)
    for intf in seen:
        lines += [f"interface: {intf}"]
        for flow in (f for f in flows if f.interface == intf):
            lines += _flow_lines(flow, detail)
    text = "\n".join(lines) + ("\n" if lines else "")
    return text, [_flow_data(f) for f in flows]


# -- show crypto map -----------------------------------------------------------------------------

_PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 51: "ahp", 58: "ipv6-icmp"}


def _addr_spec(net, wild: tuple[int, int] | None) -> str:
    if wild is not None:
        return f"{ipaddress.IPv4Address(wild[0])} {ipaddress.IPv4Address(wild[1])}"
    if net.prefixlen == 0:
        return "any"
    if net.prefixlen == net.max_prefixlen:
        return f"host {net.network_address}"
    if net.version == 6:
        return str(net)
    return f"{net.network_address} {net.hostmask}"


def _port_spec(pm) -> str:
    if pm is None:
        return ""
    if pm.op == "range":
        return f" range {pm.low} {pm.high}"
    return f" {pm.op} {pm.low}"


def ace_text(ace: Ace) -> str:
    """Canonical IOS text of an ACE (``permit ip host A 10.0.0.0 0.0.0.255``)."""
    v6 = ace.src.version == 6
    proto = (
        ("ipv6" if v6 else "ip")
        if ace.protocol is None
        else _PROTO_NAMES.get(ace.protocol, str(ace.protocol))
    )
    return (
        f"{ace.action} {proto} {_addr_spec(ace.src, ace.src_wildcard)}{_port_spec(ace.src_port)} "
        f"{_addr_spec(ace.dst, ace.dst_wildcard)}{_port_spec(ace.dst_port)}"
    )


def _ts_line(ts: TransformSet) -> str:
    return f"{ts.name}: {{ {' '.join(ts.transforms)}  }},"


def _map_entry_lines(cfg: Config, state: ShowState, name: str, entry: CryptoMapEntry) -> list[str]:
    lines = [f'Crypto Map "{name}" {entry.seq} {entry.kind}']
    if entry.description:
        lines.append(f"\tDescription: {entry.description}")
    if entry.dynamic_map:
        lines.append(f"\tDynamic map template tag: {entry.dynamic_map}")
        return lines
    for p in entry.peers:
        lines.append(f"\tPeer = {p}")
    acl = cfg.access_lists.get(entry.match_address or "")
    if entry.match_address is not None:
        kind = "IPv6 access list" if acl is not None and acl.ipv6 else "Extended IP access list"
        lines.append(f"\t{kind} {entry.match_address}")
        for ace in acl.entries if acl else []:
            lines.append(f"\t    access-list {entry.match_address} {ace_text(ace)}")
    current = state.current_peers.get(f"{name}/{entry.seq}") or (
        str(entry.peers[0]) if entry.peers else ""
    )
    if current:
        lines.append(f"\tCurrent peer: {current}")
    secs, kbs = cfg.entry_lifetime(entry)
    lines.append(f"\tSecurity association lifetime: {kbs} kilobytes/{secs} seconds")
    lines.append(f"\tPFS (Y/N): {'Y' if entry.pfs_group else 'N'}")
    if entry.pfs_group:
        lines.append(f"\tDH group:  group{entry.pfs_group}")
    lines.append("\tTransform sets={")
    for ts in effective_transform_sets(cfg, entry):
        lines.append(f"\t\t{_ts_line(ts)}")
    lines.append("\t}")
    return lines


def _map_entry_data(
    cfg: Config, state: ShowState, name: str, entry: CryptoMapEntry
) -> dict[str, Any]:
    secs, kbs = cfg.entry_lifetime(entry)
    acl = cfg.access_lists.get(entry.match_address or "")
    return {
        "map": name,
        "seq": entry.seq,
        "kind": entry.kind,
        "dynamic_map": entry.dynamic_map,
        "peers": [{"address": str(p), "default": p.default} for p in entry.peers],
        "current_peer": state.current_peers.get(f"{name}/{entry.seq}")
        or (str(entry.peers[0]) if entry.peers else None),
        "match_address": entry.match_address,
        "acl": [ace_text(a) for a in acl.entries] if acl else [],
        "lifetime_seconds": secs,
        "lifetime_kilobytes": kbs,
        "pfs_group": entry.pfs_group,
        "transform_sets": [ts.name for ts in effective_transform_sets(cfg, entry)],
        "replay_window": cfg.entry_replay_window(entry),
        "idletime": entry.idletime,
        "idletime_default": entry.idletime_default,
        "description": entry.description,
        "interfaces": [
            i.name for i in cfg.interfaces.values() if name in (i.crypto_map, i.crypto_map_v6)
        ],
    }


def crypto_map(
    cfg: Config, state: ShowState, interface: str | None = None, tag: str | None = None
) -> Out:
    """``show crypto map [interface X | tag NAME]``."""
    lines: list[str] = []
    data: list[dict[str, Any]] = []
    for name, cmap in cfg.crypto_maps.items():
        users = [i.name for i in cfg.interfaces.values() if name in (i.crypto_map, i.crypto_map_v6)]
        if tag is not None and name != tag:
            continue
        if interface is not None and interface.lower() not in (u.lower() for u in users):
            continue
        for entry in cmap.ordered():
            lines += _map_entry_lines(cfg, state, name, entry)
            data.append(_map_entry_data(cfg, state, name, entry))
        lines.append(f"\tInterfaces using crypto map {name}:")
        lines += [f"\t\t{u}" for u in users]
        lines.append("")
    for intf in cfg.interfaces.values():
        prof_name = intf.tunnel.get("protection")
        if prof_name is None or (tag is not None and tag != f"{intf.name}-head-0"):
            continue
        if interface is not None and interface.lower() != intf.name.lower():
            continue
        lines += _vti_map_lines(cfg, intf.name, prof_name)
        data.append(
            {
                "map": f"{intf.name}-head-0",
                "seq": 65536,
                "kind": "ipsec-isakmp",
                "profile": prof_name,
                "interfaces": [intf.name],
                "generated": True,
            }
        )
    return "\n".join(lines) + ("\n" if lines else ""), data


def _vti_map_lines(cfg: Config, intf: str, prof_name: str) -> list[str]:
    """The crypto map IOS generates for a VTI (seed 000 L5412-5424: no ``crypto map`` needed)."""
    prof = cfg.ipsec_profiles.get(prof_name)
    name = f"{intf}-head-0"
    v6 = "IPv6 " if "ipv6" in cfg.interfaces[intf].tunnel.get("mode", "") else ""
    lines = [f'Crypto Map {v6}"{name}" 65536 ipsec-isakmp', f"\tProfile name: {prof_name}"]
    if prof is not None:
        secs, kbs = cfg.entry_lifetime(prof)
        lines += [
            f"\tSecurity association lifetime: {kbs} kilobytes/{secs} seconds",
            f"\tPFS (Y/N): {'Y' if prof.pfs_group else 'N'}",
            "\tTransform sets={",
        ]
        lines += [f"\t\t{_ts_line(ts)}" for ts in effective_transform_sets(cfg, prof)]
        lines.append("\t}")
    lines += _vti_instance_lines(cfg, intf, name, v6)
    lines += [f"\tInterfaces using crypto map {name}:", f"\t\t{intf}", ""]
    return lines


def _vti_instance_lines(cfg: Config, intf: str, name: str, v6: str) -> list[str]:
    """The profile instance entry (65537): peer = tunnel destination, any/any ACL."""
    from engine.config.vti import vti_by_name

    vti = vti_by_name(cfg, intf)
    if vti is None:
        return []
    acl = vti.acl
    kind = "IPv6 access list" if acl.ipv6 else "Extended IP access list"
    proto = "ipv6" if acl.ipv6 else "ip"
    secs, kbs = cfg.entry_lifetime(vti.entry)
    lines = ["", f'Crypto Map {v6}"{name}" 65537 ipsec-isakmp', "\tMap is a PROFILE INSTANCE.",
             f"\tPeer = {vti.destination}", f"\t{kind} {acl.name}",
             f"\t    access-list {acl.name} permit {proto} any any",
             f"\tCurrent peer: {vti.destination}",
             f"\tSecurity association lifetime: {kbs} kilobytes/{secs} seconds",
             f"\tPFS (Y/N): {'Y' if vti.entry.pfs_group else 'N'}", "\tTransform sets={"]
    lines += [f"\t\t{_ts_line(ts)}" for ts in effective_transform_sets(cfg, vti.entry)]
    lines.append("\t}")
    return lines


# -- show crypto session -------------------------------------------------------------------------


def _flow_spec(ident_local, ident_remote) -> str:
    def one(i) -> str:
        if i.mask in ("255.255.255.255", "128"):
            return f"host {i.addr}"
        if i.mask in ("0.0.0.0", "0"):
            return "any"
        return f"{i.addr}/{i.mask}"

    proto = "ip" if ident_local.prot == 0 else str(ident_local.prot)
    return f"permit {proto} {one(ident_local)} {one(ident_remote)}"


def sessions(cfg: Config, state: ShowState) -> list[dict[str, Any]]:
    """Crypto sessions: one per (interface, peer), built from the SA views."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for flow in state.ipsec_flows:
        key = (flow.interface, flow.current_peer)
        s = out.setdefault(
            key,
            {
                "interface": flow.interface,
                "peer": flow.current_peer,
                "peer_port": flow.peer_port,
                "ike_sas": [],
                "flows": [],
            },
        )
        inb = [sa for sa in flow.inbound_esp + flow.inbound_ah if sa.status == "ACTIVE"]
        outb = [sa for sa in flow.outbound_esp + flow.outbound_ah if sa.status == "ACTIVE"]
        life_in = (inb[0].remaining_kb, inb[0].remaining_sec) if inb else (0, 0)
        life_out = (outb[0].remaining_kb, outb[0].remaining_sec) if outb else (0, 0)
        s["flows"].append(
            {
                "flow": _flow_spec(flow.local_ident, flow.remote_ident),
                "active_sas": flow.active_sas,
                "origin": "crypto map",
                "decrypted": flow.counters.decrypt,
                "in_drop": flow.counters.recv_errors,
                "in_life": list(life_in),
                "encrypted": flow.counters.encrypt,
                "out_drop": flow.counters.send_errors,
                "out_life": list(life_out),
            }
        )
    for sa in state.isakmp_sas:
        remote = sa.remote or (sa.dst if sa.initiator else sa.src)
        local = sa.local or (sa.src if sa.initiator else sa.dst)
        match = [k for k in out if k[1] == remote]
        if not match:
            intf = _interface_for(cfg, local)
            out[(intf, remote)] = {
                "interface": intf,
                "peer": remote,
                "peer_port": sa.remote_port,
                "ike_sas": [],
                "flows": [],
            }
            match = [(intf, remote)]
        out[match[0]]["ike_sas"].append(
            {
                "local": local,
                "local_port": sa.local_port,
                "remote": remote,
                "remote_port": sa.remote_port,
                "status": "Inactive" if sa.deleted else "Active",
                "capabilities": sa.capabilities or "(none)",
                "conn_id": sa.conn_id,
                "lifetime": _hms(sa.lifetime_remaining),
                "peer_id": sa.peer_id or remote,
            }
        )
    result = []
    for s in out.values():
        ike_up = any(i["status"] == "Active" for i in s["ike_sas"])
        ipsec_up = any(f["active_sas"] for f in s["flows"])
        s["status"] = (
            "UP-ACTIVE"
            if ike_up and ipsec_up
            else "UP-NO-IKE"
            if ipsec_up
            else "UP-IDLE"
            if ike_up
            else "DOWN"
        )
        peer_cfg = cfg.find_peer(s["peer"]) if s["peer"] else None
        s["description"] = peer_cfg.description if peer_cfg else None
        result.append(s)
    return result


def _interface_for(cfg: Config, local: str) -> str:
    for intf in cfg.interfaces.values():
        if any(str(a.ip) == local for a in intf.addresses + intf.addresses_v6):
            return intf.name
    return ""


def crypto_session(cfg: Config, state: ShowState, detail: bool = False) -> Out:
    """``show crypto session [detail]``."""
    data = sessions(cfg, state)
    lines = [] if detail else ["Crypto session current status", ""]
    for s in data:
        lines.append(f"Interface: {s['interface']}")
        lines.append(f"Session status: {s['status']}")
        if detail:
            lines.append(f"Peer: {s['peer']} port {s['peer_port']} fvrf: (none) ivrf: (none)")
            if s["description"]:
                lines.append(f"    Desc: {s['description']}")
            for ike in s["ike_sas"]:
                lines.append(f"    Phase1_id: {ike['peer_id']}")
        else:
            lines.append(f"Peer: {s['peer']}/{s['peer_port']}")
        for ike in s["ike_sas"]:
            lines.append(
                f"    IKE SA: local {ike['local']}/{ike['local_port']} remote "
                f"{ike['remote']}/{ike['remote_port']} {ike['status']}"
            )
            if detail:
                lines.append(
                    f"    Capabilities:{ike['capabilities']} connid:{ike['conn_id']} "
                    f"lifetime:{ike['lifetime']}"
                )
        for f in s["flows"]:
            lines.append(f"    IPSEC FLOW: {f['flow']}")
            lines.append(f"    Active SAs: {f['active_sas']}, origin: {f['origin']}")
            if detail:
                lines.append(
                    f"    Inbound:  #pkts dec'ed {f['decrypted']} drop {f['in_drop']} "
                    f"life (KB/Sec) {f['in_life'][0]}/{f['in_life'][1]}"
                )
                lines.append(
                    f"    Outbound: #pkts enc'ed {f['encrypted']} drop {f['out_drop']} "
                    f"life (KB/Sec) {f['out_life'][0]}/{f['out_life'][1]}"
                )
        lines.append("")
    return "\n".join(lines) + "\n", data


# -- show crypto isakmp peer / policy -----------------------------------------------------------


def isakmp_peer(cfg: Config, state: ShowState) -> Out:
    """``show crypto isakmp peer``: configured peers (``crypto isakmp peer``)."""
    lines: list[str] = []
    data = []
    for p in cfg.isakmp_peers:
        addr = str(p.address) if p.address is not None else str(p.hostname)
        lines.append(f"Peer: {addr} Port: 500")
        if p.description:
            lines.append(f"  Description: {p.description}")
        lines.append("  flags: PEER_POLICY")
        data.append(
            {
                "peer": addr,
                "port": 500,
                "description": p.description,
                "aggressive_mode": p.aggressive_mode,
                "flags": "PEER_POLICY",
            }
        )
    return "\n".join(lines) + ("\n" if lines else ""), data


_ENC = {
    "des": "DES - Data Encryption Standard (56 bit keys).",
    "3des": "Three key triple DES",
}
_HASH = {
    "sha": "Secure Hash Standard",
    "md5": "Message Digest 5",
    "sha256": "Secure Hash Standard 2 (256 bit)",
    "sha384": "Secure Hash Standard 2 (384 bit)",
    "sha512": "Secure Hash Standard 2 (512 bit)",
}
_AUTH = {
    "pre-share": "Pre-Shared Key",
    "rsa-sig": "Rivest-Shamir-Adleman Signature",
    "rsa-encr": "Rivest-Shamir-Adleman Encryption",
}
_DH = {
    1: "768 bit",
    2: "1024 bit",
    5: "1536 bit",
    14: "2048 bit",
    15: "3072 bit",
    16: "4096 bit",
    19: "256 bit",
    20: "384 bit",
    21: "521 bit",
    24: "2048 bit, 256 bit subgroup",
}


def _policy_lines(title: str, p: IsakmpPolicy) -> list[str]:
    enc = (
        _ENC.get(p.encryption)
        or f"AES - Advanced Encryption Standard ({p.key_length or 128} bit key.)"
    )
    return [
        f"{title} {p.priority}",
        f"  encryption algorithm: {enc}",
        f"  hash algorithm:      {_HASH.get(p.hash, p.hash)}",
        f"  authentication method: {_AUTH.get(p.authentication, p.authentication)}",
        f"  Diffie-Hellman group: #{p.group} ({_DH.get(p.group, '?')})",
        f"  lifetime:            {p.lifetime} seconds, no volume limit",
    ]


def _policy_data(p: IsakmpPolicy) -> dict[str, Any]:
    return asdict(p) | {"cipher": p.cipher_name, "prf": p.prf_name}


def isakmp_policy(cfg: Config) -> Out:
    """``show crypto isakmp policy``: user policies, then the defaults in use."""
    lines = ["", "Global IKE policy"]
    data = []
    for p in cfg.sorted_policies():
        lines += _policy_lines("Protection suite of priority", p)
        data.append(_policy_data(p))
    if not cfg.isakmp_policies and cfg.globals.default_policies_enabled:
        for p in DEFAULT_ISAKMP_POLICIES:
            lines += _policy_lines("Default protection suite of priority", p)
            data.append(_policy_data(p) | {"default": True})
    return "\n".join(lines) + "\n", data


def isakmp_default_policy(cfg: Config) -> Out:
    """``show crypto isakmp default policy`` (no output once disabled, seed 001 L2541-2546)."""
    if not cfg.globals.default_policies_enabled:
        return "", []
    lines = ["", "Default IKE policy"]
    for p in DEFAULT_ISAKMP_POLICIES:
        lines += _policy_lines("Default protection suite of priority", p)
    return "\n".join(lines) + "\n", [_policy_data(p) for p in DEFAULT_ISAKMP_POLICIES]


# -- show crypto ipsec transform-set -------------------------------------------------------------


def _ts_lines(label: str, ts: TransformSet) -> list[str]:
    mode = "Tunnel" if ts.mode == "tunnel" else "Transport"
    ah = [t for t in ts.transforms if t.startswith("ah-")]
    esp = [t for t in ts.transforms if not t.startswith("ah-")]
    lines = []
    first = True
    for group in (ah, esp):
        if not group:
            continue
        head = f"{label}: " if first else "   "
        lines.append(f"{head}{{ {' '.join(group)}  }}")
        lines.append(f"    will negotiate = {{ {mode},  }},")
        first = False
    return lines


def _ts_data(ts: TransformSet) -> dict[str, Any]:
    return asdict(ts)


def transform_sets(cfg: Config, tag: str | None = None) -> Out:
    """``show crypto ipsec transform-set [tag NAME]``."""
    lines: list[str] = []
    sets = [ts for name, ts in cfg.transform_sets.items() if tag is None or name == tag]
    for ts in sets:
        lines += _ts_lines(f"Transform set {ts.name}", ts) + [""]
    if tag is None and not cfg.transform_sets and cfg.globals.default_transform_sets_enabled:
        return default_transform_sets(cfg)
    return "\n".join(lines) + ("\n" if lines else ""), [_ts_data(t) for t in sets]


def default_transform_sets(cfg: Config) -> Out:
    """``show crypto ipsec default transform-set`` (seed 001 L2596-2601)."""
    if not cfg.globals.default_transform_sets_enabled:
        return "", []
    lines: list[str] = []
    for n, ts in enumerate(DEFAULT_TRANSFORM_SETS, 1):
        lines += _ts_lines(f"Transform set #{n}:{ts.name.removeprefix('#!')}", ts) + [""]
    return "\n".join(lines), [_ts_data(t) for t in DEFAULT_TRANSFORM_SETS]


def sa_globals(cfg: Config) -> Out:
    """``show crypto ipsec security-association``: global SA settings."""
    g = cfg.globals
    lines = [
        f"Security association lifetime: {g.sa_lifetime_kilobytes} kilobytes/"
        f"{g.sa_lifetime_seconds} seconds"
    ]
    if g.replay_disabled:
        lines.append("Security association replay: disabled")
    else:
        lines.append(f"Security association replay window size: {g.replay_window}")
    if g.idle_time:
        lines.append(f"Security association idle time: {g.idle_time} seconds")
    data = {
        "lifetime_seconds": g.sa_lifetime_seconds,
        "lifetime_kilobytes": g.sa_lifetime_kilobytes,
        "replay_window": 0 if g.replay_disabled else g.replay_window,
        "idle_time": g.idle_time,
        "df_bit": g.df_bit,
        "fragmentation": g.fragmentation,
    }
    return "\n".join(lines) + "\n", data
