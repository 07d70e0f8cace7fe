"""IOS management-plane commands (seed 001 ch. 4-5): AAA accounting, RADIUS servers,
ISAKMP profiles, IPsec SNMP notifications.  Fills ``Config.mgmt`` (``mgmt_model.py``).

Lines of these families that are not listed here stay "ignored" (outside the
engine's scope), as before: none of these prefixes is strict.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from engine.config.mgmt_model import AccountingList, IsakmpProfile, RadiusServer, SnmpHost

if TYPE_CHECKING:
    from engine.config.ios import Ctx


def _enter(c: Ctx, mode: str, target=None) -> None:
    c.state.mode, c.state.target = mode, target


def _key(text: str | None) -> str | None:
    """``key 0 SECRET`` / ``key SECRET`` → ``SECRET`` (type 7 is kept as given)."""
    if text is None:
        return None
    parts = text.split(None, 1)
    if len(parts) == 2 and parts[0] == "0":
        return parts[1]
    return text


# -- AAA -----------------------------------------------------------------------------------------


def aaa_new_model(c: Ctx) -> None:
    c.cfg.mgmt.aaa_new_model = True


def no_aaa_new_model(c: Ctx) -> None:
    c.cfg.mgmt.aaa_new_model = False


def aaa_accounting_network(c: Ctx) -> None:
    """``aaa accounting network LIST start-stop [broadcast] group radius``
    (seed 001 L1899, L2001)."""
    name = c.m.get("name")
    record = next(w for w in ("start-stop", "stop-only", "none") if c.m.has(w))
    groups = [w for w in (c.m.get("groups") or "").split() if w.lower() != "group"]
    c.cfg.mgmt.accounting_lists[name] = AccountingList(
        name, record, c.m.has("broadcast"), groups
    )


def no_aaa_accounting_network(c: Ctx) -> None:
    c.cfg.mgmt.accounting_lists.pop(c.m.get("name"), None)


def aaa_update_periodic(c: Ctx) -> None:
    """``aaa accounting update [newinfo] periodic N`` (seed 001 L1965: 1-2147483647, minutes)."""
    c.cfg.mgmt.update_periodic = c.m.get("n")
    c.cfg.mgmt.update_newinfo = c.m.has("newinfo")


def no_aaa_update(c: Ctx) -> None:
    c.cfg.mgmt.update_periodic = None
    c.cfg.mgmt.update_newinfo = False


def aaa_session_id(c: Ctx) -> None:
    c.cfg.mgmt.session_id_common = c.m.has("common")


# -- RADIUS --------------------------------------------------------------------------------------


def radius_host(c: Ctx) -> None:
    """``radius-server host A [auth-port P] [acct-port P] [key K]`` (seed 001 L1901, L2094)."""
    m = c.m
    addr = m.get("addr")
    srv = RadiusServer(
        addr,
        m.get("ap") if m.get("ap") is not None else 1645,
        m.get("cp") if m.get("cp") is not None else 1646,
        _key(m.get("key")),
    )
    servers = c.cfg.mgmt.radius_servers
    for i, s in enumerate(servers):
        if s.address == addr and (s.auth_port, s.acct_port) == (srv.auth_port, srv.acct_port):
            servers[i] = srv
            return
    servers.append(srv)


def no_radius_host(c: Ctx) -> None:
    addr = c.m.get("addr")
    c.cfg.mgmt.radius_servers = [s for s in c.cfg.mgmt.radius_servers if s.address != addr]


def radius_key(c: Ctx) -> None:
    c.cfg.mgmt.radius_key = _key(c.m.get("key"))


def radius_retransmit(c: Ctx) -> None:
    c.cfg.mgmt.radius_retransmit = c.m.get("n")


def radius_timeout(c: Ctx) -> None:
    c.cfg.mgmt.radius_timeout = c.m.get("n")


def radius_vsa(c: Ctx) -> None:
    c.cfg.mgmt.radius_vsa_accounting = True


def no_radius_vsa(c: Ctx) -> None:
    c.cfg.mgmt.radius_vsa_accounting = False


# -- ISAKMP profile --------------------------------------------------------------------------


def isakmp_profile(c: Ctx) -> None:
    """``crypto isakmp profile NAME`` → ``Router(conf-isa-prof)#`` (seed 001 L1915)."""
    name = c.m.get("name")
    prof = c.cfg.mgmt.isakmp_profiles.get(name)
    if prof is None:
        prof = c.cfg.mgmt.isakmp_profiles[name] = IsakmpProfile(name)
    _enter(c, "isa-prof", prof)


def no_isakmp_profile(c: Ctx) -> None:
    c.cfg.mgmt.isakmp_profiles.pop(c.m.get("name"), None)


def crypto_map_accounting(c: Ctx) -> None:
    """``crypto map NAME client accounting list L`` (seed 001 L2160)."""
    c.cfg.mgmt.crypto_map_accounting[c.m.get("name")] = c.m.get("l")


def _prof_attr(attr: str, value_from: str):
    def handler(c: Ctx) -> None:
        setattr(c.state.target, attr, c.m.get(value_from))

    return handler


def prof_match_group(c: Ctx) -> None:
    g = c.m.get("g")
    if g not in c.state.target.match_groups:
        c.state.target.match_groups.append(g)


def prof_match_address(c: Ctx) -> None:
    from engine.config.grammar import INVALID
    from engine.config.ios import Reject

    try:
        net = ipaddress.IPv4Network(f"{c.m.get('addr')}/{c.m.get('mask') or '255.255.255.255'}",
                                    strict=False)
    except ValueError:
        raise Reject(INVALID, c.tokens[-1].column) from None
    c.state.target.match_addresses.append(net)
    if c.m.get("vrf") and c.state.target.vrf is None:
        c.state.target.vrf = c.m.get("vrf")


def prof_match_host(c: Ctx) -> None:
    c.state.target.match_hosts.append(c.m.get("h"))


def prof_client_configuration(c: Ctx) -> None:
    c.state.target.client_configuration = next(
        (w for w in ("initiate", "respond") if c.m.has(w)), "respond"
    )


def exit_mode(c: Ctx) -> None:
    _enter(c, "global", None)


# -- SNMP ----------------------------------------------------------------------------------------


def snmp_traps(feature: str):
    """``snmp-server enable traps ipsec cryptomap add`` / ``... isakmp tunnel start`` /
    ``... traps ipsec isakmp`` (seed 001 L1463-1468, L1571)."""

    def handler(c: Ctx) -> None:
        _snmp_traps(c, feature)

    return handler


def _snmp_traps(c: Ctx, feature: str) -> None:
    words = [w.lower() for w in (c.m.get("rest") or "").split()]
    traps = c.cfg.mgmt.snmp_traps
    if feature == "ipsec" and words[:1] == ["isakmp"]:  # bare "ipsec isakmp" form (L1571)
        traps.setdefault("ipsec", [])
        traps.setdefault("isakmp", [])
        return
    cur = traps.setdefault(feature, [])
    if words and " ".join(words) not in cur:
        cur.append(" ".join(words))


def snmp_host(c: Ctx) -> None:
    """``snmp-server host H [vrf V] [traps|informs] [version {1|2c|3}] COMMUNITY
    [udp-port P] [types]``
    (seed 001 L1577; grammar inferred in the spec, 4.2.1)."""
    from engine.config.grammar import INVALID
    from engine.config.ios import Reject

    words = (c.m.get("rest") or "").split()
    informs = False
    version = "1"
    port = 162
    i = 0
    if i < len(words) and words[i].lower() == "vrf":
        i += 2
    if i < len(words) and words[i].lower() in ("traps", "informs"):
        informs = words[i].lower() == "informs"
        i += 1
    if i < len(words) and words[i].lower() == "version":
        if i + 1 >= len(words):
            raise Reject(INVALID, None)
        version = words[i + 1].lower()
        i += 2
    if i >= len(words):
        from engine.config.grammar import INCOMPLETE

        raise Reject(INCOMPLETE, None)
    community = words[i]
    i += 1
    types: list[str] = []
    while i < len(words):
        w = words[i].lower()
        if w == "udp-port" and i + 1 < len(words) and words[i + 1].isdigit():
            port = int(words[i + 1])
            i += 2
            continue
        types.append(w)
        i += 1
    try:
        addr = ipaddress.ip_address(c.m.get("host"))
    except ValueError:
        return  # a host name: nothing to send to in the lab (kept ignored-equivalent)
    c.cfg.mgmt.snmp_hosts.append(SnmpHost(addr, community, version, informs, port, types))


def flowmib_history(c: Ctx) -> None:
    """``crypto mib ipsec flowmib history {tunnel|failure} size N`` (seed 001 L1487, L1504)."""
    attr = "ipsec_history_tunnel_size" if c.m.has("tunnel") else "ipsec_history_failure_size"
    setattr(c.cfg.mgmt, attr, c.m.get("n"))


# -- tables --------------------------------------------------------------------------------------

_ACCT = "aaa accounting network <name:WORD> {start-stop|stop-only|none} [broadcast]"
_RHOST = (
    "radius-server host <addr:IPV4> [auth-port <ap:INT(0-65535)>] [acct-port <cp:INT(0-65535)>]"
)

GLOBAL = [
    ("aaa new-model", aaa_new_model),
    ("no aaa new-model", no_aaa_new_model),
    (_ACCT + " group <groups:LINE>", aaa_accounting_network),
    ("no aaa accounting network <name:WORD> [<_rest:LINE>]", no_aaa_accounting_network),
    ("aaa accounting update [newinfo] periodic <n:INT(1-2147483647)>", aaa_update_periodic),
    ("no aaa accounting update [<_rest:LINE>]", no_aaa_update),
    ("aaa session-id {common|unique}", aaa_session_id),
    (_RHOST + " [key <key:LINE>]", radius_host),
    ("no radius-server host <addr:IPV4> [<_rest:LINE>]", no_radius_host),
    ("radius-server key <key:LINE>", radius_key),
    ("radius-server retransmit <n:INT(0-100)>", radius_retransmit),
    ("radius-server timeout <n:INT(1-1000)>", radius_timeout),
    ("radius-server vsa send accounting", radius_vsa),
    ("no radius-server vsa send accounting", no_radius_vsa),
    ("crypto isakmp profile <name:WORD>", isakmp_profile),
    ("no crypto isakmp profile <name:WORD>", no_isakmp_profile),
    ("crypto map <name:WORD> client accounting list <l:WORD>", crypto_map_accounting),
    ("snmp-server enable traps ipsec [<rest:LINE>]", snmp_traps("ipsec")),
    ("snmp-server enable traps isakmp [<rest:LINE>]", snmp_traps("isakmp")),
    ("snmp-server host <host:WORD> <rest:LINE>", snmp_host),
    ("crypto mib ipsec flowmib history {tunnel|failure} size <n:INT(1-30000)>", flowmib_history),
]

ISA_PROF = [
    ("vrf <v:WORD>", _prof_attr("vrf", "v")),
    ("match identity group <g:WORD>", prof_match_group),
    ("match identity address <addr:IPV4> [<mask:IPV4>] [<vrf:WORD>]", prof_match_address),
    ("match identity host <h:WORD>", prof_match_host),
    ("client authentication list <l:WORD>", _prof_attr("client_authentication", "l")),
    ("isakmp authorization list <l:WORD>", _prof_attr("isakmp_authorization", "l")),
    ("client configuration address [{initiate|respond}]", prof_client_configuration),
    ("accounting <l:WORD>", _prof_attr("accounting", "l")),
    ("keyring <k:WORD>", _prof_attr("keyring", "k")),
    ("description <text:LINE>", _prof_attr("description", "text")),
    ("exit", exit_mode),
]


# -- show running-config -------------------------------------------------------------------------


def running_lines(cfg) -> list[str]:
    """The management-plane part of ``show running-config`` (parses back to the same model)."""
    g = cfg.mgmt
    out: list[str] = []
    if g.aaa_new_model:
        out.append("aaa new-model")
    for a in g.accounting_lists.values():
        groups = "".join(f" group {x}" for x in a.groups)
        out.append(f"aaa accounting network {a.name} {a.record}"
                   f"{' broadcast' if a.broadcast else ''}{groups}")
    if g.update_periodic is not None:
        out.append(f"aaa accounting update {'newinfo ' if g.update_newinfo else ''}"
                   f"periodic {g.update_periodic}")
    if g.session_id_common:
        out.append("aaa session-id common")
    for p in g.isakmp_profiles.values():
        out.append(f"crypto isakmp profile {p.name}")
        if p.vrf:
            out.append(f" vrf {p.vrf}")
        if p.keyring:
            out.append(f" keyring {p.keyring}")
        out += [f" match identity group {x}" for x in p.match_groups]
        out += [f" match identity address {n.network_address} {n.netmask}"
                for n in p.match_addresses]
        out += [f" match identity host {h}" for h in p.match_hosts]
        if p.client_authentication:
            out.append(f" client authentication list {p.client_authentication}")
        if p.isakmp_authorization:
            out.append(f" isakmp authorization list {p.isakmp_authorization}")
        if p.client_configuration:
            out.append(f" client configuration address {p.client_configuration}")
        if p.accounting:
            out.append(f" accounting {p.accounting}")
        if p.description:
            out.append(f" description {p.description}")
    for m, lst in g.crypto_map_accounting.items():
        out.append(f"crypto map {m} client accounting list {lst}")
    if g.ipsec_history_tunnel_size is not None:
        out.append(f"crypto mib ipsec flowmib history tunnel size {g.ipsec_history_tunnel_size}")
    if g.ipsec_history_failure_size is not None:
        out.append(f"crypto mib ipsec flowmib history failure size {g.ipsec_history_failure_size}")
    for s in g.radius_servers:
        key = f" key {s.key}" if s.key is not None else ""
        out.append(f"radius-server host {s.address} auth-port {s.auth_port} "
                   f"acct-port {s.acct_port}{key}")
    if g.radius_key is not None:
        out.append(f"radius-server key {g.radius_key}")
    if g.radius_retransmit != 3:
        out.append(f"radius-server retransmit {g.radius_retransmit}")
    if g.radius_timeout != 5:
        out.append(f"radius-server timeout {g.radius_timeout}")
    if g.radius_vsa_accounting:
        out.append("radius-server vsa send accounting")
    for feature, kws in g.snmp_traps.items():
        out += [f"snmp-server enable traps {feature}{' ' + k if k else ''}" for k in kws or [""]]
    for h in g.snmp_hosts:
        kind = "informs " if h.informs else ""
        port = f" udp-port {h.udp_port}" if h.udp_port != 162 else ""
        types = "".join(f" {t}" for t in h.types)
        out.append(f"snmp-server host {h.address} {kind}version {h.version} {h.community}"
                   f"{port}{types}")
    return out + ["!"] if out else []
