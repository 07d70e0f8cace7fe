"""Build ``ShowState`` views from the runner's live objects.

The runner passes ``{"config", "sadb", "ike_sas", "now", ...}``
(``engine/dataplane/views.state_for_show``): ``sadb.entries`` are
``engine.sadb.SaEntry`` (``pair: IpsecSaPair``, ``params_in/params_out``,
``inbound/outbound`` SAs with ``counters``), ``ike_sas`` maps cookies to
``engine.ike.events.IkeSaUp``.  Attributes are read defensively so that a
missing field degrades one value, never the whole command.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from engine.config.model import Config
from engine.show.views import (
    Ident,
    IpsecCounters,
    IpsecFlowView,
    IpsecSaEntryView,
    IsakmpSaView,
    ShowState,
)

_IOS_ENC = {"des": "des", "3des": "3des", "aes128": "aes", "aes192": "aes192", "aes256": "aes256"}
_IOS_HASH = {
    "sha1": "sha",
    "md5": "md5",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
}


def _ident(ts: Any) -> Ident:
    net = getattr(ts, "network", None)
    if net is None:
        return Ident("0.0.0.0", "0.0.0.0")
    net = ipaddress.ip_network(net)
    mask = str(net.netmask) if net.version == 4 else str(net.prefixlen)
    return Ident(
        str(net.network_address),
        mask,
        int(getattr(ts, "protocol", 0) or 0),
        int(getattr(ts, "port", 0) or 0),
    )


def _transform(keys: Any) -> str:
    from engine.crypto.algorithms import UnknownAlgorithm, ios_transform_keyword

    proto = getattr(keys, "proto", "esp")
    words = []
    for algo in (getattr(keys, "encr", None), getattr(keys, "integ", None)):
        if not algo:
            continue
        try:
            words.append(ios_transform_keyword(algo, proto))
        except UnknownAlgorithm:
            words.append(f"{proto}-{algo}")
    return " ".join(words)


def _iv_size(keys: Any) -> int | None:
    if getattr(keys, "proto", "esp") != "esp":
        return None
    try:
        from engine.crypto.algorithms import cipher

        return cipher(keys.encr).iv_len if keys.encr else 0
    except Exception:  # unknown algorithm name: leave the line out
        return None


def _flow(cfg: Config, entry: Any, now: float, conn_base: int) -> IpsecFlowView:
    p = entry.pair
    c = entry.counters() if hasattr(entry, "counters") else {}
    intf = getattr(entry, "interface", None) or ""
    udp = getattr(p, "udp_encap", None)
    remaining = max(0, int(getattr(entry, "hard_seconds", now) - now))
    kb_used = entry.kb_used() if hasattr(entry, "kb_used") else 0
    kb_left = max(0, int(getattr(p, "lifetime_kilobytes", 0) - kb_used))
    window = getattr(entry, "replay_window", 64)
    flow = IpsecFlowView(
        interface=intf,
        crypto_map=p.crypto_map or "",
        seq=p.crypto_map_seq or 0,
        local_addr=p.local,
        local_ident=_ident(p.local_ts),
        remote_ident=_ident(p.remote_ts),
        current_peer=p.peer,
        peer_port=udp[1] if udp else 500,
        counters=IpsecCounters(
            encaps=c.get("encaps", 0),
            encrypt=c.get("encrypt", 0),
            digest=c.get("digest", 0),
            decaps=c.get("decaps", 0),
            decrypt=c.get("decrypt", 0),
            verify=c.get("verify", 0),
            send_errors=c.get("send_errors", 0),
            recv_errors=c.get("recv_errors", 0),
            replay_failed_recv=c.get("replay_failures", 0),
            verify_failed=c.get("auth_failures", 0),
        ),
        local_endpoint=p.local,
        remote_endpoint=p.peer,
        nat_t_ports=tuple(udp) if udp else None,
    )
    conn = conn_base
    for direction, keys_list in (("in", p.inbound), ("out", p.outbound)):
        for k in keys_list:
            conn += 1
            sa = IpsecSaEntryView(
                spi=k.spi,
                proto=k.proto,
                direction=direction,
                transform=_transform(k),
                mode=p.mode,
                udp_encap=bool(udp),
                conn_id=conn,
                flow_id=p.conn_id * 2 + (1 if direction == "out" else 0) if p.conn_id else 0,
                crypto_map=p.crypto_map or "",
                remaining_kb=kb_left,
                remaining_sec=remaining,
                iv_size=_iv_size(k),
                replay_detection=window != 0,
                replay_window=window,
            )
            getattr(flow, f"{'inbound' if direction == 'in' else 'outbound'}_{k.proto}").append(sa)
    return flow


def _isakmp(ev: Any, now: float) -> IsakmpSaView:
    local, peer = tuple(ev.local), tuple(ev.peer)
    # seed 000 L1119-1131, L1314, L1379: each router prints dst = remote peer,
    # src = its own address, whichever side initiated.
    dst, src = peer[0], local[0]
    created = getattr(ev, "created", 0.0) or 0.0
    caps = "N" if getattr(ev, "nat_t", False) else ""
    return IsakmpSaView(
        dst=dst,
        src=src,
        state="QM_IDLE",
        conn_id=ev.conn_id,
        local=local[0],
        remote=peer[0],
        local_port=local[1],
        remote_port=peer[1],
        encryption=_IOS_ENC.get(ev.encryption, ev.encryption),
        hash=_IOS_HASH.get(ev.hash, ev.hash),
        auth="psk" if ev.auth in ("psk", "pre-share") else ev.auth,
        group=ev.group,
        lifetime_remaining=max(0.0, created + ev.lifetime - now),
        capabilities=caps,
        mode=ev.mode,
        initiator=ev.initiator,
        peer_id=getattr(ev, "peer_id", "") or peer[0],
    )


def _isakmp_live(sa: Any, now: float) -> IsakmpSaView:
    """View of a live ``engine.ike.sa.IsakmpSa`` (any state, not only established)."""
    local, peer = tuple(sa.local), tuple(sa.peer)
    dst, src = peer[0], local[0]  # seed 000 L1119-1131 (see _isakmp)
    prop = getattr(sa, "proposal", None)
    caps = ("D" if getattr(sa, "dpd_supported", False) else "") + (
        "N" if getattr(sa, "nat_detected", False) else ""
    )
    expires = getattr(sa, "expires_at", None)
    return IsakmpSaView(
        dst=dst,
        src=src,
        state=sa.ios_state,
        conn_id=sa.conn_id,
        local=local[0],
        remote=peer[0],
        local_port=local[1],
        remote_port=peer[1],
        status="DELETED" if getattr(sa, "deleted", False) else "ACTIVE",
        encryption=_IOS_ENC.get(prop.cipher, prop.cipher) if prop else "",
        hash=_IOS_HASH.get(prop.prf, prop.prf) if prop else "",
        auth="psk" if prop and prop.auth in ("psk", "pre-share") else (prop.auth if prop else ""),
        group=prop.group if prop else 0,
        lifetime_remaining=max(0.0, expires - now) if expires else 0.0,
        capabilities=caps,
        mode=sa.mode,
        initiator=sa.initiator,
        peer_id=getattr(sa, "peer_id", "") or peer[0],
    )


def views_from_runner(d: dict[str, Any]) -> ShowState:
    """``ShowState`` from the runner's state dict (see module doc)."""
    cfg: Config = d.get("config") or Config()
    now = float(d.get("now", 0.0))
    state = ShowState(now=now, hostname=cfg.globals.hostname)
    sadb = d.get("sadb")
    for n, entry in enumerate(getattr(sadb, "entries", []) or []):
        if getattr(entry, "dead", False):
            continue
        state.ipsec_flows.append(_flow(cfg, entry, now, 5120 + 4 * n))
    ike = d.get("ike")
    live = getattr(ike, "isakmp_sas", None)
    if callable(live):
        # The IKE engine knows SAs in negotiation and deleted ones too (MM_NO_STATE ...).
        state.isakmp_sas = [_isakmp_live(sa, now) for sa in live()]
    else:
        state.isakmp_sas = [_isakmp(ev, now) for ev in (d.get("ike_sas") or {}).values()]
    for flow in state.ipsec_flows:
        if flow.crypto_map:
            state.current_peers.setdefault(f"{flow.crypto_map}/{flow.seq}", flow.current_peer)
    table = getattr(ike, "peers", None)  # crypto map peer lists (engine/ike/peers.py)
    if table is not None and hasattr(table, "current_peers"):
        for key, cur in table.current_peers().items():
            state.current_peers.setdefault(key, cur)
    _add_idle_flows(cfg, state)
    return state


def _add_idle_flows(cfg: Config, state: ShowState) -> None:
    """IOS lists each applied crypto map entry even without SAs (all counters 0)."""
    have = {(f.interface, f.crypto_map, f.seq) for f in state.ipsec_flows}
    for sel in cfg.protected_selectors():
        key = (sel.interface.name, sel.crypto_map.name, sel.entry.seq)
        if key in have or not sel.entry.peers:
            continue
        have.add(key)
        local = sel.interface.primary
        net_l, net_r = sel.ace.src, sel.ace.dst
        state.ipsec_flows.append(
            IpsecFlowView(
                interface=sel.interface.name,
                crypto_map=sel.crypto_map.name,
                seq=sel.entry.seq,
                local_addr=str(local.ip) if local else "",
                local_ident=Ident(str(net_l.network_address), str(net_l.netmask), sel.protocol),
                remote_ident=Ident(str(net_r.network_address), str(net_r.netmask), sel.protocol),
                current_peer=state.current_peers.get(
                    f"{sel.crypto_map.name}/{sel.entry.seq}", str(sel.entry.peers[0])
                ),
            )
        )
