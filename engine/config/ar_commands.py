"""AR570S command table: parameters and handlers (seed 002 command reference).

Each handler validates first and raises ``ArError`` (the line then changes
nothing; ``engine.config.ar.execute`` also runs it on a trial copy).  Line
numbers: ``002_377d9b2fb7829bf0.txt``.
"""

from __future__ import annotations

import ipaddress
import os
import re

from engine.config.ar import (
    Command,
    Ctx,
    Param,
    boolean,
    enum,
    fail,
    int_range,
    ipv4,
    name_len,
    text,
)
from engine.config.ar_ip import (
    add_ip_interface,
    add_ip_route,
    delete_ip_interface,
    set_system_name,
)
from engine.config.ar_model import (
    ArIpsecPolicy,
    ArIsakmpPolicy,
    BundleSpec,
    EncoKey,
    SaSpec,
)

# ------------------------------------------------------------------ value types


def _addr_selector(s: str) -> str:
    """``ANY | ipv4add[-ipv4add] | ipv6add[/prefix] | ipv6add-ipv6add`` (L2142-2145)."""
    if s.upper() == "ANY":
        return "ANY"
    lo, sep, hi = s.partition("-")
    try:
        if "/" in lo and not sep:
            ipaddress.IPv6Network(lo, strict=False)
            return s
        a = ipaddress.ip_address(lo)
        if sep:
            b = ipaddress.ip_address(hi)
            if a.version != b.version or int(b) < int(a):
                raise ValueError(s)
    except ValueError:
        raise ValueError(s) from None
    return s


def _mask(s: str) -> str:
    m = ipv4(s)
    try:
        ipaddress.IPv4Network(f"0.0.0.0/{m}")
    except ValueError:
        raise ValueError(s) from None
    return m


def _port(s: str) -> str:
    if s.upper() == "ANY":
        return "ANY"
    return str(int_range(0, 65535)(s))


PROTOCOLS = {"ESP": 50, "GRE": 47, "ICMP": 1, "OSPF": 89, "RSVP": 46, "TCP": 6, "UDP": 17}


def _transport(s: str) -> str:
    if s.isdigit():
        return str(int_range(0, 255)(s))
    return enum("ANY", *PROTOCOLS)(s)


def _peer(s: str) -> str:
    up = s.upper()
    if up in ("ANY", "DYNAMIC"):
        return up
    try:
        return str(ipaddress.ip_address(s))
    except ValueError:
        if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", s):
            return s  # host name
        raise ValueError(s) from None


def _spi(s: str) -> int:
    return int_range(0, 4294967295)(s)


def _key_value(s: str) -> str:
    return s


def _hostname_or_any(s: str) -> str:
    up = s.upper()
    if up == "ANY":
        return "ANY"
    return _peer(s)


def _clamp_kbytes(s: str) -> int:
    """EXPIRYKBYTES: 1.., values above 4193280 are stored as 4193280 (L2109)."""
    if not s.isdigit() or int(s) < 1:
        raise ValueError(s)
    return min(int(s), 4193280)


BOOL = Param(boolean)

# ------------------------------------------------------------------ ENCO keys

ENCO_TYPES = ("GENERAL", "DES", "3DESINNER", "3DESOUTER", "AES", "RSA")
_KEY_BYTES = {"DES": 8, "3DESINNER": 24, "3DESOUTER": 24, "AES": 32}


def create_enco_key(c: Ctx) -> None:
    """``CREATE ENCO KEY=n TYPE=... {VALUE=|RANDOM} [LENGTH=] [DESCRIPTION=]`` (L102, L264-300)."""
    n: int = c.head
    if n in c.ar.enco_keys:
        raise fail("enco", 1, f"Key {n} already exists.", c.head_column)
    ktype = c.params["TYPE"]
    value = c.params.get("VALUE")
    random = bool(c.params.get("RANDOM"))
    if value is None and not random:
        raise fail("enco", 2, "One of VALUE or RANDOM must be specified.")
    if value is not None and random:
        raise fail("enco", 3, "VALUE and RANDOM cannot both be specified.", c.col("RANDOM"))
    key_text: str | None = None
    if random:
        length = c.params.get("LENGTH") or _KEY_BYTES.get(ktype, 16)
        raw = os.urandom(length)
    elif re.fullmatch(r"0[xX][0-9A-Fa-f]+", value) and len(value) % 2 == 0:
        raw = bytes.fromhex(value[2:])
    else:
        raw, key_text = value.encode(), value
    want = _KEY_BYTES.get(ktype)
    if want is not None and len(raw) != want:
        raise fail("enco", 4, f"Key value length is invalid for TYPE={ktype}.", c.col("VALUE"))
    c.ar.enco_keys[n] = EncoKey(n, ktype, raw, key_text, c.params.get("DESCRIPTION", ""), random)


def destroy_enco_key(c: Ctx) -> None:
    if c.ar.enco_keys.pop(c.head, None) is None:
        raise fail("enco", 5, f"Key {c.head} does not exist.", c.head_column)


# ------------------------------------------------------------------ SA specifications

ENCALGS = ("DES", "3DESOUTER", "AES128", "AES192", "AES256", "NULL")
HASHALGS = ("MD5", "NULL", "SHA")

SASPEC_SET = {
    "MODE": Param(enum("TRANSPORT", "TUNNEL")),
    "ENCALG": Param(enum(*ENCALGS)),
    "ENCKEY": Param(int_range(0, 65535)),
    "HASHALG": Param(enum(*HASHALGS)),
    "HASHKEY": Param(int_range(0, 65535)),
    "INSPI": Param(_spi),
    "OUTSPI": Param(_spi),
    "ANTIREPLAYENABLED": BOOL,
    "REPLAYWINDOWSIZE": Param(enum("32", "64", "128", "256")),
}
SASPEC_CREATE = {
    "KEYMANAGEMENT": Param(enum("ISAKMP", "MANUAL"), required=True),
    "PROTOCOL": Param(enum("AH", "ESP"), required=True),
    **SASPEC_SET,
}


def _apply_saspec(c: Ctx, spec: SaSpec) -> None:
    p = c.params
    for name, attr in (
        ("MODE", "mode"),
        ("ENCALG", "encalg"),
        ("ENCKEY", "enckey"),
        ("HASHALG", "hashalg"),
        ("HASHKEY", "hashkey"),
        ("INSPI", "inspi"),
        ("OUTSPI", "outspi"),
        ("ANTIREPLAYENABLED", "antireplay"),
    ):
        if name in p:
            setattr(spec, attr, p[name])
    if "REPLAYWINDOWSIZE" in p:
        spec.replaywindow = int(p["REPLAYWINDOWSIZE"])
    _check_saspec(c, spec)


def _check_saspec(c: Ctx, s: SaSpec) -> None:
    """Rules of L2466-2507 (and L773-849)."""
    if s.protocol == "AH" and s.encalg is not None:
        raise fail("ipsec", 10, "ENCALG is not valid for PROTOCOL=AH.", c.col("ENCALG"))
    if s.protocol == "ESP" and s.encalg is None:
        raise fail("ipsec", 11, "ENCALG must be specified for PROTOCOL=ESP.")
    if s.hashalg is None:
        raise fail("ipsec", 12, "HASHALG must be specified.")
    if s.protocol == "AH" and s.hashalg == "NULL":
        raise fail("ipsec", 13, "HASHALG=NULL is not valid for PROTOCOL=AH.", c.col("HASHALG"))
    if s.encalg == "NULL" and s.hashalg == "NULL":
        raise fail("ipsec", 14, "ENCALG and HASHALG cannot both be NULL.", c.col("HASHALG"))
    manual = s.keyman == "MANUAL"
    for name, val in (("ENCKEY", s.enckey), ("HASHKEY", s.hashkey), ("INSPI", s.inspi),
                      ("OUTSPI", s.outspi)):  # fmt: skip
        if val is not None and not manual:
            raise fail("ipsec", 15, f"{name} is only valid with KEYMANAGEMENT=MANUAL.", c.col(name))
    if (s.antireplay or "REPLAYWINDOWSIZE" in c.params) and manual:
        raise fail("ipsec", 16, "Anti-replay is not valid with KEYMANAGEMENT=MANUAL.")
    if manual:
        if s.protocol == "ESP" and s.encalg != "NULL" and s.enckey is None:
            raise fail("ipsec", 17, "ENCKEY must be specified for manual ESP.")
        if s.hashalg != "NULL" and s.hashkey is None:
            raise fail("ipsec", 18, "HASHKEY must be specified for manual keying.")
        if s.inspi is None or s.outspi is None:
            raise fail("ipsec", 19, "INSPI and OUTSPI must be specified for manual keying.")
        for name, key in (("ENCKEY", s.enckey), ("HASHKEY", s.hashkey)):
            if key is not None and key not in c.ar.enco_keys:
                raise fail("ipsec", 20, f"ENCO key {key} does not exist.", c.col(name))


def create_saspec(c: Ctx) -> None:
    if c.head in c.ar.saspecs:
        raise fail("ipsec", 1, f"SA specification {c.head} already exists.", c.head_column)
    spec = SaSpec(c.head, c.params["KEYMANAGEMENT"], c.params["PROTOCOL"])
    _apply_saspec(c, spec)
    c.ar.saspecs[c.head] = spec


def set_saspec(c: Ctx) -> None:
    spec = c.ar.saspecs.get(c.head)
    if spec is None:
        raise fail("ipsec", 2, f"SA specification {c.head} does not exist.", c.head_column)
    _apply_saspec(c, spec)
    for b in c.ar.bundles.values():
        _check_bundle(c, b)


def destroy_saspec(c: Ctx) -> None:
    if c.head not in c.ar.saspecs:
        raise fail("ipsec", 2, f"SA specification {c.head} does not exist.", c.head_column)
    used = [b.id for b in c.ar.bundles.values() if any(c.head in g for cand in b.candidates
                                                         for g in cand)]  # fmt: skip
    if used:
        raise fail("ipsec", 3, f"SA specification {c.head} is used by bundle {used[0]}.")
    del c.ar.saspecs[c.head]


# ------------------------------------------------------------------ bundle specifications


def parse_bundle_string(s: str) -> list[list[list[int]]]:
    """``"1 and 3 or 4, 1"`` → ``[[[1], [3, 4]], [[1]]]`` (L2083-2103; OR binds tighter)."""
    out = []
    for cand in s.split(","):
        groups = []
        for part in re.split(r"(?i)\s+and\s+", cand.strip()):
            alts = re.split(r"(?i)\s+or\s+", part.strip())
            if not all(re.fullmatch(r"\d{1,3}", a) and int(a) <= 255 for a in alts):
                raise ValueError(s)
            groups.append([int(a) for a in alts])
        out.append(groups)
    return out


def _bundle_string(s: str) -> str:
    if not 1 <= len(s) <= 100:
        raise ValueError(s)
    parse_bundle_string(s)
    return s


def _check_bundle(c: Ctx, b: BundleSpec) -> None:
    if b.keyman == "MANUAL" and (len(b.candidates) > 1 or any(len(g) > 1 for g in b.candidates[0])
                                 or len(b.candidates[0]) > 2):  # fmt: skip
        raise fail("ipsec", 30, "A MANUAL bundle allows at most 2 SA specifications joined by AND.")
    if len(b.candidates) > 10:
        raise fail("ipsec", 31, "At most 10 bundle alternatives are allowed.", c.col("STRING"))
    for cand in b.candidates:
        protos = []
        for group in cand:
            gp = set()
            for n in group:
                spec = c.ar.saspecs.get(n)
                if spec is None:
                    raise fail(
                        "ipsec", 32, f"SA specification {n} does not exist.", c.col("STRING")
                    )
                if spec.keyman != b.keyman:
                    raise fail("ipsec", 33, f"SA specification {n} has a different KEYMANAGEMENT.",
                               c.col("STRING"))  # fmt: skip
                gp.add(spec.protocol)
            if len(gp) > 1:
                msg = "SA specifications joined by OR must use the same protocol."
                raise fail("ipsec", 34, msg, c.col("STRING"))
            protos.append(gp.pop())
        if len(set(protos)) != len(protos):
            raise fail("ipsec", 35, "SA specifications joined by AND must use different protocols.",
                       c.col("STRING"))  # fmt: skip


def create_bundle(c: Ctx) -> None:
    if c.head in c.ar.bundles:
        raise fail("ipsec", 4, f"Bundle specification {c.head} already exists.", c.head_column)
    b = BundleSpec(c.head, c.params["KEYMANAGEMENT"], c.params["STRING"],
                   parse_bundle_string(c.params["STRING"]))  # fmt: skip
    _set_bundle_life(c, b)
    _check_bundle(c, b)
    c.ar.bundles[c.head] = b


def _set_bundle_life(c: Ctx, b: BundleSpec) -> None:
    if "EXPIRYKBYTES" in c.params:
        b.expiry_kbytes = c.params["EXPIRYKBYTES"]
    if "EXPIRYSECONDS" in c.params:
        b.expiry_seconds = c.params["EXPIRYSECONDS"]


def set_bundle(c: Ctx) -> None:
    b = c.ar.bundles.get(c.head)
    if b is None:
        raise fail("ipsec", 5, f"Bundle specification {c.head} does not exist.", c.head_column)
    _set_bundle_life(c, b)


def destroy_bundle(c: Ctx) -> None:
    if c.head not in c.ar.bundles:
        raise fail("ipsec", 5, f"Bundle specification {c.head} does not exist.", c.head_column)
    users = [p.name for p in c.ar.policies if p.bundle == c.head]
    if users:
        raise fail("ipsec", 6, f"Bundle specification {c.head} is used by policy {users[0]}.")
    del c.ar.bundles[c.head]


# ------------------------------------------------------------------ IPsec policies

POLICY_SET = {
    "ACTION": Param(enum("DENY", "IPSEC", "PERMIT")),
    "BUNDLESPECIFICATION": Param(int_range(0, 255)),
    "PEERADDRESS": Param(_peer),
    "IPVERSION": Param(enum("4", "6")),
    "LADDRESS": Param(_addr_selector),
    "LMASK": Param(_mask),
    "LNAME": Param(name_len(1, 120)),
    "LPORT": Param(_port),
    "RADDRESS": Param(_addr_selector),
    "RMASK": Param(_mask),
    "RNAME": Param(name_len(1, 120)),
    "RPORT": Param(_port),
    "TRANSPORTPROTOCOL": Param(_transport),
    "DFBIT": Param(enum("SET", "COPY", "CLEAR")),
    "GROUP": Param(int_range(0, 2)),
    "ICMPTYPE": Param(enum("NDALL")),
    "IPROUTETEMPLATE": Param(name_len(1, 31)),
    "ISAKMPPOLICY": Param(name_len(1, 24)),
    "SRCINTERFACE": Param(name_len(1, 32)),
    "UDPHEARTBEAT": BOOL,
    "UDPPORT": Param(int_range(0, 65535)),
    "UDPTUNNEL": BOOL,
    "USEPFSKEY": BOOL,
    "POSITION": Param(int_range(1, 100)),
    "RESPONDBADSPI": BOOL,
}
POLICY_CREATE = {
    **POLICY_SET,
    "INTERFACE": Param(name_len(1, 32), required=True),
    "ACTION": Param(enum("DENY", "IPSEC", "PERMIT"), required=True),
    "KEYMANAGEMENT": Param(enum("ISAKMP", "MANUAL")),
}
_POLICY_ATTRS = {
    "ACTION": "action", "BUNDLESPECIFICATION": "bundle", "PEERADDRESS": "peer",
    "LADDRESS": "laddress", "LMASK": "lmask", "LNAME": "lname", "LPORT": "lport",
    "RADDRESS": "raddress", "RMASK": "rmask", "RNAME": "rname", "RPORT": "rport",
    "TRANSPORTPROTOCOL": "transport", "DFBIT": "dfbit", "GROUP": "group",
    "ICMPTYPE": "icmptype", "IPROUTETEMPLATE": "iproutetemplate",
    "ISAKMPPOLICY": "isakmppolicy", "SRCINTERFACE": "srcinterface",
    "UDPHEARTBEAT": "udpheartbeat", "UDPPORT": "udpport", "UDPTUNNEL": "udptunnel",
    "USEPFSKEY": "usepfskey", "RESPONDBADSPI": "respondbadspi",
}  # fmt: skip
_IPSEC_ONLY = ("BUNDLESPECIFICATION", "PEERADDRESS", "USEPFSKEY", "UDPTUNNEL", "UDPHEARTBEAT",
               "IPROUTETEMPLATE", "ISAKMPPOLICY", "RESPONDBADSPI", "GROUP")  # fmt: skip


def _apply_policy(c: Ctx, pol: ArIpsecPolicy) -> None:
    p = c.params
    for name, attr in _POLICY_ATTRS.items():
        if name in p:
            setattr(pol, attr, p[name])
    if "IPVERSION" in p:
        pol.ipversion = int(p["IPVERSION"])
    _check_policy(c, pol)


def _check_policy(c: Ctx, pol: ArIpsecPolicy) -> None:
    """Rules of L2198-2368 (requirements of ACTION=IPSEC, peer/bundle consistency)."""
    if pol.action != "IPSEC":
        for name in _IPSEC_ONLY:
            if name in c.params:
                raise fail("ipsec", 40, f"{name} is only valid with ACTION=IPSEC.", c.col(name))
    else:
        for name, val in (("KEYMANAGEMENT", pol.keyman), ("BUNDLESPECIFICATION", pol.bundle),
                          ("PEERADDRESS", pol.peer)):  # fmt: skip
            if val is None:
                raise fail("ipsec", 41, f"{name} must be specified when ACTION=IPSEC.")
        b = c.ar.bundles.get(pol.bundle)  # type: ignore[arg-type]
        if b is None:
            raise fail("ipsec", 42, f"Bundle specification {pol.bundle} does not exist.",
                       c.col("BUNDLESPECIFICATION"))  # fmt: skip
        if b.keyman != pol.keyman:
            raise fail("ipsec", 43, "KEYMANAGEMENT does not match the bundle specification.",
                       c.col("BUNDLESPECIFICATION"))  # fmt: skip
        if pol.peer in ("ANY", "DYNAMIC") and pol.keyman != "ISAKMP":
            raise fail("ipsec", 44, f"PEERADDRESS={pol.peer} requires KEYMANAGEMENT=ISAKMP.",
                       c.col("PEERADDRESS"))  # fmt: skip
        if pol.usepfskey and pol.keyman != "ISAKMP":
            raise fail("ipsec", 45, "USEPFSKEY requires KEYMANAGEMENT=ISAKMP.", c.col("USEPFSKEY"))
    for sel, port in (("LPORT", pol.lport), ("RPORT", pol.rport)):
        if port != "ANY" and pol.transport not in ("TCP", "UDP", "ANY") and sel in c.params:
            raise fail("ipsec", 46, f"{sel} is only valid with TRANSPORTPROTOCOL TCP or UDP.",
                       c.col(sel))  # fmt: skip


def _place(c: Ctx, pol: ArIpsecPolicy, position: int | None) -> None:
    """Insert into the interface's list at POSITION (1-100), else append (L2356-2358)."""
    if pol in c.ar.policies:
        c.ar.policies.remove(pol)
    same = c.ar.interface_policies(pol.interface)
    if position is None or position > len(same):
        c.ar.policies.append(pol)
        return
    before = same[position - 1]
    c.ar.policies.insert(c.ar.policies.index(before), pol)


def create_policy(c: Ctx) -> None:
    if c.ar.policy(c.head) is not None:
        raise fail("ipsec", 7, f"IPSEC policy {c.head} already exists.", c.head_column)
    pol = ArIpsecPolicy(c.head, c.params["INTERFACE"], c.params["ACTION"],
                        keyman=c.params.get("KEYMANAGEMENT"))  # fmt: skip
    if pol.action != "IPSEC" and "KEYMANAGEMENT" in c.params:
        raise fail("ipsec", 40, "KEYMANAGEMENT is only valid with ACTION=IPSEC.",
                   c.col("KEYMANAGEMENT"))  # fmt: skip
    _apply_policy(c, pol)
    _place(c, pol, c.params.get("POSITION"))


def _existing_policy(c: Ctx) -> ArIpsecPolicy:
    pol = c.ar.policy(c.head)
    if pol is None:
        raise fail("ipsec", 8, f"IPSEC policy {c.head} does not exist.", c.head_column)
    return pol


def set_policy(c: Ctx) -> None:
    pol = _existing_policy(c)
    _apply_policy(c, pol)
    if "POSITION" in c.params:
        _place(c, pol, c.params["POSITION"])


def destroy_policy(c: Ctx) -> None:
    pol = _existing_policy(c)
    if "SABUNDLE" not in c.params:
        c.ar.policies.remove(pol)


def debug_policy(c: Ctx) -> None:
    """``ENABLE IPSEC POLICY=vpn DEBUG=...`` (L3125-3276): no configuration effect."""
    if c.head is not None and c.head.upper() != "ALL":
        pol = _existing_policy(c)
        pol.debug.add(c.params.get("DEBUG", "ALL"))
    c.info.append("Info (181057): IPSEC Policy Debugging has been enabled.")


def undebug_policy(c: Ctx) -> None:
    pols = c.ar.policies if c.head is None or c.head.upper() == "ALL" else [_existing_policy(c)]
    for p in pols:
        p.debug.clear()
    c.info.append("Info (181058): IPSEC Policy Debugging has been disabled.")


# ------------------------------------------------------------------ modules


def enable_ipsec(c: Ctx) -> None:
    c.ar.ipsec_enabled = True
    c.info.append("Info (181003): IPSEC module has been enabled.")


def disable_ipsec(c: Ctx) -> None:
    c.ar.ipsec_enabled = False


def purge_ipsec(c: Ctx) -> None:
    """``PURGE IPSEC`` deletes all IPsec configuration (L3924-3948)."""
    c.ar.saspecs.clear()
    c.ar.bundles.clear()
    c.ar.policies.clear()
    c.ar.ipsec_enabled = False
    c.ar.ipsec_udpport = 2746


def set_ipsec_udpport(c: Ctx) -> None:
    c.ar.ipsec_udpport = c.head


def enable_isakmp(c: Ctx) -> None:
    if "DEBUG" in c.params:
        c.ar.isakmp_debug.add(c.params["DEBUG"])
        c.info.append("Info (182057): ISAKMP Debugging has been enabled.")
        return
    c.ar.isakmp_enabled = True
    if "UDPPORT" in c.params:
        c.ar.isakmp_udpport = c.params["UDPPORT"]


def disable_isakmp(c: Ctx) -> None:
    if "DEBUG" in c.params:
        c.ar.isakmp_debug.clear()
        return
    c.ar.isakmp_enabled = False


# ------------------------------------------------------------------ ISAKMP policies

ISAKMP_SET = {
    "PEER": Param(_hostname_or_any),
    "AUTHTYPE": Param(enum("PRESHARED", "RSASIG")),
    "DELETEDELAY": Param(int_range(0, 30)),
    "DHEXPONENTLENGTH": Param(int_range(160, 1023)),
    "DPDIDLETIMEOUT": Param(int_range(1, 86400)),
    "DPDMODE": Param(enum("BOTH", "NONE", "RECEIVE")),
    "ENCALG": Param(enum("DES", "3DESOUTER", "AES128", "AES192", "AES256")),
    "EXPIRYKBYTES": Param(int_range(1, 1000)),
    "EXPIRYSECONDS": Param(int_range(600, 31449600)),
    "GROUP": Param(int_range(0, 2)),
    "HASHALG": Param(enum("SHA", "MD5")),
    "HEARTBEATMODE": Param(enum("BOTH", "NONE", "RECEIVE", "SEND")),
    "HYBRIDXAUTH": BOOL,
    "KEY": Param(int_range(0, 65535)),
    "LOCALID": Param(name_len(1, 255)),
    "LOCALRSAKEY": Param(int_range(0, 65535)),
    "MODE": Param(enum("MAIN", "AGGRESSIVE")),
    "MSGBACKOFF": Param(enum("INCREMENTAL", "NONE")),
    "MSGRETRYLIMIT": Param(int_range(0, 1024)),
    "MSGTIMEOUT": Param(int_range(1, 86400)),
    "NATTRAVERSAL": BOOL,
    "PHASE2XCHGLIMIT": Param(lambda s: "NONE" if s.upper() == "NONE" else int_range(1, 1024)(s)),
    "POLICYFILENAME": Param(text),
    "PRENEGOTIATE": BOOL,
    "REMOTEID": Param(name_len(1, 255)),
    "REKEY": BOOL,
    "RETRYIKEATTEMPTS": Param(
        lambda s: (
            "CONTINUOUS"
            if "CONTINUOUS".startswith(s.upper()) and len(s) > 1
            else int_range(0, 16)(s)
        )  # fmt: skip
    ),
    "SENDDELETES": BOOL,
    "SENDNOTIFY": BOOL,
    "SENDIDALWAYS": BOOL,
    "SETCOMMITBIT": BOOL,
    "SRCINTERFACE": Param(name_len(1, 32)),
    "XAUTH": Param(enum("CLIENT", "SERVER", "NONE")),
    "XAUTHNAME": Param(name_len(1, 64)),
    "XAUTHPASSWORD": Param(name_len(1, 64)),
    "XAUTHTYPE": Param(enum("GENERIC", "RADIUS")),
}
ISAKMP_CREATE = {**ISAKMP_SET, "PEER": Param(_hostname_or_any, required=True),
                 "IPVERSION": Param(enum("6"))}  # fmt: skip
_ISAKMP_ATTRS = {
    "PEER": "peer", "AUTHTYPE": "authtype", "KEY": "key", "ENCALG": "encalg",
    "HASHALG": "hashalg", "GROUP": "group", "MODE": "mode", "EXPIRYSECONDS": "expiry_seconds",
    "EXPIRYKBYTES": "expiry_kbytes", "NATTRAVERSAL": "natt", "DPDMODE": "dpdmode",
    "DPDIDLETIMEOUT": "dpdidletimeout", "MSGTIMEOUT": "msgtimeout",
    "MSGRETRYLIMIT": "msgretrylimit", "MSGBACKOFF": "msgbackoff", "LOCALID": "localid",
    "REMOTEID": "remoteid", "SENDNOTIFY": "sendnotify", "SENDDELETES": "senddeletes",
    "XAUTH": "xauth", "XAUTHNAME": "xauthname", "XAUTHPASSWORD": "xauthpassword",
    "REKEY": "rekey",
}  # fmt: skip


def _apply_isakmp(c: Ctx, pol: ArIsakmpPolicy) -> None:
    for name, val in c.params.items():
        attr = _ISAKMP_ATTRS.get(name)
        if attr is not None:
            setattr(pol, attr, val)
        else:
            pol.extra[name] = str(val).upper() if isinstance(val, bool) else str(val)
    if pol.rekey and pol.peer != "ANY":
        raise fail("isakmp", 10, "REKEY can only be set when PEER=ANY.", c.col("REKEY"))
    if pol.rekey and pol.expiry_kbytes is not None:
        raise fail("isakmp", 11, "REKEY is not supported together with EXPIRYKBYTES.")
    if pol.authtype == "PRESHARED" and pol.key is None:
        # AUTHTYPE=PRESHARED requires KEY (L2681-2683); the ENCO key itself may come later
        raise fail("isakmp", 12, "KEY must be specified when AUTHTYPE=PRESHARED.")


def create_isakmp_policy(c: Ctx) -> None:
    if c.ar.isakmp_policy(c.head) is not None:
        raise fail("isakmp", 1, f"ISAKMP policy {c.head} already exists.", c.head_column)
    pol = ArIsakmpPolicy(c.head, c.params["PEER"])
    _apply_isakmp(c, pol)
    c.ar.isakmp_policies.append(pol)


def set_isakmp_policy(c: Ctx) -> None:
    pol = c.ar.isakmp_policy(c.head)
    if pol is None:
        raise fail("isakmp", 2, f"ISAKMP policy {c.head} does not exist.", c.head_column)
    _apply_isakmp(c, pol)


def destroy_isakmp_policy(c: Ctx) -> None:
    pol = c.ar.isakmp_policy(c.head)
    if pol is None:
        raise fail("isakmp", 2, f"ISAKMP policy {c.head} does not exist.", c.head_column)
    c.ar.isakmp_policies.remove(pol)


# ------------------------------------------------------------------ the table

_IP_INT = {"IPADDRESS": Param(ipv4, required=True), "MASK": Param(_mask),
           "DESCRIPTION": Param(text), "METRIC": Param(int_range(1, 16)),
           "FILTER": Param(text), "PRIORITYFILTER": Param(text), "POLICYFILTER": Param(text),
           "DIRECTEDBROADCAST": BOOL, "OSPFMETRIC": Param(text), "PROXYARP": Param(text),
           "RIPMETRIC": Param(text), "MULTICAST": Param(text), "FRAGMENT": Param(text),
           "GRATUITOUSARP": Param(text)}  # fmt: skip

COMMANDS: list[Command] = [
    Command(
        "CREATE",
        "ENCO",
        "KEY",
        create_enco_key,
        {
            "TYPE": Param(enum(*ENCO_TYPES), required=True),
            "VALUE": Param(_key_value),
            "RANDOM": Param(None),
            "LENGTH": Param(int_range(1, 256)),
            "DESCRIPTION": Param(text),
            "IPADDRESS": Param(ipv4),
            "FORMAT": Param(text),
        },
        int_range(0, 65535),
    ),  # fmt: skip
    Command("DESTROY", "ENCO", "KEY", destroy_enco_key, {}, int_range(0, 65535)),
    Command("CREATE", "IPSEC", "SASPECIFICATION", create_saspec, SASPEC_CREATE, int_range(0, 255)),
    Command("SET", "IPSEC", "SASPECIFICATION", set_saspec, SASPEC_SET, int_range(0, 255)),
    Command("DESTROY", "IPSEC", "SASPECIFICATION", destroy_saspec, {}, int_range(0, 255)),
    Command(
        "CREATE",
        "IPSEC",
        "BUNDLESPECIFICATION",
        create_bundle,
        {
            "KEYMANAGEMENT": Param(enum("ISAKMP", "MANUAL"), required=True),
            "STRING": Param(_bundle_string, required=True),
            "EXPIRYKBYTES": Param(_clamp_kbytes),
            "EXPIRYSECONDS": Param(int_range(300, 31449600)),
        },
        int_range(0, 255),
    ),  # fmt: skip
    Command(
        "SET",
        "IPSEC",
        "BUNDLESPECIFICATION",
        set_bundle,
        {
            "EXPIRYKBYTES": Param(_clamp_kbytes),
            "EXPIRYSECONDS": Param(int_range(300, 31449600)),
        },
        int_range(0, 255),
    ),  # fmt: skip
    Command("DESTROY", "IPSEC", "BUNDLESPECIFICATION", destroy_bundle, {}, int_range(0, 255)),
    Command("CREATE", "IPSEC", "POLICY", create_policy, POLICY_CREATE, name_len(1, 23)),
    Command("SET", "IPSEC", "POLICY", set_policy, POLICY_SET, name_len(1, 23)),
    Command(
        "DESTROY",
        "IPSEC",
        "POLICY",
        destroy_policy,
        {"SABUNDLE": Param(int_range(0, 65535))},
        name_len(1, 23),
    ),  # fmt: skip
    Command(
        "ENABLE",
        "IPSEC",
        "POLICY",
        debug_policy,
        {
            "DEBUG": Param(enum("FILTER", "PACKET", "TRACE", "ALL"), required=True),
            "DISPLAY": Param(text),
            "WHERE": Param(text),
            "RESULT": Param(text),
            "SELECTOR": Param(text),
        },
        name_len(1, 23),
        False,
    ),  # fmt: skip
    Command(
        "DISABLE",
        "IPSEC",
        "POLICY",
        undebug_policy,
        {"DEBUG": Param(enum("FILTER", "PACKET", "TRACE", "ALL"))},
        name_len(1, 23),
        False,
    ),  # fmt: skip
    Command("ENABLE", "IPSEC", None, enable_ipsec, {}),
    Command("DISABLE", "IPSEC", None, disable_ipsec, {}),
    Command("PURGE", "IPSEC", None, purge_ipsec, {}),
    Command("SET", "IPSEC", "UDPPORT", set_ipsec_udpport, {}, int_range(0, 65535)),
    Command(
        "ENABLE",
        "ISAKMP",
        None,
        enable_isakmp,
        {
            "DEBUG": Param(
                enum("ALL", "DEFAULT", "PACKET", "PKT", "PKTRAW", "STATE", "TRACE", "TRACEMORE")
            ),
            "UDPPORT": Param(int_range(1, 65535)),
            "LOCALRSAKEY": Param(int_range(0, 65535)),
            "POLICYSERVERENABLED": BOOL,
            "POLICYFILENAME": Param(text),
        },
    ),  # fmt: skip
    Command(
        "DISABLE",
        "ISAKMP",
        None,
        disable_isakmp,
        {
            "DEBUG": Param(
                enum("ALL", "DEFAULT", "PACKET", "PKT", "PKTRAW", "STATE", "TRACE", "TRACEMORE")
            ),
        },
    ),  # fmt: skip
    Command("CREATE", "ISAKMP", "POLICY", create_isakmp_policy, ISAKMP_CREATE, name_len(1, 24)),
    Command("SET", "ISAKMP", "POLICY", set_isakmp_policy, ISAKMP_SET, name_len(1, 24)),
    Command("DESTROY", "ISAKMP", "POLICY", destroy_isakmp_policy, {}, name_len(1, 24)),
    Command("ADD", "IP", "INTERFACE", add_ip_interface, _IP_INT, name_len(1, 32)),
    Command(
        "DELETE",
        "IP",
        "INTERFACE",
        delete_ip_interface,
        {"IPADDRESS": Param(ipv4)},
        name_len(1, 32),
    ),  # fmt: skip
    Command(
        "ADD",
        "IP",
        "ROUTE",
        add_ip_route,
        {
            "MASK": Param(_mask),
            "INTERFACE": Param(name_len(1, 32)),
            "NEXTHOP": Param(ipv4),
            "METRIC": Param(int_range(1, 16)),
            "PREFERENCE": Param(int_range(0, 65535)),
            "POLICY": Param(text),
            "TAG": Param(text),
            "DESCRIPTION": Param(text),
        },
        ipv4,
    ),  # fmt: skip
    Command("SET", "SYSTEM", "NAME", set_system_name, {}, name_len(1, 63)),
]
