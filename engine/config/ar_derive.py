"""AR570S objects (``Config.ar``) → the shared model IKE and the runner read.

Mapping (seed 002; see spec/seed002-a-ar-overview.md §1.3-1.9):

* ISAKMP policy ``name`` (PEER, KEY, ENCALG, HASHALG, GROUP, EXPIRYSECONDS,
  MODE) → one ``IsakmpPolicy`` (priority = creation order, pre-shared key
  authentication by default, L2613), one ``IsakmpKey`` (the ENCO key's value
  for that peer, ``0.0.0.0/0`` for PEER=ANY, the REMOTEID as an identity key
  for PEER=ANY + REMOTEID in Aggressive Mode) and, for MODE=AGGRESSIVE with a
  fixed peer, an ``IsakmpPeer`` with ``aggressive_mode`` sending LOCALID.
* SA specs + bundle spec → transform sets ``bundle<id>-<n>``: one per
  comma candidate and per OR choice, AND-ed specs combined (ESP + AH) in one
  set, offered in the bundle string's order (L2083-2103).
* IPsec policies of an interface, in lookup order, → crypto map ``<interface>``
  with one entry per ACTION=IPSEC policy (seq = 10 × position).  The entry's
  ACL ``ar-<policy>`` first *denies* the selectors of every PERMIT/DENY policy
  before it (first match wins, L147-151, L747-749: such traffic is not this
  entry's) and then permits the policy's own selectors.  PEER=DYNAMIC/ANY
  becomes a dynamic map ``ar-dyn-<policy>`` (responder only, L593-597).
* The SPD itself (PERMIT = bypass, DENY = drop, implicit deny-all at the end
  once an interface has a policy, L736-753) is answered by ``spd_lookup``.
* ENABLE IPSEC / ENABLE ISAKMP (L391-411): no crypto maps are applied while
  the IPsec module is disabled; ``Globals.isakmp_enabled`` follows ISAKMP.
* AR defaults: bundle lifetime 28800 s, unlimited kbytes (L2105-2115); NAT-T
  off unless a policy sets NATTRAVERSAL (L1142-1144); DPDMODE=BOTH → idle-
  based (IOS "periodic") DPD after DPDIDLETIMEOUT (L2631-2643).
"""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass

from engine.config.ar_model import ArIpsecPolicy, ArIsakmpPolicy, ArState, BundleSpec
from engine.config.model import (
    AccessList,
    Ace,
    Config,
    CryptoMap,
    CryptoMapEntry,
    CryptoPeer,
    Interface,
    IpNetwork,
    IsakmpKey,
    IsakmpPeer,
    IsakmpPolicy,
    Keepalive,
    PortMatch,
    TransformSet,
)

#: "Unlimited" kilobyte lifetime (EXPIRYKBYTES default, L2105-2109): the
#: largest value a 4-byte SA Life Duration carries.
UNLIMITED_KB = 2**32 - 1

#: AR ENCALG → (IOS encryption word, AES key bits) for ``IsakmpPolicy``.
_IKE_ENC = {
    "DES": ("des", None),
    "3DESOUTER": ("3des", None),
    "AES128": ("aes", 128),
    "AES192": ("aes", 192),
    "AES256": ("aes", 256),
}
#: AR ENCALG / HASHALG → ``engine/crypto/algorithms.py`` names (ESP/AH).
_ESP_ENC = {"DES": "des", "3DESOUTER": "3des", "AES128": "aes128", "AES192": "aes192",
            "AES256": "aes256", "NULL": "null"}  # fmt: skip
_INTEG = {"SHA": "hmac-sha1-96", "MD5": "hmac-md5-96"}
#: IOS transform words for show output of the derived transform sets.
_IOS_ENC = {"DES": "esp-des", "3DESOUTER": "esp-3des", "AES128": "esp-aes",
            "AES192": "esp-aes 192", "AES256": "esp-aes 256", "NULL": "esp-null"}  # fmt: skip
_IOS_ESP_HASH = {"SHA": "esp-sha-hmac", "MD5": "esp-md5-hmac"}
_IOS_AH_HASH = {"SHA": "ah-sha-hmac", "MD5": "ah-md5-hmac"}
_PROTO = {"ESP": 50, "GRE": 47, "ICMP": 1, "OSPF": 89, "RSVP": 46, "TCP": 6, "UDP": 17}


def derive(cfg: Config) -> None:
    """Rebuild every derived part of ``cfg`` from ``cfg.ar`` (in place)."""
    ar: ArState = cfg.ar
    cfg.dialect = "ar"
    cfg.isakmp_policies = []
    cfg.isakmp_keys = []
    cfg.isakmp_peers = []
    cfg.transform_sets = {}
    cfg.access_lists = {}
    cfg.crypto_maps = {}
    cfg.dynamic_maps = {}
    for intf in cfg.interfaces.values():
        intf.crypto_map = None
    g = cfg.globals
    g.isakmp_enabled = ar.isakmp_enabled
    g.default_policies_enabled = False
    g.default_transform_sets_enabled = False
    g.sa_lifetime_seconds = 28800
    g.sa_lifetime_kilobytes = UNLIMITED_KB
    g.df_bit = "clear"  # DFBIT default CLEAR (L2275-2285)
    g.nat_transparency = any(p.natt for p in ar.isakmp_policies)
    g.keepalive = None
    _isakmp(cfg, ar)
    for bundle in ar.bundles.values():
        for ts in bundle_transform_sets(ar, bundle):
            cfg.transform_sets[ts.name] = ts
    if ar.ipsec_enabled:
        for ifname in ar.interfaces():
            _crypto_map(cfg, ar, ifname)


def _isakmp(cfg: Config, ar: ArState) -> None:
    for prio, p in enumerate(ar.isakmp_policies, start=1):
        enc, bits = _IKE_ENC[p.encalg]
        cfg.isakmp_policies.append(IsakmpPolicy(
            prio, enc, bits, p.hashalg.lower(),
            "pre-share" if p.authtype == "PRESHARED" else "rsa-sig",
            p.group if p.group in (1, 2) else 1,  # group 0 (512-bit) has no engine group
            p.expiry_seconds,
            None if p.peer == "ANY" else p.peer,
        ))  # fmt: skip
        key = ar.enco_keys.get(p.key) if p.key is not None else None
        addr: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
        host = None
        if p.peer == "ANY":
            addr = ipaddress.ip_network("0.0.0.0/0")
        else:
            try:
                addr = ipaddress.ip_network(p.peer)
            except ValueError:
                host = p.peer
        if key is not None:
            if p.peer == "ANY" and p.remoteid and p.mode == "AGGRESSIVE":
                # ID authentication (L1016-1020): the key belongs to the peer whose
                # Aggressive Mode ID payload equals REMOTEID, whatever its address.
                cfg.isakmp_keys.append(IsakmpKey(key.psk, None, p.remoteid))
            else:
                cfg.isakmp_keys.append(IsakmpKey(key.psk, addr, host))
        if p.mode == "AGGRESSIVE" and p.peer != "ANY":
            # LOCALID = own ID payload, default the own address (L1030-1036)
            cfg.isakmp_peers.append(IsakmpPeer(
                address=addr.network_address if addr is not None else None,
                hostname=host, aggressive_mode=True, description=p.name,
                aggressive_client_endpoint=p.localid,
            ))  # fmt: skip
        if p.dpdmode == "BOTH" and cfg.globals.keepalive is None:
            # traffic-based: every encrypted packet received restarts dpdidletimer, and
            # R-U-THERE goes out when it expires (L1538-1544, L1588-1602) = IOS "periodic"
            cfg.globals.keepalive = Keepalive(
                p.dpdidletimeout, p.msgtimeout, "periodic", dpd_schedule(p)
            )


def dpd_schedule(p: ArIsakmpPolicy) -> tuple[float, ...]:
    """R-U-THERE send times after the first one, then the Delete time (L1640-1691).

    Default timers give the document's figure: #0 at 0, #1 at 20 (DPDIDLETIMEOUT), then
    MSGTIMEOUT x 1, 2, 4, 6 ... 14 apart (MSGBACKOFF=INCREMENTAL, MSGRETRYLIMIT=8 more
    messages) and Delete MSGTIMEOUT x 16 after #9: 0, 20, 24, 32, 48, 72, 104, 144, 192,
    248, Delete at 312 s.  MSGBACKOFF=NONE keeps MSGTIMEOUT between all of them
    (L2718-2728).  The mapping of the figure to the parameters is inferred (spec §6 #6).
    """
    times = [0.0, float(p.dpdidletimeout)]
    mult = 1
    for _ in range(p.msgretrylimit):
        times.append(times[-1] + p.msgtimeout * (mult if p.msgbackoff == "INCREMENTAL" else 1))
        mult = 2 if mult == 1 else mult + 2
    times.append(times[-1] + p.msgtimeout * (mult if p.msgbackoff == "INCREMENTAL" else 1))
    return tuple(times)


def bundle_transform_sets(ar: ArState, bundle: BundleSpec) -> list[TransformSet]:
    """Transform sets of a bundle, in proposal order (L2083-2103)."""
    out: list[TransformSet] = []
    n = 0
    for cand in bundle.candidates:
        for choice in itertools.product(*cand):
            n += 1
            specs = [ar.saspecs[i] for i in choice if i in ar.saspecs]
            ts = TransformSet(f"bundle{bundle.id}-{n}")
            for s in specs:
                if s.mode == "TRANSPORT":
                    ts.mode = "transport"
                if s.protocol == "ESP":
                    ts.esp_encr = _ESP_ENC.get(s.encalg or "NULL", "null")
                    ts.esp_integ = _INTEG.get(s.hashalg or "NULL")
                    ts.transforms.append(_IOS_ENC.get(s.encalg or "NULL", "esp-null"))
                    if s.hashalg in _IOS_ESP_HASH:
                        ts.transforms.append(_IOS_ESP_HASH[s.hashalg])
                else:
                    ts.ah_integ = _INTEG.get(s.hashalg or "SHA")
                    ts.transforms.insert(0, _IOS_AH_HASH.get(s.hashalg or "SHA", "ah-sha-hmac"))
            out.append(ts)
    return out


# ------------------------------------------------------------------ selectors


def _networks(address: str, mask: str | None, version: int = 4) -> list[IpNetwork]:
    """LADDRESS/RADDRESS (+ mask, default host mask, L624-626) → networks."""
    if address == "ANY":
        return [ipaddress.ip_network("::/0" if version == 6 else "0.0.0.0/0")]
    lo, sep, hi = address.partition("-")
    if sep:
        a, b = ipaddress.ip_address(lo), ipaddress.ip_address(hi)
        return list(ipaddress.summarize_address_range(a, b))  # type: ignore[arg-type]
    if "/" in address:
        return [ipaddress.ip_network(address, strict=False)]
    if ":" in address:
        return [ipaddress.ip_network(f"{address}/128")]
    return [ipaddress.ip_network(f"{address}/{mask or '255.255.255.255'}", strict=False)]


def _port(p: str) -> PortMatch | None:
    return None if p == "ANY" else PortMatch("eq", int(p))


def _protocol(t: str) -> int | None:
    if t == "ANY":
        return None
    return int(t) if t.isdigit() else _PROTO[t]


def policy_aces(pol: ArIpsecPolicy, action: str) -> list[Ace]:
    """ACEs (outbound view: local = source) of one policy's selectors."""
    out = []
    for src, dst in itertools.product(
        _networks(pol.laddress, pol.lmask, pol.ipversion),
        _networks(pol.raddress, pol.rmask, pol.ipversion),
    ):
        if src.version != dst.version:
            continue  # an IPv4 selector with an IPv6 one matches nothing
        out.append(Ace(action, _protocol(pol.transport), src, dst, _port(pol.lport),  # type: ignore[arg-type]
                       _port(pol.rport), text=f"{action} policy {pol.name}"))  # fmt: skip
    return out


def _crypto_map(cfg: Config, ar: ArState, ifname: str) -> None:
    pols = ar.interface_policies(ifname)
    intf = next((i for k, i in cfg.interfaces.items() if k.lower() == ifname.lower()), None)
    if intf is None:
        intf = cfg.interfaces[ifname] = Interface(name=ifname)
    cmap = CryptoMap(ifname)
    earlier: list[ArIpsecPolicy] = []
    for pos, pol in enumerate(pols, start=1):
        if pol.action != "IPSEC":
            earlier.append(pol)
            continue
        acl = AccessList(f"ar-{pol.name}")
        for other in earlier:
            acl.entries += policy_aces(other, "deny")
        acl.entries += policy_aces(pol, "permit")
        cfg.access_lists[acl.name] = acl
        entry = _entry(cfg, ar, pol, pos * 10, acl.name)
        if pol.peer in ("DYNAMIC", "ANY"):
            dyn = CryptoMap(f"ar-dyn-{pol.name}")
            dyn.entries[10] = entry
            cfg.dynamic_maps[dyn.name] = dyn
            cmap.entries[pos * 10] = CryptoMapEntry(
                pos * 10, dynamic_map=dyn.name, description=pol.name
            )
        else:
            cmap.entries[pos * 10] = entry
    if cmap.entries:
        cfg.crypto_maps[cmap.name] = cmap
        intf.crypto_map = cmap.name


def _entry(cfg: Config, ar: ArState, pol: ArIpsecPolicy, seq: int, acl: str) -> CryptoMapEntry:
    bundle = ar.bundles[pol.bundle]  # type: ignore[index]
    entry = CryptoMapEntry(seq, "ipsec-manual" if pol.keyman == "MANUAL" else "ipsec-isakmp")
    if pol.peer not in ("DYNAMIC", "ANY", None):
        try:
            entry.peers.append(CryptoPeer(address=ipaddress.ip_address(pol.peer)))
        except ValueError:
            entry.peers.append(CryptoPeer(hostname=pol.peer))
    entry.transform_sets = [ts.name for ts in bundle_transform_sets(ar, bundle)]
    entry.match_address = acl
    entry.pfs_group = (pol.group or 1) if pol.usepfskey else None
    entry.lifetime_seconds = bundle.expiry_seconds
    entry.lifetime_kilobytes = bundle.expiry_kbytes or UNLIMITED_KB
    first = [ar.saspecs[i] for cand in bundle.candidates[:1] for g in cand for i in g[:1]
             if i in ar.saspecs]  # fmt: skip
    if first:
        entry.replay_disabled = not first[0].antireplay
        entry.replay_window = first[0].replaywindow
    entry.df_bit = pol.dfbit.lower()
    entry.description = pol.name
    return entry


# ------------------------------------------------------------------ SPD lookup


@dataclass(frozen=True)
class SpdResult:
    """Outcome of an SPD lookup: ``action`` is PERMIT, IPSEC or DENY."""

    action: str
    policy: ArIpsecPolicy | None  # None = the implicit deny-all (L736-741)


def spd_lookup(
    ar: ArState,
    interface: str,
    src: str,
    dst: str,
    protocol: int = 0,
    sport: int | None = None,
    dport: int | None = None,
    outbound: bool = True,
) -> SpdResult | None:
    """First matching policy of ``interface`` (creation/POSITION order, L147-151).

    ``None`` when the interface has no IPsec policy (no SPD check, L745-747);
    otherwise the matching policy, or the implicit DENY when none matches.
    Inbound packets swap local/remote (Table 2, L455-461).
    """
    pols = ar.interface_policies(interface)
    if not pols or not ar.ipsec_enabled:
        return None
    if not outbound:
        src, dst, sport, dport = dst, src, dport, sport
    for pol in pols:
        if any(a.matches(src, dst, protocol, sport, dport) for a in policy_aces(pol, "permit")):
            return SpdResult(pol.action, pol)
    return SpdResult("DENY", None)


# ------------------------------------------------------------------ manual keying


def manual_sa_pairs(cfg: Config) -> list[dict]:
    """Manually keyed SA bundles (KEYMANAGEMENT=MANUAL, L231-379) as ``lab sa-add`` JSON.

    One item per MANUAL IPsec policy on an enabled IPsec module: the first
    candidate of its bundle, keys from the ENCO keys named by ENCKEY/HASHKEY,
    ``OUTSPI`` for sending and ``INSPI`` for receiving (L811-815; the peer
    mirrors them, L310).  The runner has no manual-key install of its own yet;
    see docs/requests/runner.md.
    """
    ar: ArState = cfg.ar
    out: list[dict] = []
    if ar is None or not ar.ipsec_enabled:
        return out
    for ifname in ar.interfaces():
        for pos, pol in enumerate(ar.interface_policies(ifname), start=1):
            if pol.action != "IPSEC" or pol.keyman != "MANUAL" or pol.bundle not in ar.bundles:
                continue
            bundle = ar.bundles[pol.bundle]
            specs = [ar.saspecs[g[0]] for g in bundle.candidates[0] if g[0] in ar.saspecs]
            inbound, outbound = [], []
            mode = "tunnel"
            for s in specs:
                enc = ar.enco_keys.get(s.enckey) if s.enckey is not None else None
                mac = ar.enco_keys.get(s.hashkey) if s.hashkey is not None else None
                base = {
                    "proto": s.protocol.lower(),
                    "encr": _ESP_ENC.get(s.encalg or "NULL") if s.protocol == "ESP" else None,
                    "encr_key": enc.value.hex() if enc else "",
                    "integ": _INTEG.get(s.hashalg or "NULL"),
                    "integ_key": mac.value.hex() if mac else "",
                }
                inbound.append(base | {"spi": s.inspi})
                outbound.append(base | {"spi": s.outspi})
                mode = "transport" if s.mode == "TRANSPORT" else mode
            intf = next((i for k, i in cfg.interfaces.items() if k.lower() == ifname.lower()), None)
            local = str(intf.addresses[0].ip) if intf is not None and intf.addresses else None
            lnet = _networks(pol.laddress, pol.lmask)[0]
            rnet = _networks(pol.raddress, pol.rmask)[0]
            out.append({
                "peer": pol.peer, "local": local, "mode": mode,
                "local_ts": str(lnet), "remote_ts": str(rnet),
                "inbound": inbound, "outbound": outbound,
                "lifetime_seconds": 2**31 - 1,  # manual SAs do not expire (L2105-2115)
                "crypto_map": ifname, "crypto_map_seq": pos * 10, "policy": pol.name,
            })  # fmt: skip
    return out


# ------------------------------------------------------------------ SPD as filter rules


@dataclass(frozen=True)
class SpdRule:
    """One packet-filter rule of an interface's SPD, in lookup order.

    ``verdict``: ``accept`` (ACTION=PERMIT, or IPsec packets of an ACTION=IPSEC
    policy's peer), ``ipsec`` (cleartext that must go through the tunnel: the
    runner routes it into the TUN; met on the clear path it is dropped, L577-589)
    or ``drop`` (ACTION=DENY and the implicit deny-all, L736-741).  ``None``
    fields match anything.
    """

    interface: str
    direction: str  # "out" (sent from the interface) | "in" (received on it)
    src: IpNetwork | None
    dst: IpNetwork | None
    protocol: int | None
    sport: int | None
    dport: int | None
    verdict: str
    policy: str | None  # None for the implicit deny-all


def spd_rules(cfg: Config) -> list[SpdRule]:
    """The SPD of every interface as ordered filter rules (seed 002 L413-761).

    Outbound: local = source, remote = destination; inbound the other way round
    (Table 2, L455-461).  For ACTION=IPSEC the peer's ESP/AH (and UDP-encapsulated
    ESP) is accepted inbound: it is the IPsec processing of that policy (L585-589).
    Empty while the IPsec module is disabled.  A renderer (nftables) is the
    runner's; this is only the decision table.
    """
    ar: ArState | None = cfg.ar
    rules: list[SpdRule] = []
    if ar is None or not ar.ipsec_enabled:
        return rules
    for ifname in ar.interfaces():
        for pol in ar.interface_policies(ifname):
            verdict = {"PERMIT": "accept", "DENY": "drop", "IPSEC": "ipsec"}[pol.action]
            if pol.action == "IPSEC" and pol.peer not in (None, "ANY", "DYNAMIC"):
                try:
                    peer = ipaddress.ip_network(pol.peer)
                except ValueError:
                    peer = None
                if peer is not None and peer.version == 4:
                    for proto in (50, 51):
                        rules.append(SpdRule(ifname, "in", peer, None, proto, None, None,
                                             "accept", pol.name))  # fmt: skip
            for ace in policy_aces(pol, "permit"):
                if ace.src.version != 4:
                    continue  # IPv4 filter table (IPVERSION=6 policies: not enforced yet)
                sp = ace.src_port.low if ace.src_port else None
                dp = ace.dst_port.low if ace.dst_port else None
                rules.append(SpdRule(ifname, "out", _any(ace.src), _any(ace.dst), ace.protocol,
                                     sp, dp, verdict, pol.name))  # fmt: skip
                rules.append(SpdRule(ifname, "in", _any(ace.dst), _any(ace.src), ace.protocol,
                                     dp, sp, verdict, pol.name))  # fmt: skip
        for direction in ("out", "in"):
            rules.append(SpdRule(ifname, direction, None, None, None, None, None, "drop", None))
    return rules


def _any(net: IpNetwork) -> IpNetwork | None:
    return None if net.prefixlen == 0 else net
