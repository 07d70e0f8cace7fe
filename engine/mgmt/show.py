"""Exec commands of the IPsec MIB chapter (seed 001 ch. 4, L1513-1543).

Plugged into ``engine.show.commands.COMMANDS`` (same grammar, abbreviations and
error handling as every other exec command).
"""

from __future__ import annotations

from typing import Any

DEFAULT_HISTORY_SIZE = 200  # L1481, L1498
MIB_VERSION = 1  # L1536; equals cipSecMibLevel.0 (L821)
DEBUG_MIB = "Crypto IPsec Mgmt Entity debugging is on"  # L1541-1542


def failure_size(cfg: Any) -> tuple[str, dict]:
    n = cfg.mgmt.ipsec_history_failure_size or DEFAULT_HISTORY_SIZE
    return f"IPSec Failure Window Size: {n}\n", {"failure_size": n}


def tunnel_size(cfg: Any) -> tuple[str, dict]:
    n = cfg.mgmt.ipsec_history_tunnel_size or DEFAULT_HISTORY_SIZE
    return f"IPSec History Window Size: {n}\n", {"tunnel_size": n}


def version(cfg: Any) -> tuple[str, dict]:
    return f"IPSec Flow MIB version: {MIB_VERSION}\n", {"version": MIB_VERSION}


def debug_mib(on: bool) -> tuple[str, dict]:
    return (DEBUG_MIB if on else DEBUG_MIB.replace(" is on", " is off")) + "\n", {
        "debug": "mib", "on": on}


_FLOWMIB = "show crypto mib ipsec flowmib "
COMMANDS = [
    (_FLOWMIB + "history failure size", lambda c, s, m: failure_size(c)),
    (_FLOWMIB + "history tunnel size", lambda c, s, m: tunnel_size(c)),
    (_FLOWMIB + "version", lambda c, s, m: version(c)),
    ("debug crypto mib [{detail|error}]", lambda c, s, m: debug_mib(True)),
    ("no debug crypto mib [{detail|error}]", lambda c, s, m: debug_mib(False)),
    ("undebug crypto mib [{detail|error}]", lambda c, s, m: debug_mib(False)),
]


# -- show crypto mib ipsec flowmib {global|tunnel|endpoint|spi} (seed 001 L2876-3125) -----------


def _flowmib() -> Any:
    from engine.mgmt import current

    m = current()
    return (m.flowmib, m.sadb) if m is not None else (None, None)


def _hms(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _objects(s: Any, cfg: Any) -> dict:
    fm, sadb = _flowmib()
    return fm.objects(s.now, sadb, cfg) if fm is not None else {}


def ipsec_global(cfg: Any, s: Any) -> tuple[str, dict]:
    """L2935-2970: the cipSecGlobal* counters in the device's wording."""
    from engine.mgmt import snmp_mib as mib

    o = _objects(s, cfg)
    g = {n: (o.get(mib.IPSEC_GLOBAL + (i, 0)) or ("", 0))[1]
         for i, n in enumerate(mib.IPSEC_GLOBAL_NAMES, start=1)}
    rows = [("Active Tunnels", g["ActiveTunnels"]), ("Previous Tunnels", g["PreviousTunnels"]),
            ("In octets", g["InOctets"]), ("Out octets", g["OutOctets"]),
            ("In packets", g["InPkts"]), ("Out packets", g["OutPkts"]),
            ("Uncompressed encrypted bytes", g["OutUncompOctets"]),
            ("In packets drops", g["InDrops"]), ("Out packets drops", g["OutDrops"]),
            ("In replay drops", g["InReplayDrops"]), ("In authentications", g["InAuths"]),
            ("Out authentications", g["OutAuths"]), ("In decrypts", g["InDecrypts"]),
            ("Out encrypts", g["OutEncrypts"]), ("Compressed bytes", 0),
            ("Uncompressed bytes", 0), ("In uncompressed bytes", 0),
            ("Out uncompressed bytes", 0), ("In decrypt failures", g["InDecryptFails"]),
            ("Out encrypt failures", g["OutEncryptFails"]), ("No SA failures", g["NoSaFails"]),
            ("Protocol use failures", g["ProtocolUseFails"]),
            ("System capacity failures", g["SysCapFails"]),
            ("In authentication failures", g["InAuthFails"]),
            ("Out authentication failures", g["OutAuthFails"])]
    lines = ["vrf Global"] + [f"  {k + ':':<31}{v}" for k, v in rows]
    return "\n".join(lines) + "\n", {"vrf": "Global", **g}


def ipsec_spi(cfg: Any, s: Any) -> tuple[str, dict]:
    """L3032-3064: per tunnel, its SPIs (hex, AH in/out then ESP in/out)."""
    from engine.mgmt import snmp_mib as mib

    o = _objects(s, cfg)
    lines, data = ["vrf Global"], []
    tunnels = sorted({k[-2] for k in o if k[:len(mib.SPI)] == mib.SPI})
    for t in tunnels:
        lines.append(f"{'Tunnel Index:':<19}{t}")
        n = 1
        while mib.SPI + (3, t, n) in o:
            spi = o[mib.SPI + (3, t, n)][1]
            d = "In" if o[mib.SPI + (2, t, n)][1] == 1 else "Out"
            p = "AH" if o[mib.SPI + (4, t, n)][1] == 1 else "ESP"
            lines += [f"{'SPI Index:':<19}{n}", f"{'SPI Value:':<19}0x{spi:X}",
                      f"{'SPI Direction:':<19}{d}", f"{'SPI Protocol:':<19}{p}",
                      f"{'SPI Status:':<19}Active"]
            data.append({"tunnel": t, "index": n, "spi": spi, "direction": d, "protocol": p})
            n += 1
    return "\n".join(lines) + "\n", {"vrf": "Global", "spis": data}


def ipsec_endpoint(cfg: Any, s: Any) -> tuple[str, dict]:
    """L2891-2916: local/remote proxy identities of the active tunnels."""
    fm, _ = _flowmib()
    lines, data = ["vrf Global"], []
    for t in sorted(fm.ipsec.values(), key=lambda x: x.index) if fm is not None else []:
        row: dict[str, Any] = {"index": t.index}
        lines.append(f"  Index: {t.index}")
        for side, ts in (("Local", t.pair.local_ts), ("Remote", t.pair.remote_ts)):
            net = ts.network
            single = net.prefixlen == net.max_prefixlen
            kind = "Single IP address" if single else "Subnet"
            addr = str(net.network_address) if single else f"{net.network_address} {net.netmask}"
            lines += [f"  {side} type: {kind}", f"  {side} address: {addr}"]
            if side == "Local":
                lines.append(f"  Protocol: {ts.protocol}")
            lines.append(f"  {side} port: {ts.port}")
            row[side.lower()] = {"type": kind, "address": addr, "port": ts.port}
        data.append(row)
    return "\n".join(lines) + "\n", {"vrf": "Global", "endpoints": data}


_ENC = {2: "des", 3: "3des"}
_AUTH = {2: "ESP_HMAC_MD5", 3: "ESP_HMAC_SHA"}


def ipsec_tunnel(cfg: Any, s: Any, index: int | None = None) -> tuple[str, dict]:
    """L3066-3125: active IPsec tunnels with lifetimes, algorithms and counters."""
    from engine.mgmt import snmp_mib as mib

    fm, _ = _flowmib()
    o = _objects(s, cfg)
    lines, data = ["vrf Global"], []
    for t in sorted(fm.ipsec.values(), key=lambda x: x.index) if fm is not None else []:
        if index is not None and t.index != index:
            continue
        v = {c: (o.get(mib.IPSEC_TUN + (c, t.index)) or ("", 0))[1] for c in range(2, 52)}
        esp_in = t.pair.keys("esp", "in")
        enc = esp_in.encr if esp_in is not None else "none"
        rows = [("Index", t.index), ("Local address", t.pair.local),
                ("Remote address", t.pair.peer), ("IPSEC keying", "IKE"),
                ("Encapsulation mode", v[7]), ("Lifetime (KB)", v[8]), ("Lifetime (Sec)", v[9]),
                ("Active time", _hms(v[10] / 100)), ("Lifetime threshold (KB)", v[11]),
                ("Lifetime threshold (Sec)", v[12]), ("Total number of refreshes", v[13]),
                ("Expired SA instances", v[14]), ("Current SA instances", v[15]),
                ("In SA DH group", t.pair.pfs_group or 0), ("In sa encrypt algorithm", enc),
                ("In SA ESP auth algo", _AUTH.get(v[19], "None")),
                ("Out SA encryption algorithm", enc),
                ("Out SA ESP auth algorithm", _AUTH.get(v[24], "None")),
                ("In octets", v[26]), ("In packets", v[32]), ("In drops", v[33]),
                ("In replay drops", v[34]), ("In authentications", v[35]),
                ("In authentication failures", v[36]), ("In decrypts", v[37]),
                ("In decrypt failures", v[38]), ("Out octets", v[39]),
                ("Out uncompressed octets", v[42]), ("Out packets", v[45]),
                ("Out drops", v[46]), ("Out authentications", v[47]),
                ("Out authentication failures", v[48]), ("Out encryptions", v[49]),
                ("Out encryption failures", v[50])]
        lines += [f"{k + ':':<19}{val}" if len(k) < 18 else f"{k}: {val}" for k, val in rows]
        data.append(dict(rows))
    return "\n".join(lines) + "\n", {"vrf": "Global", "tunnels": data}


def _vrf(fn):
    """``vrf NAME``: the engine has only the global table; another VRF shows no rows."""

    def run(c: Any, s: Any, m: Any) -> tuple[str, dict]:
        v = m.get("v")
        if v is not None and v.lower() != "global":
            return f"vrf {v}\n", {"vrf": v}
        return fn(c, s, m)

    return run


COMMANDS += [
    (_FLOWMIB + "global [vrf <v:WORD>]", _vrf(lambda c, s, m: ipsec_global(c, s))),
    (_FLOWMIB + "spi [vrf <v:WORD>]", _vrf(lambda c, s, m: ipsec_spi(c, s))),
    (_FLOWMIB + "endpoint [vrf <v:WORD>]", _vrf(lambda c, s, m: ipsec_endpoint(c, s))),
    (_FLOWMIB + "tunnel [index <i:INT(1-2147483647)>] [vrf <v:WORD>]",
     _vrf(lambda c, s, m: ipsec_tunnel(c, s, m.get("i")))),
]


# -- show crypto mib isakmp flowmib {peer|tunnel|history|failure}, ipsec history|failure ---------

_REASON = {1: "other", 2: "normal", 3: "Operation request", 4: "peer delete request",
           5: "peer lost", 6: "local failure"}
_ENCR_NAME = {"des": "des", "3des": "3des"}


def _policy_priority(cfg: Any, up: Any) -> int | str:
    """The ISAKMP policy the SA matches (encryption/hash/group), for ``Policy priority``."""
    enc = {"3des": "3des", "des": "des"}.get(up.encryption, "aes")
    hsh = {"sha1": "sha", "md5": "md5"}.get(up.hash, up.hash)
    for p in cfg.sorted_policies() if hasattr(cfg, "sorted_policies") else []:
        if p.encryption == enc and p.hash == hsh and p.group == up.group:
            return p.priority
    return 65535  # IOS's default policy priority


def _ike_lines(cfg: Any, t: Any, now: float) -> list[tuple[str, Any]]:
    up = t.up
    return [
        ("Local type", "ID_IPV4_ADDR"), ("Local address", up.local[0]),
        ("Remote type", "ID_IPV4_ADDR"), ("Remote address", up.peer[0]),
        ("Negotiation mode", "Main Mode" if up.mode == "main" else "Aggressive Mode"),
        ("Diffie Hellman Grp", up.group),
        ("Encryption algo", _ENCR_NAME.get(up.encryption, up.encryption)),
        ("Hash algo", {"sha1": "sha"}.get(up.hash, up.hash)),
        ("Auth method", "psk" if up.auth == "psk" else up.auth), ("Lifetime", up.lifetime),
        ("Active time", _hms(now - t.created)), ("Policy priority", _policy_priority(cfg, up)),
        ("Keepalive enabled", "Yes" if getattr(cfg.globals, "keepalive", None) else "No"),
        # IKE message counters are not kept by the engine (0), as in its MIB view
        ("In octets", 0), ("In packets", 0), ("In drops", 0), ("In notifys", 0),
        ("In P2 exchanges", 0), ("In P2 exchg invalids", 0), ("In P2 exchg rejected", 0),
        ("In P2 SA delete reqs", 0), ("Out octets", 0), ("Out packets", 0), ("Out drops", 0),
        ("Out notifys", 0), ("Out P2 exchgs", 0), ("Out P2 exchg invalids", 0),
        ("Out P2 exchg rejects", 0), ("Out P2 Sa delete requests", 0)]


def isakmp_peer(cfg: Any, s: Any) -> tuple[str, dict]:
    """L2802-2831: active ISAKMP peer associations."""
    fm, _ = _flowmib()
    lines, data = ["vrf Global"], []
    for t in sorted(fm.ike.values(), key=lambda x: x.index) if fm is not None else []:
        rows = [("Index", t.index), ("Local type", "ID_IPV4_ADDR"),
                ("Local address", t.up.local[0]), ("Remote type", "ID_IPV4_ADDR"),
                ("Remote address", t.up.peer[0])]
        lines += [f"  {k}: {v}" for k, v in rows]
        data.append(dict(rows))
    return "\n".join(lines) + "\n", {"vrf": "Global", "peers": data}


def isakmp_tunnel(cfg: Any, s: Any, index: int | None = None) -> tuple[str, dict]:
    """L2833-2874: active ISAKMP tunnels."""
    fm, _ = _flowmib()
    lines, data = ["vrf Global"], []
    for t in sorted(fm.ike.values(), key=lambda x: x.index) if fm is not None else []:
        if index is not None and t.index != index:
            continue
        rows = [("Index", t.index), *_ike_lines(cfg, t, s.now)]
        lines += [f"  {k}: {v}" for k, v in rows]
        data.append(dict(rows))
    return "\n".join(lines) + "\n", {"vrf": "Global", "tunnels": data}


def isakmp_history(cfg: Any, s: Any) -> tuple[str, dict]:
    """L2722-2800: terminated ISAKMP tunnels with the reason."""
    fm, _ = _flowmib()
    lines, data = ["vrf Global"], []
    for r in list(fm.ike_hist) if fm is not None else []:
        rows = [("Reason", _REASON.get(r["reason"], "other")), ("Index", r["index"]),
                *_ike_lines(cfg, r["tun"], r["now"])]
        lines += [f"{k}: {v}" for k, v in rows]
        data.append(dict(rows))
    return "\n".join(lines) + "\n", {"vrf": "Global", "history": data}


def isakmp_failure(cfg: Any, s: Any) -> tuple[str, dict]:
    """L2639-2681: ISAKMP setup failures."""
    fm, _ = _flowmib()
    lines, data = ["vrf Global"], []
    for r in list(fm.ike_fail) if fm is not None else []:
        rows = [("Index", r["index"]), ("Reason", r["text"]),
                ("Failure time since reset", _hms(r["now"])), ("Remote type", "ID_IPV4_ADDR"),
                ("Remote Value", r["peer"]), ("Remote Address", r["peer"])]
        lines += [f"{k + ':':<21}{v}" for k, v in rows]
        data.append(dict(rows))
    return "\n".join(lines) + "\n", {"vrf": "Global", "failures": data}


def ipsec_history(cfg: Any, s: Any) -> tuple[str, dict]:
    """L2972-3030: terminated IPsec tunnels (reason, lifetimes, usage)."""
    fm, _ = _flowmib()
    lines, data = ["vrf Global"], []
    for r in list(fm.ipsec_hist) if fm is not None else []:
        t, u = r["tun"], r["usage"]
        p = t.pair
        rows = [("Reason", _REASON.get(r["reason"], "other")), ("Index", r["index"]),
                ("Local address", p.local), ("Remote address", p.peer), ("IPSEC keying", "IKE"),
                ("Encapsulation mode", 1 if p.mode == "tunnel" else 2),
                ("Lifetime (KB)", p.lifetime_kilobytes), ("Lifetime (Sec)", p.lifetime_seconds),
                ("Active time", _hms(r["now"] - t.created)),
                ("Current SA instances", len(p.inbound) + len(p.outbound)),
                ("In octets", u["InOctets"]), ("In packets", u["InPkts"]),
                ("In drops", u["InDrops"]), ("In replay drops", u["InReplayDrops"]),
                ("In authentications", u["InAuths"]), ("In decrypts", u["InDecrypts"]),
                ("Out octets", u["OutOctets"]), ("Out packets", u["OutPkts"]),
                ("Out drops", u["OutDrops"]), ("Out authentications", u["OutAuths"]),
                ("Out encryptions", u["OutEncrypts"])]
        lines += [f"  {k + ':':<31}{v}" for k, v in rows]
        data.append(dict(rows))
    return "\n".join(lines) + "\n", {"vrf": "Global", "history": data}


def ipsec_failure(cfg: Any, s: Any) -> tuple[str, dict]:
    """L2918-2933: IPsec (phase 2) failures."""
    fm, _ = _flowmib()
    lines, data = ["vrf Global"], []
    for r in list(fm.ipsec_fail) if fm is not None else []:
        rows = [("Index", r["index"]), ("Reason", r["text"]),
                ("Failure time since reset", _hms(r["now"])),
                ("Destination address", r["peer"]), ("SPI", 0)]
        lines += [f"  {k}: {v}" for k, v in rows]
        data.append(dict(rows))
    return "\n".join(lines) + "\n", {"vrf": "Global", "failures": data}


_ISA = "show crypto mib isakmp flowmib "
COMMANDS += [
    (_ISA + "peer [index <i:INT(1-2147483647)>] [vrf <v:WORD>]",
     _vrf(lambda c, s, m: isakmp_peer(c, s))),
    (_ISA + "tunnel [index <i:INT(1-2147483647)>] [vrf <v:WORD>]",
     _vrf(lambda c, s, m: isakmp_tunnel(c, s, m.get("i")))),
    (_ISA + "history [vrf <v:WORD>]", _vrf(lambda c, s, m: isakmp_history(c, s))),
    (_ISA + "failure [vrf <v:WORD>]", _vrf(lambda c, s, m: isakmp_failure(c, s))),
    (_FLOWMIB + "history [vrf <v:WORD>]", _vrf(lambda c, s, m: ipsec_history(c, s))),
    (_FLOWMIB + "failure [vrf <v:WORD>]", _vrf(lambda c, s, m: ipsec_failure(c, s))),
]
