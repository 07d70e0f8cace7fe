"""IOS command tables: per mode, ``(pattern, handler)`` pairs plus "strict" prefixes.

A line whose beginning matches a strict prefix of its mode must parse (else
it is an error); other unknown lines are outside the engine's scope and are
ignored.  Handlers raise ``Reject`` before changing anything.

Ranges are those the seeds give (seed 000 L2087-2144 keepalive 10-3600/2-60,
L2989 NAT keepalive 5-3600, L3798 idle time 60-86400) or IOS's own.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING

from engine.config import ios_mgmt
from engine.config.grammar import INCOMPLETE, INVALID
from engine.config.ios_acl import (
    ACE_EXT,
    ACE_STD,
    ACE_V6,
    acl_remark,
    named_ace,
    named_acl,
    no_acl,
    numbered_acl,
)
from engine.config.model import (
    CryptoMap,
    CryptoMapEntry,
    CryptoPeer,
    Interface,
    IsakmpKey,
    IsakmpPeer,
    IsakmpPolicy,
    Keepalive,
    Route,
    TransformSet,
)

if TYPE_CHECKING:
    from engine.config.ios import Ctx


def _reject(message: str, column: int | None = None):
    from engine.config.ios import Reject

    return Reject(message, column)


def _enter(c: Ctx, mode: str, target=None) -> None:
    c.state.mode, c.state.target = mode, target


# -- global: ISAKMP ------------------------------------------------------------------------------


def isakmp_policy(c: Ctx) -> None:
    prio = c.m.get("prio")
    pol = c.cfg.policy(prio)
    if pol is None:
        pol = IsakmpPolicy(prio)
        c.cfg.isakmp_policies.append(pol)
    _enter(c, "isakmp", pol)


def no_isakmp_policy(c: Ctx) -> None:
    c.cfg.isakmp_policies = [p for p in c.cfg.isakmp_policies if p.priority != c.m.get("prio")]


def isakmp_key(c: Ctx) -> None:
    m = c.m
    if m.get("addr") is not None:
        mask = m.get("mask")
        try:
            net = ipaddress.IPv4Network(
                f"{m.get('addr')}/{mask or '255.255.255.255'}", strict=False
            )
        except ValueError:
            raise _reject(INVALID, c.tokens[-1].column) from None
        key = IsakmpKey(m.get("key"), address=net)
    elif m.get("addr6") is not None:
        key = IsakmpKey(m.get("key"), address=m.get("addr6").network)
    else:
        key = IsakmpKey(m.get("key"), hostname=m.get("host"))
    key.encrypted = m.has("6")
    key.no_xauth = m.has("no-xauth")
    keys = [k for k in c.cfg.isakmp_keys if (k.address, k.hostname) != (key.address, key.hostname)]
    c.cfg.isakmp_keys = keys + [key]


def no_isakmp_key(c: Ctx) -> None:
    addr = c.m.get("addr")
    c.cfg.isakmp_keys = [
        k
        for k in c.cfg.isakmp_keys
        if not (k.key == c.m.get("key") and (addr is None or (k.address and addr in k.address)))
    ]


def keepalive(c: Ctx) -> None:
    mode = "periodic" if c.m.has("periodic") else "on-demand"
    c.cfg.globals.keepalive = Keepalive(c.m.get("seconds"), c.m.get("retry") or 2, mode)


def set_global(attr: str, value_from: str | None = None, value=None):
    def handler(c: Ctx) -> None:
        v = c.m.get(value_from) if value_from else value
        setattr(c.cfg.globals, attr, v)

    return handler


def isakmp_identity(c: Ctx) -> None:
    for w in ("address", "hostname", "dn"):
        if c.m.has(w):
            c.cfg.globals.isakmp_identity = w


def isakmp_peer(c: Ctx) -> None:
    m = c.m
    addr = m.get("addr") or (m.get("addr6").ip if m.get("addr6") is not None else None)
    for p in c.cfg.isakmp_peers:
        if (addr is not None and p.address == addr) or (
            m.get("host") and p.hostname == m.get("host")
        ):
            _enter(c, "peer", p)
            return
    peer = IsakmpPeer(address=addr, hostname=m.get("host"))
    c.cfg.isakmp_peers.append(peer)
    _enter(c, "peer", peer)


def keyring(c: Ctx) -> None:
    _enter(c, "keyring", c.m.get("name"))


def keyring_psk(c: Ctx) -> None:
    m = c.m
    if m.get("host"):
        key = IsakmpKey(m.get("key"), hostname=m.get("host"))
    elif m.get("a6") is not None:
        key = IsakmpKey(m.get("key"), address=m.get("a6").network)
    else:
        net = ipaddress.IPv4Network(
            f"{m.get('addr')}/{m.get('mask') or '255.255.255.255'}", strict=False
        )
        key = IsakmpKey(m.get("key"), address=net)
    c.cfg.isakmp_keys.append(key)


# -- global: IPsec -------------------------------------------------------------------------------

_TRANSFORM_WORDS = (
    "esp-des",
    "esp-3des",
    "esp-aes",
    "esp-gcm",
    "esp-gmac",
    "esp-null",
    "esp-seal",
    "esp-md5-hmac",
    "esp-sha-hmac",
    "esp-sha256-hmac",
    "esp-sha384-hmac",
    "esp-sha512-hmac",
    "ah-md5-hmac",
    "ah-sha-hmac",
    "ah-sha256-hmac",
    "ah-sha384-hmac",
    "ah-sha512-hmac",
    "comp-lzs",
)


def _transform_category(word: str) -> str:
    if word.startswith("ah-"):
        return "ah"
    if word == "comp-lzs":
        return "comp"
    if word.endswith("-hmac"):
        return "esp-integ"
    return "esp-encr"


def parse_transforms(c: Ctx, first: int) -> TransformSet:
    """Transforms from token ``first`` on; errors carry the caret column."""
    from engine.crypto.algorithms import UnknownAlgorithm, ios_transform

    ts = TransformSet(c.m.get("name"))
    seen: set[str] = set()
    i = first
    toks = c.tokens
    if i >= len(toks):
        raise _reject(INCOMPLETE)
    while i < len(toks):
        tok = toks[i]
        t = tok.text.lower()
        hits = [w for w in _TRANSFORM_WORDS if w.startswith(t)]
        word = t if t in _TRANSFORM_WORDS else (hits[0] if len(hits) == 1 else None)
        cat = _transform_category(word) if word else None
        if word is None or cat in seen:
            raise _reject(INVALID, tok.column)
        seen.add(cat)
        bits = None
        if word in ("esp-aes", "esp-gcm") and i + 1 < len(toks) and toks[i + 1].text.isdigit():
            bits = int(toks[i + 1].text)
            if bits not in (128, 192, 256):
                raise _reject(INVALID, toks[i + 1].column)
            i += 1
        i += 1
        ts.transforms.append(word if bits is None else f"{word} {bits}")
        if cat == "comp":
            ts.compression = word
            continue
        try:
            alg = ios_transform(word, bits)
        except UnknownAlgorithm:
            # Known to IOS but not implemented by the engine (esp-gmac, esp-seal): keep the name.
            alg = None
        name = alg.algorithm if alg is not None else word
        if cat == "ah":
            ts.ah_integ = name
        elif cat == "esp-integ":
            ts.esp_integ = name
        else:
            ts.esp_encr = name
    if "esp-encr" not in seen and "esp-integ" not in seen and "ah" not in seen:
        raise _reject(INCOMPLETE)
    if ts.esp_encr and ts.esp_encr.endswith("gcm16") and ts.esp_integ:
        # RFC 4106: AES-GCM is combined mode; IOS refuses an HMAC with it.
        raise _reject(INVALID, toks[-1].column)
    return ts


def transform_set(c: Ctx) -> None:
    ts = parse_transforms(c, 4)
    old = c.cfg.transform_sets.get(ts.name)
    if old is not None:
        ts.mode = old.mode
    c.cfg.transform_sets[ts.name] = ts
    _enter(c, "trans", ts)


def no_transform_set(c: Ctx) -> None:
    c.cfg.transform_sets.pop(c.m.get("name"), None)


def replay_window(c: Ctx) -> None:
    g = c.cfg.globals
    g.replay_window = _window(c)
    g.replay_disabled = False


def _window(c: Ctx) -> int:
    for n in (64, 128, 256, 512, 1024):
        if c.m.has(str(n)):
            return n
    return 64


def replay_disable(c: Ctx) -> None:
    c.cfg.globals.replay_disabled = True


def sa_lifetime(c: Ctx) -> None:
    if c.m.get("s") is not None:
        c.cfg.globals.sa_lifetime_seconds = c.m.get("s")
    else:
        c.cfg.globals.sa_lifetime_kilobytes = c.m.get("kb")


def df_bit_global(c: Ctx) -> None:
    c.cfg.globals.df_bit = _one_of(c, ("clear", "set", "copy"))


def frag_global(c: Ctx) -> None:
    c.cfg.globals.fragmentation = _one_of(c, ("before-encryption", "after-encryption"))


def _one_of(c: Ctx, words: tuple[str, ...]) -> str:
    for w in words:
        if c.m.has(w):
            return w
    raise _reject(INCOMPLETE)


def ipsec_profile(c: Ctx) -> None:
    name = c.m.get("name")
    prof = c.cfg.ipsec_profiles.setdefault(name, CryptoMapEntry(seq=0, description=None))
    _enter(c, "profile", prof)


def crypto_map(c: Ctx) -> None:
    name, seq = c.m.get("name"), c.m.get("seq")
    cmap = c.cfg.crypto_maps.get(name)
    kind = "ipsec-manual" if c.m.has("ipsec-manual") else "ipsec-isakmp"
    if cmap is not None and seq in cmap.entries:
        entry = cmap.entries[seq]
        if entry.kind != kind and (c.m.has("ipsec-manual") or c.m.has("ipsec-isakmp")):
            # IOS refuses to change the type of an existing entry.
            raise _reject(INVALID, c.tokens[-1].column)
    else:
        entry = CryptoMapEntry(seq=seq, kind=kind, dynamic_map=c.m.get("dyn"))
        if cmap is None:
            cmap = c.cfg.crypto_maps[name] = CryptoMap(name)
        cmap.entries[seq] = entry
    cmap.ipv6 = cmap.ipv6 or c.m.has("ipv6")
    _enter(c, "map", entry)


def dynamic_map(c: Ctx) -> None:
    name, seq = c.m.get("name"), c.m.get("seq")
    dmap = c.cfg.dynamic_maps.setdefault(name, CryptoMap(name))
    entry = dmap.entries.setdefault(seq, CryptoMapEntry(seq=seq))
    _enter(c, "map", entry)


def no_dynamic_map(c: Ctx) -> None:
    name, seq = c.m.get("name"), c.m.get("seq")
    if seq is None:
        c.cfg.dynamic_maps.pop(name, None)
    elif name in c.cfg.dynamic_maps:
        c.cfg.dynamic_maps[name].entries.pop(seq, None)


def crypto_map_local(c: Ctx) -> None:
    cmap = c.cfg.crypto_maps.setdefault(c.m.get("name"), CryptoMap(c.m.get("name")))
    cmap.local_address = c.m.get("ifname")


def no_crypto_map(c: Ctx) -> None:
    name, seq = c.m.get("name"), c.m.get("seq")
    if seq is None:
        c.cfg.crypto_maps.pop(name, None)
    elif name in c.cfg.crypto_maps:
        c.cfg.crypto_maps[name].entries.pop(seq, None)


def ignored_block(c: Ctx) -> None:
    """Crypto features outside the engine (Easy VPN client, PKI, ISAKMP profiles)."""
    c.cfg.ignored.append(_line(c, "global"))
    _enter(c, "block", None)


def ignored_line(c: Ctx) -> None:
    c.cfg.ignored.append(_line(c, c.state.mode))


def _line(c: Ctx, mode: str):
    from engine.config.model import ConfigLine

    return ConfigLine(c.state.file, c.state.line, c.line, mode)


# -- routes, interfaces, misc --------------------------------------------------------------------


def ip_route(c: Ctx) -> None:
    m = c.m
    try:
        prefix = ipaddress.IPv4Network(f"{m.get('prefix')}/{m.get('mask')}", strict=False)
    except ValueError:
        raise _reject(INVALID, c.tokens[3].column) from None
    # IOS stores the masked prefix (``ip route 10.3.3.3 255.0.0.0`` -> 10.0.0.0/8).
    c.cfg.routes.append(Route(prefix, m.get("nh"), m.get("intf"), m.get("dist") or 1, m.get("vrf")))


def ipv6_route(c: Ctx) -> None:
    m = c.m
    c.cfg.routes.append(
        Route(m.get("prefix").network, m.get("nh"), m.get("intf"), m.get("dist") or 1)
    )


def hostname(c: Ctx) -> None:
    c.cfg.globals.hostname = c.m.get("name")


def end(c: Ctx) -> None:
    c.state.ended = True
    _enter(c, "exec", None)


def exit_mode(c: Ctx) -> None:
    _enter(c, "global", None)


#: IOS interface type names, for canonical spelling (``interface gi0/1``, ``tunnel 0``).
IF_TYPES = (
    "FastEthernet",
    "GigabitEthernet",
    "TenGigabitEthernet",
    "Ethernet",
    "Serial",
    "Tunnel",
    "Loopback",
    "Virtual-Template",
    "Dialer",
    "Vlan",
    "Port-channel",
    "ATM",
    "Cellular",
)


def canonical_interface(name: str) -> str:
    """IOS spelling of an interface name: ``fastethernet0/0`` → ``FastEthernet0/0``.

    An abbreviation must be a unique prefix of a type (``gi``, ``fa``, ``tu``);
    unknown types are returned unchanged.
    """
    m = re.match(r"^([A-Za-z-]+)(.*)$", name)
    if not m:
        return name
    word, rest = m.group(1).lower(), m.group(2)
    hits = [t for t in IF_TYPES if t.lower().startswith(word)]
    exact = [t for t in IF_TYPES if t.lower() == word]
    if exact:
        return exact[0] + rest
    return hits[0] + rest if len(hits) == 1 else name


def interface(c: Ctx) -> None:
    name = canonical_interface(c.m.get("name") + (c.m.get("sub") or ""))
    intf = c.cfg.interfaces.get(name)
    if intf is None:
        intf = c.cfg.interfaces[name] = Interface(name)
    _enter(c, "if", intf)


def if_attr(attr: str, value_from: str | None = None, value=None, words: tuple[str, ...] = ()):
    def handler(c: Ctx) -> None:
        if words:
            v = _one_of(c, words)
        else:
            v = c.m.get(value_from) if value_from else value
        setattr(c.state.target, attr, v)

    return handler


def if_ip_address(c: Ctx) -> None:
    try:
        a = ipaddress.IPv4Interface(f"{c.m.get('a')}/{c.m.get('m')}")
    except ValueError:
        raise _reject(INVALID, c.tokens[3].column) from None
    intf: Interface = c.state.target
    if c.m.has("secondary"):
        intf.addresses.append(a)
    else:
        intf.addresses = [a] + intf.addresses[1:]


def if_no_ip_address(c: Ctx) -> None:
    c.state.target.addresses = []


def if_ipv6_address(c: Ctx) -> None:
    a = c.m.get("a")
    if "/" not in c.tokens[2].text:
        raise _reject(INVALID, c.tokens[2].column)
    intf: Interface = c.state.target
    if a not in intf.addresses_v6:
        intf.addresses_v6.append(a)
    if c.m.has("eui-64") and a.network not in intf.eui64:
        intf.eui64.append(a.network)


def if_tunnel(key: str):
    def handler(c: Ctx) -> None:
        c.state.target.tunnel[key] = c.m.get("v")
        if key == "protection" and c.m.has("shared"):
            c.state.target.tunnel["shared"] = "shared"

    return handler


def if_no_tunnel(key: str):
    def handler(c: Ctx) -> None:
        c.state.target.tunnel.pop(key, None)
        c.state.target.tunnel.pop("shared", None)

    return handler


def llq_qos_group(c: Ctx) -> None:
    groups = c.cfg.globals.llq_qos_groups
    if c.m.get("g") not in groups:
        groups.append(c.m.get("g"))


# -- crypto map / profile entries --------------------------------------------------------------


def set_peer(c: Ctx) -> None:
    m = c.m
    entry: CryptoMapEntry = c.state.target
    addr = m.get("addr")
    if addr is None and m.get("a6") is not None:
        addr = m.get("a6").ip  # ``set peer 2001:DB8:FFFF:1::E/64`` (seed 000 L4415): prefix dropped
    peer = CryptoPeer(
        address=addr, hostname=m.get("host"), default=m.has("default"), dynamic=m.has("dynamic")
    )
    if peer.default and any(p.default for p in entry.peers if str(p) != str(peer)):
        # Only one default peer per crypto map entry (seed 004 L32).
        raise _reject(INVALID, c.tokens[-1].column)
    if peer.default and entry.peers and str(entry.peers[0]) != str(peer):
        # The default peer must be the first peer in the list (seed 004 L33).
        raise _reject(INVALID, c.tokens[-1].column)
    entry.peers = [p for p in entry.peers if str(p) != str(peer)]
    if peer.default:
        entry.peers.insert(0, peer)  # the default peer is the first peer (seed 004 L30)
    else:
        entry.peers.append(peer)


def set_transform_set(c: Ctx) -> None:
    names = c.m.get("names").split()
    if len(names) > 6:
        raise _reject(INVALID, c.tokens[2 + 6].column)
    if c.state.repairing:
        # While undoing PDF artefacts, a name that is no transform set means the
        # words belong to the next command (IOS itself refuses unknown sets).
        for i, n in enumerate(names):
            if n not in c.cfg.transform_sets:
                raise _reject(INVALID, c.tokens[2 + i].column)
    c.state.target.transform_sets = names


def set_pfs(c: Ctx) -> None:
    group = 1  # ``set pfs`` alone: group 1 (IOS default)
    for g in (1, 2, 5, 14, 15, 16, 19, 20, 21, 24):
        if c.m.has(f"group{g}"):
            group = g
    c.state.target.pfs_group = group


def set_sa_lifetime(c: Ctx) -> None:
    e = c.state.target
    if c.m.get("s") is not None:
        e.lifetime_seconds = c.m.get("s")
    elif c.m.get("kb") is not None:
        e.lifetime_kilobytes = c.m.get("kb")


def set_replay(c: Ctx) -> None:
    e: CryptoMapEntry = c.state.target
    if c.m.has("disable"):
        e.replay_disabled, e.replay_window = True, None
    else:
        e.replay_disabled, e.replay_window = False, _window(c)


def set_idletime(c: Ctx) -> None:
    e: CryptoMapEntry = c.state.target
    if c.m.get("s") == c.cfg.globals.idle_time:
        return  # equal to the global idle timer: not added to the map (seed 004 L38)
    e.idletime = c.m.get("s")
    e.idletime_default = c.m.has("default")


def entry_attr(attr: str, value_from: str | None = None, value=None):
    def handler(c: Ctx) -> None:
        setattr(c.state.target, attr, c.m.get(value_from) if value_from else value)

    return handler


# -- ISAKMP policy mode -------------------------------------------------------------------------


def pol_encryption(c: Ctx) -> None:
    pol: IsakmpPolicy = c.state.target
    for w in ("3des", "des", "aes"):
        if c.m.has(w):
            pol.encryption = w
    pol.key_length = None
    for bits in (128, 192, 256):
        if c.m.has(str(bits)) or c.m.has(f"aes{bits}"):
            pol.encryption, pol.key_length = "aes", bits
    if pol.encryption == "aes" and pol.key_length is None:
        pol.key_length = 128


def pol_hash(c: Ctx) -> None:
    c.state.target.hash = _one_of(c, ("sha256", "sha384", "sha512", "sha", "md5"))


def pol_auth(c: Ctx) -> None:
    c.state.target.authentication = _one_of(c, ("pre-share", "rsa-sig", "rsa-encr"))


def pol_group(c: Ctx) -> None:
    for g in (1, 2, 5, 14, 15, 16, 19, 20, 21, 24):
        if c.m.has(str(g)):
            c.state.target.group = g


def trans_mode(c: Ctx) -> None:
    c.state.target.mode = _one_of(c, ("tunnel", "transport"))


# -- tables --------------------------------------------------------------------------------------

_KEY = "crypto isakmp key [{0|6}] <key:WORD>"
_MAPHEAD = "<name:WORD> <seq:INT(1-65535)> [{ipsec-isakmp [dynamic <dyn:WORD>]|ipsec-manual}]"
_WIN = "window-size [{64|128|256|512|1024}]"

GLOBAL = [
    ("crypto isakmp policy <prio:INT(1-10000)>", isakmp_policy),
    (_KEY + " address <addr:IPV4> [<mask:IPV4>] [no-xauth]", isakmp_key),
    (_KEY + " address ipv6 <addr6:IPV6ADDR> [no-xauth]", isakmp_key),
    (_KEY + " hostname <host:HOSTNAME> [no-xauth]", isakmp_key),
    (
        "crypto isakmp keepalive <seconds:INT(10-3600)> [<retry:INT(2-60)>] [{periodic|on-demand}]",
        keepalive,
    ),
    ("crypto isakmp nat keepalive <s:INT(5-3600)>", set_global("nat_keepalive", "s")),
    ("crypto isakmp invalid-spi-recovery", set_global("invalid_spi_recovery", value=True)),
    ("crypto isakmp identity {address|hostname|dn}", isakmp_identity),
    (
        "crypto isakmp aggressive-mode disable",
        set_global("isakmp_aggressive_mode_disabled", value=True),
    ),
    ("crypto isakmp enable", set_global("isakmp_enabled", value=True)),
    (
        "crypto isakmp peer {address <addr:IPV4>|address ipv6 <addr6:IPV6ADDR>"
        "|hostname <host:WORD>}",
        isakmp_peer,
    ),
    *ios_mgmt.GLOBAL,  # AAA, RADIUS, ISAKMP profiles, SNMP (seed 001 ch. 4-5)
    ("crypto keyring <name:WORD> [vrf <vrf:WORD>]", keyring),
    ("crypto ipsec transform-set <name:WORD> <t:LINE>", transform_set),
    ("crypto ipsec security-association replay " + _WIN, replay_window),
    ("crypto ipsec security-association replay disable", replay_disable),
    (
        "crypto ipsec security-association lifetime "
        "{seconds <s:INT(120-86400)>|kilobytes <kb:INT(2560-4294967295)>}",
        sa_lifetime,
    ),
    ("crypto ipsec security-association idle-time <s:INT(60-86400)>", set_global("idle_time", "s")),
    ("crypto ipsec df-bit {clear|set|copy}", df_bit_global),
    ("crypto ipsec fragmentation {before-encryption|after-encryption}", frag_global),
    ("crypto ipsec nat-transparency udp-encapsulation", set_global("nat_transparency", value=True)),
    ("crypto ipsec profile <name:WORD>", ipsec_profile),
    ("crypto ipsec client ezvpn <name:WORD>", ignored_block),
    ("crypto map ipv6 " + _MAPHEAD, crypto_map),
    ("crypto map " + _MAPHEAD, crypto_map),
    ("crypto map <name:WORD> local-address <ifname:WORD>", crypto_map_local),
    # Easy VPN / AAA (seed 001 ch. 5): outside the engine, recorded as ignored.
    ("crypto map <name:WORD> client authentication list <l:WORD>", ignored_line),
    ("crypto map <name:WORD> client configuration address {initiate|respond}", ignored_line),
    ("crypto map <name:WORD> isakmp authorization list <l:WORD>", ignored_line),
    ("crypto isakmp client configuration group <g:WORD>", ignored_block),
    ("crypto {mib|engine|logging|call|ca|pki|ikev2|gdoi|vpn} <rest:LINE>", ignored_line),
    ("no crypto isakmp keepalive", set_global("keepalive", value=None)),
    ("no crypto isakmp nat keepalive", set_global("nat_keepalive", value=None)),
    ("no crypto isakmp invalid-spi-recovery", set_global("invalid_spi_recovery", value=False)),
    ("no crypto isakmp enable", set_global("isakmp_enabled", value=False)),
    ("crypto isakmp default policy", set_global("default_policies_enabled", value=True)),
    ("no crypto isakmp default policy", set_global("default_policies_enabled", value=False)),
    (
        "crypto ipsec default transform-set",
        set_global("default_transform_sets_enabled", value=True),
    ),
    (
        "no crypto ipsec default transform-set",
        set_global("default_transform_sets_enabled", value=False),
    ),
    ("no crypto isakmp policy <prio:INT(1-10000)>", no_isakmp_policy),
    ("no crypto isakmp key <key:WORD> address <addr:IPV4> [<mask:IPV4>]", no_isakmp_key),
    (
        "no crypto ipsec nat-transparency udp-encapsulation",
        set_global("nat_transparency", value=False),
    ),
    ("no crypto ipsec df-bit", set_global("df_bit", value="copy")),
    ("no crypto ipsec security-association replay " + _WIN, set_global("replay_window", value=64)),
    (
        "no crypto ipsec security-association replay disable",
        set_global("replay_disabled", value=False),
    ),
    ("no crypto ipsec security-association idle-time", set_global("idle_time", value=None)),
    ("no crypto ipsec transform-set <name:WORD>", no_transform_set),
    ("no crypto map <name:WORD> [<seq:INT(1-65535)>]", no_crypto_map),
    ("access-list <num:INT(1-2699)> remark <text:LINE>", acl_remark),
    ("access-list <num:INT(100-199)> [dynamic <dn:WORD>] " + ACE_EXT, numbered_acl),
    ("access-list <num:INT(2000-2699)> " + ACE_EXT, numbered_acl),
    ("access-list <num:INT(1-99)> " + ACE_STD, numbered_acl),
    ("access-list <num:INT(1300-1999)> " + ACE_STD, numbered_acl),
    ("no access-list <num:INT(1-2699)>", no_acl),
    ("ip access-list extended <name:WORD>", named_acl(False, "acl")),
    ("ip access-list standard <name:WORD>", named_acl(False, "acl-std")),
    ("ipv6 access-list <name:WORD>", named_acl(True, "acl6")),
    (
        "ip route [vrf <vrf:WORD>] <prefix:IPV4> <mask:IPV4> {<nh:IPV4>|<intf:WORD> [<nh:IPV4>]} "
        "[<dist:INT(1-255)>] [name <rname:WORD>] [permanent] [tag <tag:INT>]",
        ip_route,
    ),
    (
        "ipv6 route <prefix:IPV6PFX> {<nh:IPV6>|<intf:WORD> [<nh:IPV6>]} [<dist:INT(1-254)>]",
        ipv6_route,
    ),
    ("interface <name:WORD> [{point-to-point|multipoint}]", interface),
    ("interface <name:WORD> <sub:WORD> [{point-to-point|multipoint}]", interface),
    ("crypto dynamic-map <name:WORD> <seq:INT(1-65535)>", dynamic_map),
    ("no crypto dynamic-map <name:WORD> [<seq:INT(1-65535)>]", no_dynamic_map),
    ("hostname <name:WORD>", hostname),
    ("ipv6 unicast-routing", set_global("ipv6_unicast_routing", value=True)),
    ("no ipv6 unicast-routing", set_global("ipv6_unicast_routing", value=False)),
    ("platform ipsec llq qos-group <g:INT(1-99)>", llq_qos_group),
    ("end", end),
    ("exit", exit_mode),
]
GLOBAL_STRICT = [
    "crypto",
    "interface",
    "access-list",
    "hostname",
    "ip route",
    "ip access-list",
    "ipv6 route",
    "ipv6 access-list",
    "no crypto",
    "no access-list",
    "platform ipsec llq",
]

ISAKMP = [
    ("encryption {des|3des|aes [{128|192|256}]|aes192|aes256}", pol_encryption),
    ("hash {sha|md5|sha256|sha384|sha512}", pol_hash),
    ("authentication {pre-share|rsa-sig|rsa-encr}", pol_auth),
    ("group {1|2|5|14|15|16|19|20|21|24}", pol_group),
    ("lifetime <s:INT(60-86400)>", entry_attr("lifetime", "s")),
    ("exit", exit_mode),
]

TRANS = [("mode {tunnel|transport}", trans_mode), ("exit", exit_mode)]

_PEER = (
    "set peer {<addr:IPV4> [default]|<a6:IPV6ADDR> [default]|address <a6:IPV6ADDR> [default]"
    "|<host:HOSTNAME> [dynamic] [default]}"
)
_SA = "set security-association"
MAP = [
    (_PEER, set_peer),
    ("set transform-set <names:LINE>", set_transform_set),
    ("match address <acl:WORD>", entry_attr("match_address", "acl")),
    (
        "set pfs [{group1|group2|group5|group14|group15|group16|group19|group20|group21|group24}]",
        set_pfs,
    ),
    ("no set pfs", entry_attr("pfs_group", value=None)),
    (
        _SA + " lifetime {seconds <s:INT(120-86400)>|kilobytes <kb:INT(2560-4294967295)>}",
        set_sa_lifetime,
    ),
    (_SA + " replay {" + _WIN + "|disable}", set_replay),
    (_SA + " {idletime|idle-time} <s:INT(60-86400)> [default]", set_idletime),
    ("set isakmp-profile <p:WORD>", entry_attr("isakmp_profile", "p")),
    ("set df-bit {clear|set|copy}", if_attr("df_bit", words=("clear", "set", "copy"))),
    ("description <text:LINE>", entry_attr("description", "text")),
    ("reverse-route [static]", entry_attr("reverse_route", value=True)),
    ("qos pre-classify", entry_attr("qos_pre_classify", value=True)),
    ("no qos pre-classify", entry_attr("qos_pre_classify", value=False)),
    ("exit", exit_mode),
]
PROFILE = [
    c
    for c in MAP
    if c[0].startswith(("set transform-set", "set pfs", _SA, "set isakmp", "description", "exit"))
]


def _peer_am(attr: str, value_from: str):
    def handler(c: Ctx) -> None:
        peer: IsakmpPeer = c.state.target
        setattr(peer, attr, c.m.get(value_from))
        peer.aggressive_mode = True

    return handler


PEER = [
    ("set aggressive-mode client-endpoint <id:LINE>", _peer_am("aggressive_client_endpoint", "id")),
    ("set aggressive-mode password <pw:WORD>", _peer_am("aggressive_password", "pw")),
    ("description <text:LINE>", entry_attr("description", "text")),
    ("exit", exit_mode),
]

IF = [
    ("ip address <a:IPV4> <m:IPV4> [secondary]", if_ip_address),
    ("no ip address", if_no_ip_address),
    ("ipv6 address <a:IPV6ADDR> [{eui-64|link-local|anycast}]", if_ipv6_address),
    ("crypto map <name:WORD> [redundancy [<r:WORD>]]", if_attr("crypto_map", "name")),
    ("no crypto map [<name:WORD>]", if_attr("crypto_map", value=None)),
    ("ipv6 crypto map <name:WORD>", if_attr("crypto_map_v6", "name")),
    ("crypto ipsec df-bit {clear|set|copy}", if_attr("df_bit", words=("clear", "set", "copy"))),
    (
        "crypto ipsec fragmentation {before-encryption|after-encryption}",
        if_attr("fragmentation", words=("before-encryption", "after-encryption")),
    ),
    ("ip vrf forwarding <vrf:WORD>", if_attr("vrf", "vrf")),
    ("crypto ipsec client ezvpn <n:WORD> [{inside|outside}]", ignored_line),
    ("shutdown", if_attr("shutdown", value=True)),
    ("no shutdown", if_attr("shutdown", value=False)),
    ("description <text:LINE>", if_attr("description", "text")),
    ("mtu <n:INT(64-18000)>", if_attr("mtu", "n")),
    ("ip mtu <n:INT(68-18000)>", if_attr("ip_mtu", "n")),
    ("tunnel source <v:WORD>", if_tunnel("source")),
    ("tunnel destination <v:WORD>", if_tunnel("destination")),
    ("tunnel mode <v:LINE>", if_tunnel("mode")),
    ("tunnel protection ipsec profile <v:WORD> [shared]", if_tunnel("protection")),
    ("no tunnel protection ipsec profile [<v:WORD>]", if_no_tunnel("protection")),
    ("ipv6 mtu <n:INT(1280-65535)>", if_attr("ipv6_mtu", "n")),
    ("ipv6 enable", if_attr("ipv6_enable", value=True)),
    ("qos pre-classify", if_attr("qos_pre_classify", value=True)),
    ("no qos pre-classify", if_attr("qos_pre_classify", value=False)),
    ("exit", exit_mode),
]
IF_STRICT = [
    "ip address",
    "ipv6 address",
    "crypto map",
    "ipv6 crypto map",
    "crypto ipsec df-bit",
    "crypto ipsec fragmentation",
    "tunnel protection",
]

ACL = [
    ("[<seq:INT(1-2147483647)>] " + ACE_EXT, named_ace()),
    ("remark <text:LINE>", acl_remark),
    ("exit", exit_mode),
]
ACL_STD = [
    ("[<seq:INT(1-2147483647)>] " + ACE_STD, named_ace(standard=True)),
    ("remark <text:LINE>", acl_remark),
    ("exit", exit_mode),
]
ACL6 = [
    ("[sequence <seq:INT(1-4294967295)>] " + ACE_V6, named_ace(v6=True)),
    ("remark <text:LINE>", acl_remark),
    ("exit", exit_mode),
]

KEYRING = [
    ("pre-shared-key address <addr:IPV4> [<mask:IPV4>] key <key:WORD>", keyring_psk),
    ("pre-shared-key hostname <host:WORD> key <key:WORD>", keyring_psk),
    ("pre-shared-key ipv6 <a6:IPV6ADDR> key <key:WORD>", keyring_psk),
    ("exit", exit_mode),
]

#: mode -> (commands, strict prefixes)
TABLES: dict[str, tuple[list, list[str]]] = {
    "global": (GLOBAL, GLOBAL_STRICT),
    "isakmp": (ISAKMP, []),
    "trans": (TRANS, []),
    "map": (MAP, []),
    "profile": (PROFILE, []),
    "peer": (PEER, []),
    "if": (IF, IF_STRICT),
    "acl": (ACL, []),
    "acl-std": (ACL_STD, []),
    "acl6": (ACL6, []),
    "keyring": (KEYRING, ["pre-shared-key"]),
    "block": ([("exit", exit_mode)], []),
    "isa-prof": (ios_mgmt.ISA_PROF, []),
}
