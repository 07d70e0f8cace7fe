"""``SHOW CONFIG DYNAMIC[=module]`` for the AR570S dialect (seed 002 L1774, L1898).

Prints the commands that rebuild the current configuration of the IPSEC,
ISAKMP, ENCO and IP modules, in an order the AR parser accepts (keys, SA
specs, bundles, policies, module enables).  Only values differing from the
documented defaults are written, so the output reads like the manual's own
procedures; ``parse_ar(dynamic_config(cfg))`` rebuilds the same model (tested).
The seed names the command but shows no sample, so the layout is inferred.
"""

from __future__ import annotations

import ipaddress

from engine.config.ar_model import ArIpsecPolicy, ArIsakmpPolicy, ArState
from engine.config.model import Config

MODULES = ("IP", "ENCO", "IPSEC", "ISAKMP")


def _q(value: object) -> str:
    """A parameter value, double-quoted when it has blanks or is empty (L2164, L2168)."""
    text = str(value)
    if text == "" or any(c.isspace() for c in text) or "=" in text:
        return f'"{text}"'
    return text


def _b(flag: bool) -> str:
    return "TRUE" if flag else "FALSE"


def _ip(cfg: Config) -> list[str]:
    out = []
    for name, intf in cfg.interfaces.items():
        for a in intf.addresses:
            out.append(f"ADD IP INT={name} IP={a.ip} MASK={a.netmask}")
        if not intf.addresses:
            out.append(f"ADD IP INT={name} IP=0.0.0.0")  # unnumbered (L1485-1490)
    for r in cfg.routes:
        if not isinstance(r.prefix, ipaddress.IPv4Network):
            continue
        line = f"ADD IP ROUTE={r.prefix.network_address} MASK={r.prefix.netmask}"
        if r.interface:
            line += f" INT={r.interface}"
        line += f" NEXTHOP={r.next_hop or '0.0.0.0'}"
        out.append(line)
    return out


def _enco(ar: ArState) -> list[str]:
    out = []
    for k in ar.enco_keys.values():
        value = (
            _q(k.text)
            if k.text is not None
            else "0x" + (k.value.hex().upper() if k.type != "GENERAL" else k.value.hex())
        )
        line = f"CREATE ENCO KEY={k.number} TYPE={k.type} VALUE={value}"
        if k.description:
            line += f" DESCRIPTION={_q(k.description)}"
        out.append(line)
    return out


def _policy_lines(p: ArIpsecPolicy) -> list[str]:
    create = f"CREATE IPSEC POLICY={p.name} INT={p.interface} ACTION={p.action}"
    if p.action == "IPSEC":
        create += f" KEYMAN={p.keyman} BUNDLE={p.bundle} PEER={p.peer}"
    sets: list[str] = []
    defaults = ArIpsecPolicy(p.name, p.interface, p.action)
    pairs = [
        ("LADDRESS", "laddress"), ("LMASK", "lmask"), ("LNAME", "lname"), ("LPORT", "lport"),
        ("RADDRESS", "raddress"), ("RMASK", "rmask"), ("RNAME", "rname"), ("RPORT", "rport"),
        ("TRANSPORTPROTOCOL", "transport"), ("DFBIT", "dfbit"), ("GROUP", "group"),
        ("UDPPORT", "udpport"), ("ISAKMPPOLICY", "isakmppolicy"),
        ("SRCINTERFACE", "srcinterface"), ("IPROUTETEMPLATE", "iproutetemplate"),
        ("ICMPTYPE", "icmptype"),
    ]  # fmt: skip
    for param, attr in pairs:
        v = getattr(p, attr)
        if v != getattr(defaults, attr) and v is not None:
            sets.append(f"{param}={_q(v)}")
    for param, attr in (
        ("USEPFSKEY", "usepfskey"),
        ("UDPTUNNEL", "udptunnel"),
        ("UDPHEARTBEAT", "udpheartbeat"),
        ("RESPONDBADSPI", "respondbadspi"),
    ):
        if getattr(p, attr):
            sets.append(f"{param}=TRUE")  # fmt: skip
    if p.ipversion != 4:
        sets.append(f"IPVERSION={p.ipversion}")
    lines = [create]
    if sets:
        lines.append(f"SET IPSEC POLICY={p.name} " + " ".join(sets))
    return lines


def _ipsec(ar: ArState) -> list[str]:
    out = []
    for s in sorted(ar.saspecs.values(), key=lambda x: x.id):
        line = f"CREATE IPSEC SASPEC={s.id} KEYMAN={s.keyman} PROTOCOL={s.protocol}"
        if s.mode != "TUNNEL":
            line += f" MODE={s.mode}"
        for param, v in (
            ("ENCALG", s.encalg),
            ("ENCKEY", s.enckey),
            ("HASHALG", s.hashalg),
            ("HASHKEY", s.hashkey),
            ("INSPI", s.inspi),
            ("OUTSPI", s.outspi),
        ):
            if v is not None:
                line += f" {param}={v}"  # fmt: skip
        if s.antireplay:
            line += " ANTIREPLAYENABLED=TRUE"
        if s.replaywindow != 32:
            line += f" REPLAYWINDOWSIZE={s.replaywindow}"
        out.append(line)
    for b in sorted(ar.bundles.values(), key=lambda x: x.id):
        line = f'CREATE IPSEC BUNDLE={b.id} KEYMAN={b.keyman} STRING="{b.string}"'
        if b.expiry_kbytes is not None:
            line += f" EXPIRYKBYTES={b.expiry_kbytes}"
        if b.expiry_seconds != 28800:
            line += f" EXPIRYSECONDS={b.expiry_seconds}"
        out.append(line)
    for p in ar.policies:
        out += _policy_lines(p)
    if ar.ipsec_udpport != 2746:
        out.append(f"SET IPSEC UDPPORT={ar.ipsec_udpport}")
    if ar.ipsec_enabled:
        out.append("ENABLE IPSEC")
    return out


_ISAKMP = (
    ("AUTHTYPE", "authtype"), ("KEY", "key"), ("ENCALG", "encalg"), ("HASHALG", "hashalg"),
    ("GROUP", "group"), ("MODE", "mode"), ("EXPIRYSECONDS", "expiry_seconds"),
    ("EXPIRYKBYTES", "expiry_kbytes"), ("DPDMODE", "dpdmode"),
    ("DPDIDLETIMEOUT", "dpdidletimeout"), ("MSGTIMEOUT", "msgtimeout"),
    ("MSGRETRYLIMIT", "msgretrylimit"), ("MSGBACKOFF", "msgbackoff"), ("LOCALID", "localid"),
    ("REMOTEID", "remoteid"), ("XAUTH", "xauth"), ("XAUTHNAME", "xauthname"),
    ("XAUTHPASSWORD", "xauthpassword"),
)  # fmt: skip


def _isakmp(ar: ArState) -> list[str]:
    out = []
    for p in ar.isakmp_policies:
        d = ArIsakmpPolicy(p.name, p.peer)
        line = f"CREATE ISAKMP POLICY={_q(p.name)} PEER={p.peer}"
        for param, attr in _ISAKMP:
            v = getattr(p, attr)
            if v != getattr(d, attr) and v is not None:
                line += f" {param}={_q(v)}"
        for param, attr in (
            ("NATTRAVERSAL", "natt"),
            ("SENDNOTIFY", "sendnotify"),
            ("SENDDELETES", "senddeletes"),
            ("REKEY", "rekey"),
        ):
            if getattr(p, attr):
                line += f" {param}=TRUE"  # fmt: skip
        for param, v in p.extra.items():
            line += f" {param}={_q(v)}"
        out.append(line)
    if ar.isakmp_udpport != 500:
        out.append(f"ENABLE ISAKMP UDPPORT={ar.isakmp_udpport}")
    elif ar.isakmp_enabled:
        out.append("ENABLE ISAKMP")
    return out


def dynamic_config(cfg: Config, module: str | None = None) -> str:
    """The command script of ``module`` (IP, ENCO, IPSEC, ISAKMP) or of all of them."""
    ar = cfg.ar if cfg.ar is not None else ArState()
    parts = {"IP": lambda: _ip(cfg), "ENCO": lambda: _enco(ar), "IPSEC": lambda: _ipsec(ar),
             "ISAKMP": lambda: _isakmp(ar)}  # fmt: skip
    lines: list[str] = []
    for name in MODULES if module is None else (module,):
        body = parts[name]()
        if body:
            lines += ["#", f"# {name} configuration", "#", *body]
    return "\n".join(lines) + ("\n" if lines else "")
