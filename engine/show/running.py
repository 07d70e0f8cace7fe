"""``show running-config``: the configuration model rendered back as IOS text.

Only what the engine models is printed (ignored lines are not kept).  The
order follows IOS: hostname, ISAKMP, IPsec globals, transform sets, profiles,
crypto maps, interfaces, routes, access lists.  Defaults are not printed
(``on-demand`` keepalive, ``mode tunnel``, seed 000 L2087-2144 notes).
Parsing the output again gives the same model (tested).
"""

from __future__ import annotations

from engine.config import ios_mgmt
from engine.config.model import Ace, Config, CryptoMapEntry
from engine.show.ios import ace_text


def _mask(n) -> str:
    return f"{n.network_address} {n.netmask}"


def _policy(cfg: Config) -> list[str]:
    out = []
    for p in cfg.sorted_policies():
        out.append(f"crypto isakmp policy {p.priority}")
        if p.encryption != "des":
            enc = (
                p.encryption
                if p.encryption != "aes" or p.key_length in (None, 128)
                else f"aes {p.key_length}"
            )
            out.append(f" encr {enc}")
        if p.hash != "sha":
            out.append(f" hash {p.hash}")
        if p.authentication != "rsa-sig":
            out.append(f" authentication {p.authentication}")
        if p.group != 1:
            out.append(f" group {p.group}")
        if p.lifetime != 86400:
            out.append(f" lifetime {p.lifetime}")
    return out


def _isakmp_globals(cfg: Config) -> list[str]:
    g = cfg.globals
    out = []
    for k in cfg.isakmp_keys:
        if k.hostname is not None:
            where = f"hostname {k.hostname}"
        elif k.address is not None and k.address.version == 6:
            where = f"address ipv6 {k.address}"
        elif k.address is not None and k.address.prefixlen == 32:
            where = f"address {k.address.network_address}"
        else:
            where = f"address {_mask(k.address)}"
        out.append(
            f"crypto isakmp key {'6 ' if k.encrypted else ''}{k.key} {where}"
            + (" no-xauth" if k.no_xauth else "")
        )
    if g.invalid_spi_recovery:
        out.append("crypto isakmp invalid-spi-recovery")
    if g.keepalive is not None:
        ka = g.keepalive
        out.append(
            f"crypto isakmp keepalive {ka.seconds} {ka.retry}"
            + (" periodic" if ka.mode == "periodic" else "")
        )
    if g.nat_keepalive is not None:
        out.append(f"crypto isakmp nat keepalive {g.nat_keepalive}")
    if g.isakmp_identity != "address":
        out.append(f"crypto isakmp identity {g.isakmp_identity}")
    if g.isakmp_aggressive_mode_disabled:
        out.append("crypto isakmp aggressive-mode disable")
    if not g.default_policies_enabled:
        out.append("no crypto isakmp default policy")
    for p in cfg.isakmp_peers:
        head = f"address {p.address}" if p.address is not None else f"hostname {p.hostname}"
        if p.address is not None and p.address.version == 6:
            head = f"address ipv6 {p.address}"
        out.append(f"crypto isakmp peer {head}")
        if p.aggressive_client_endpoint:
            out.append(f" set aggressive-mode client-endpoint {p.aggressive_client_endpoint}")
        if p.aggressive_password:
            out.append(f" set aggressive-mode password {p.aggressive_password}")
        if p.description:
            out.append(f" description {p.description}")
    return out


def _ipsec_globals(cfg: Config) -> list[str]:
    g = cfg.globals
    out = []
    if g.sa_lifetime_seconds != 3600:
        out.append(f"crypto ipsec security-association lifetime seconds {g.sa_lifetime_seconds}")
    if g.sa_lifetime_kilobytes != 4608000:
        out.append(
            f"crypto ipsec security-association lifetime kilobytes {g.sa_lifetime_kilobytes}"
        )
    if g.replay_disabled:
        out.append("crypto ipsec security-association replay disable")
    elif g.replay_window != 64:
        out.append(f"crypto ipsec security-association replay window-size {g.replay_window}")
    if g.idle_time is not None:
        out.append(f"crypto ipsec security-association idle-time {g.idle_time}")
    if g.df_bit != "copy":
        out.append(f"crypto ipsec df-bit {g.df_bit}")
    if g.fragmentation != "before-encryption":
        out.append(f"crypto ipsec fragmentation {g.fragmentation}")
    if not g.nat_transparency:
        out.append("no crypto ipsec nat-transparency udp-encapsulation")
    if not g.default_transform_sets_enabled:
        out.append("no crypto ipsec default transform-set")
    for ts in cfg.transform_sets.values():
        out.append(f"crypto ipsec transform-set {ts.name} {' '.join(ts.transforms)}")
        if ts.mode == "transport":
            out.append(" mode transport")
    return out


def _entry_body(cfg: Config, e: CryptoMapEntry) -> list[str]:
    out = []
    if e.description:
        out.append(f" description {e.description}")
    for p in e.peers:
        word = str(p)
        if p.address is not None and p.address.version == 6:
            word = f"address {p.address}"
        out.append(
            f" set peer {word}"
            + (" dynamic" if p.dynamic else "")
            + (" default" if p.default else "")
        )
    if e.lifetime_seconds is not None:
        out.append(f" set security-association lifetime seconds {e.lifetime_seconds}")
    if e.lifetime_kilobytes is not None:
        out.append(f" set security-association lifetime kilobytes {e.lifetime_kilobytes}")
    if e.replay_disabled:
        out.append(" set security-association replay disable")
    elif e.replay_window is not None:
        out.append(f" set security-association replay window-size {e.replay_window}")
    if e.idletime is not None:
        out.append(
            f" set security-association idletime {e.idletime}"
            + (" default" if e.idletime_default else "")
        )
    if e.transform_sets:
        out.append(f" set transform-set {' '.join(e.transform_sets)}")
    if e.pfs_group is not None:
        out.append(f" set pfs group{e.pfs_group}")
    if e.isakmp_profile:
        out.append(f" set isakmp-profile {e.isakmp_profile}")
    if e.match_address:
        out.append(f" match address {e.match_address}")
    if e.reverse_route:
        out.append(" reverse-route")
    if e.qos_pre_classify:
        out.append(" qos pre-classify")
    return out


def _maps(cfg: Config) -> list[str]:
    out = []
    for name, prof in cfg.ipsec_profiles.items():
        out += [f"crypto ipsec profile {name}"] + _entry_body(cfg, prof) + ["!"]
    for name, dmap in cfg.dynamic_maps.items():
        for e in dmap.ordered():
            out += [f"crypto dynamic-map {name} {e.seq}"] + _entry_body(cfg, e) + ["!"]
    for name, cmap in cfg.crypto_maps.items():
        if cmap.local_address:
            out.append(f"crypto map {name} local-address {cmap.local_address}")
        for e in cmap.ordered():
            v6 = "ipv6 " if cmap.ipv6 else ""
            dyn = f" dynamic {e.dynamic_map}" if e.dynamic_map else ""
            out += [f"crypto map {v6}{name} {e.seq} {e.kind}{dyn}"] + _entry_body(cfg, e) + ["!"]
    return out


def _interfaces(cfg: Config) -> list[str]:
    out = []
    for intf in cfg.interfaces.values():
        out.append(f"interface {intf.name}")
        if intf.description:
            out.append(f" description {intf.description}")
        if intf.vrf:
            out.append(f" ip vrf forwarding {intf.vrf}")
        for n, a in enumerate(intf.addresses):
            out.append(f" ip address {a.ip} {a.netmask}" + (" secondary" if n else ""))
        if not intf.addresses:
            out.append(" no ip address")
        for a in intf.addresses_v6:
            eui = " eui-64" if a.network in intf.eui64 else ""
            out.append(f" ipv6 address {a}{eui}")
        if intf.ipv6_enable:
            out.append(" ipv6 enable")
        if intf.ipv6_mtu is not None:
            out.append(f" ipv6 mtu {intf.ipv6_mtu}")
        if intf.qos_pre_classify:
            out.append(" qos pre-classify")
        if intf.mtu is not None:
            out.append(f" mtu {intf.mtu}")
        if intf.ip_mtu is not None:
            out.append(f" ip mtu {intf.ip_mtu}")
        for key in ("source", "destination", "mode"):
            if key in intf.tunnel:
                out.append(f" tunnel {key} {intf.tunnel[key]}")
        if "protection" in intf.tunnel:
            shared = " shared" if "shared" in intf.tunnel else ""
            out.append(f" tunnel protection ipsec profile {intf.tunnel['protection']}{shared}")
        if intf.shutdown:
            out.append(" shutdown")
        if intf.crypto_map:
            out.append(f" crypto map {intf.crypto_map}")
        if intf.crypto_map_v6:
            out.append(f" ipv6 crypto map {intf.crypto_map_v6}")
        if intf.df_bit:
            out.append(f" crypto ipsec df-bit {intf.df_bit}")
        if intf.fragmentation:
            out.append(f" crypto ipsec fragmentation {intf.fragmentation}")
        out.append("!")
    return out


def _routes(cfg: Config) -> list[str]:
    out = []
    for r in cfg.routes:
        vrf = f"vrf {r.vrf} " if r.vrf else ""
        dest = " ".join(x for x in (r.interface, str(r.next_hop) if r.next_hop else None) if x)
        dist = f" {r.distance}" if r.distance != 1 else ""
        if r.prefix.version == 6:
            out.append(f"ipv6 route {r.prefix} {dest}{dist}")
        else:
            out.append(f"ip route {vrf}{_mask(r.prefix)} {dest}{dist}")
    return out


def _acls(cfg: Config) -> list[str]:
    out = []
    for name, acl in cfg.access_lists.items():
        if acl.ipv6:
            out.append(f"ipv6 access-list {name}")
            out += [f" {ace_text(a)}" for a in acl.entries]
        elif name.isdigit():
            standard = int(name) < 100 or 1300 <= int(name) <= 1999
            out += [
                f"access-list {name} {_std(a) if standard else ace_text(a)}" for a in acl.entries
            ]
            out += [f"access-list {name} remark {r}" for r in acl.remarks]
            continue
        else:
            out.append(f"ip access-list extended {name}")
            out += [f" {ace_text(a)}" for a in acl.entries]
        out += [f" remark {r}" for r in acl.remarks]
    return out


def _std(a: Ace) -> str:
    src = ace_text(a).split(" ", 2)[2].rsplit(" any", 1)[0]
    return f"{a.action} {src}"


def running_config(cfg: Config) -> tuple[str, dict]:
    """Text of ``show running-config`` and a JSON summary."""
    body = [
        "Building configuration...",
        "",
        "Current configuration:",
        "!",
        f"hostname {cfg.globals.hostname}",
        "!",
        *_policy(cfg),
        *_isakmp_globals(cfg),
        "!",
        *_ipsec_globals(cfg),
        "!",
        *_maps(cfg),
        *ios_mgmt.running_lines(cfg),
        *(["ipv6 unicast-routing"] if cfg.globals.ipv6_unicast_routing else []),
        *[f"platform ipsec llq qos-group {g}" for g in cfg.globals.llq_qos_groups],
        *_interfaces(cfg),
        *_routes(cfg),
        "!",
        *_acls(cfg),
        "!",
        "end",
    ]
    return "\n".join(body) + "\n", {
        "errors": [str(e) for e in cfg.errors],
        "ignored": len(cfg.ignored),
    }
