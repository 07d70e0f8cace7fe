"""Device commands (``show crypto ...``) over the runner's live state.

The show formatters and command dispatcher belong to ``engine/show`` (config
helper); this module builds their inputs from the runner (SA database, IKE
SAs, counters) and falls back to a compact IOS-like rendering of its own
while that package is not available.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("engine.views")

INVALID = "% Invalid input detected at '^' marker."


def device_command(runner: Any, cmd: str, want_json: bool) -> dict[str, Any]:
    """Run a device command against ``runner``; reply dict for the control socket."""
    try:
        from engine.show import dispatch  # type: ignore[attr-defined]
    except ImportError:
        dispatch = None
    if dispatch is not None:
        return dispatch(cmd, state_for_show(runner), want_json)
    return _fallback(runner, cmd)


def state_for_show(runner: Any) -> dict[str, Any]:
    """Plain data the show formatters need."""
    return {"config": runner.config, "sadb": runner.sadb, "ike_sas": runner.ike_sas,
            "ike": runner.ike, "now": runner.clock.now(), "stats": runner.stats}


def _fallback(runner: Any, cmd: str) -> dict[str, Any]:
    words = [w.lower() for w in cmd.split()]
    if words[:3] == ["show", "crypto", "ipsec"] and words[3:4] == ["sa"]:
        return _ipsec_sa(runner)
    if words[:4] == ["show", "crypto", "isakmp", "sa"]:
        return _isakmp_sa(runner)
    if words[:3] == ["show", "crypto", "session"]:
        return _session(runner)
    if words[:3] == ["show", "crypto", "map"]:
        return _map(runner)
    caret = " " * len(cmd.split()[0]) if words else ""
    return {"ok": False, "error": f"{cmd}\n{caret}^\n{INVALID}"}


def _ipsec_sa(runner: Any) -> dict[str, Any]:
    lines: list[str] = []
    data = []
    now = runner.clock.now()
    cfg = runner.config
    for e in runner.sadb.entries:
        p = e.pair
        c = e.counters()
        intf = e.interface or "?"
        lines += [f"interface: {intf}",
                  f"    Crypto map tag: {p.crypto_map}, local addr {p.local}", "",
                  f"   protected vrf: (none)",
                  f"   local  ident (addr/mask/prot/port): ({p.local_ts.network.network_address}"
                  f"/{p.local_ts.network.netmask}/{p.local_ts.protocol}/{p.local_ts.port})",
                  f"   remote ident (addr/mask/prot/port): ({p.remote_ts.network.network_address}"
                  f"/{p.remote_ts.network.netmask}/{p.remote_ts.protocol}/{p.remote_ts.port})",
                  f"   current_peer {p.peer} port {p.udp_encap[1] if p.udp_encap else 500}",
                  f"     PERMIT, flags={{origin_is_acl,}}",
                  f"    #pkts encaps: {c['encaps']}, #pkts encrypt: {c['encrypt']}, "
                  f"#pkts digest: {c['digest']}",
                  f"    #pkts decaps: {c['decaps']}, #pkts decrypt: {c['decrypt']}, "
                  f"#pkts verify: {c['verify']}",
                  "    #pkts compressed: 0, #pkts decompressed: 0",
                  "    #pkts not compressed: 0, #pkts compr. failed: 0",
                  "    #pkts not decompressed: 0, #pkts decompress failed: 0",
                  f"    #send errors {c['send_errors']}, #recv errors {c['recv_errors']}", "",
                  f"     local crypto endpt.: {p.local}, remote crypto endpt.: {p.peer}",
                  f"     current outbound spi: 0x{e.spi_out:X}({e.spi_out})", ""]
        remaining = max(0, int(e.hard_seconds - now))
        kb_left = max(0, int(p.lifetime_kilobytes - e.kb_used()))
        for direction, params in (("inbound", e.params_in), ("outbound", e.params_out)):
            for proto in ("esp", "ah"):
                lines.append(f"     {direction} {proto} sas:")
                for sp in params:
                    if sp.proto != proto:
                        continue
                    transform = f"{sp.proto}-{sp.encr} {sp.proto}-{sp.integ}" \
                        if proto == "esp" else f"ah-{sp.integ}"
                    mode = "Tunnel" if sp.mode == "tunnel" else "Transport"
                    if sp.udp_encap:
                        mode += " UDP-Encaps"
                    lines += [f"      spi: 0x{sp.spi:X}({sp.spi})",
                              f"        transform: {transform} ,",
                              f"        in use settings ={{{mode}, }}",
                              f"        conn id: {p.conn_id}, crypto map: {p.crypto_map}",
                              f"        sa timing: remaining key lifetime (k/sec): "
                              f"({kb_left}/{remaining})",
                              "        IV size: 16 bytes" if proto == "esp" else "",
                              "        replay detection support: Y", "        Status: ACTIVE", ""]
                    lines = [x for x in lines if x != "" or True]
            lines.append("")
        data.append({"interface": intf, "crypto_map": p.crypto_map, "peer": p.peer,
                     "local": p.local, "local_ident": str(p.local_ts.network),
                     "remote_ident": str(p.remote_ts.network), "mode": p.mode,
                     "spi_in": e.spi_in, "spi_out": e.spi_out,
                     "inbound": [sp.export("in") | {"remaining_seconds": remaining}
                                 for sp in e.params_in],
                     "outbound": [sp.export("out") for sp in e.params_out],
                     "udp_encap": list(p.udp_encap) if p.udp_encap else None,
                     "pfs_group": p.pfs_group, "transform_set": p.transform_set,
                     **c})
    for k in data:
        for sp in k["inbound"] + k["outbound"]:
            sp.pop("encr_key", None)
            sp.pop("integ_key", None)
    _ = cfg
    return {"ok": True, "output": "\n".join(lines), "data": data}


def _isakmp_sa(runner: Any) -> dict[str, Any]:
    lines = ["IPv4 Crypto ISAKMP SA", "dst             src             state          conn-id status"]
    data = []
    for ev in runner.ike_sas.values():
        dst, src = (ev.peer[0], ev.local[0]) if ev.initiator else (ev.local[0], ev.peer[0])
        state = "QM_IDLE" if ev.mode == "main" else "QM_IDLE"
        lines.append(f"{dst:<15} {src:<15} {state:<14} {ev.conn_id:>7} ACTIVE")
        data.append({"dst": dst, "src": src, "state": state, "conn_id": ev.conn_id,
                     "status": "ACTIVE", "mode": ev.mode, "nat_t": ev.nat_t,
                     "encryption": ev.encryption, "hash": ev.hash, "group": ev.group})
    lines += ["", "IPv6 Crypto ISAKMP SA", ""]
    return {"ok": True, "output": "\n".join(lines), "data": data}


def _session(runner: Any) -> dict[str, Any]:
    lines = ["Crypto session current status", ""]
    data = []
    peers = sorted({e.pair.peer for e in runner.sadb.entries}
                   | {ev.peer[0] for ev in runner.ike_sas.values()})
    for peer in peers:
        entries = [e for e in runner.sadb.entries if e.pair.peer == peer]
        ikes = [ev for ev in runner.ike_sas.values() if ev.peer[0] == peer]
        intf = entries[0].interface if entries else "?"
        status = "UP-ACTIVE" if entries and ikes else ("UP-NO-IKE" if entries else "UP-IDLE")
        port = ikes[0].peer[1] if ikes else 500
        lines += [f"Interface: {intf}", f"Session status: {status}",
                  f"Peer: {peer} port {port}"]
        for ev in ikes:
            lines.append(f"  IKEv1 SA: local {ev.local[0]}/{ev.local[1]} remote "
                         f"{ev.peer[0]}/{ev.peer[1]} Active")
        for e in entries:
            lines.append(f"  IPSEC FLOW: permit {e.pair.local_ts.protocol} "
                         f"{e.pair.local_ts.network} {e.pair.remote_ts.network}")
            lines.append(f"        Active SAs: {2 * len(e.params_in)}, origin: crypto map")
        lines.append("")
        data.append({"peer": peer, "interface": intf, "status": status,
                     "ike_sas": len(ikes), "ipsec_sas": len(entries)})
    return {"ok": True, "output": "\n".join(lines), "data": data}


def _map(runner: Any) -> dict[str, Any]:
    cfg = runner.config
    lines: list[str] = []
    data = []
    for name, cmap in cfg.crypto_maps.items():
        for entry in cmap.ordered():
            secs, kbs = cfg.entry_lifetime(entry)
            lines += [f'Crypto Map "{name}" {entry.seq} {entry.kind}',
                      f"        Peer = {', '.join(str(p) for p in entry.peers)}",
                      f"        Extended IP access list {entry.match_address}"]
            acl = cfg.access_lists.get(entry.match_address or "")
            for ace in acl.entries if acl else []:
                lines.append(f"            {ace.text or ace.action}")
            peers = {e.pair.peer for e in runner.sadb.entries
                     if e.pair.crypto_map == name and e.pair.crypto_map_seq == entry.seq}
            lines += [f"        Current peer: {', '.join(sorted(peers)) or (str(entry.peers[0]) if entry.peers else '')}",
                      f"        Security association lifetime: {kbs} kilobytes/{secs} seconds",
                      f"        PFS (Y/N): {'Y' if entry.pfs_group else 'N'}",
                      f"        Transform sets={{ {', '.join(f'{t}, ' for t in entry.transform_sets)}}}",
                      ""]
            data.append({"map": name, "seq": entry.seq, "peers": [str(p) for p in entry.peers],
                         "match_address": entry.match_address, "pfs": entry.pfs_group,
                         "lifetime_seconds": secs, "lifetime_kilobytes": kbs,
                         "transform_sets": entry.transform_sets})
    ifs = [i.name for i in cfg.interfaces.values() if i.crypto_map]
    if ifs:
        lines.append(f"        Interfaces using crypto map: {' '.join(ifs)}")
    return {"ok": True, "output": "\n".join(lines), "data": data}
