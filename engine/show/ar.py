"""Allied Telesis AR570S show commands (seed 002 part C samples) over the shared views.

Formats follow the seed's sample screens (spec/seed002-c-ar-show.md §4-15):
dotted-leader screens put every value in the screen's measured column
(``label ...... value``, sub-levels indented); tabular screens keep the
header words, column order and separator lengths (the PDF lost the column
padding, so the widths here are chosen).  Every command returns
``(text, data)``; ``data`` is the JSON form.

Runtime data comes from ``engine.show.views.ShowState`` (the same views the IOS
formatters read): a flow's crypto map entry (``<interface>`` / seq, or the
dynamic map ``ar-dyn-<policy>``) names the AR policy that created it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict
from typing import Any

from engine.config.ar import ArError, resolve, tokenize
from engine.config.ar_model import ArIpsecPolicy, ArState
from engine.config.model import Config
from engine.show.views import IpsecFlowView, IsakmpSaView, ShowState

Out = tuple[str, Any]

#: Runtime data the shared views lack (``runtime_extras``): per outbound SPI (int keys)
#: the negotiated lifetimes and bytes, and under ``"ike"`` the IKE engine's counters.
Extras = dict[Any, Any]

#: seed L5843, L7213: 77; L4769, L5348: 72; L6358: 74; L5443, L5457: 71; L6927: 75; L6664: 65.
SEP77, SEP72, SEP74, SEP71, SEP75, SEP65, SEP80 = (
    "-" * n for n in (77, 72, 74, 71, 75, 65, 80)
)  # L5272, L5288: 80

_ENC_NAMES = {"des": "DES", "3des": "3DES", "aes": "AES128", "aes128": "AES128",
              "aes192": "AES192", "aes256": "AES256", "null": "NULL"}  # fmt: skip
_HASH_NAMES = {"sha": "SHA", "sha1": "SHA", "md5": "MD5", "hmac-sha1-96": "SHA",
               "hmac-md5-96": "MD5"}  # fmt: skip
_ISAKMP_ENC_DETAIL = {"DES": "DES - 56 bit", "3DESOUTER": "3DES - 168 bit",
                      "AES128": "AES - 128 bit", "AES192": "AES - 192 bit",
                      "AES256": "AES - 256 bit"}  # fmt: skip


class ShowError(Exception):
    """A refused show command; ``text`` is the device's ``Error (...)`` line."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def dots(label: str, value: Any, col: int, indent: int = 0) -> str:
    """``label ..... value`` with the value starting at 1-based column ``col``."""
    n = max(1, col - 1 - indent - len(label) - 2)
    value = "" if value is None else str(value)
    return (" " * indent + f"{label} " + "." * n + (f" {value}" if value != "" else "")).rstrip()


def _yn(flag: bool) -> str:
    return "TRUE" if flag else "FALSE"


def _dash(v: Any) -> str:
    return "-" if v is None or v == "" else str(v)


def _ar(cfg: Config) -> ArState:
    return cfg.ar if cfg.ar is not None else ArState()


# ------------------------------------------------------------------ runtime mapping


def flow_policy(cfg: Config, flow: IpsecFlowView) -> ArIpsecPolicy | None:
    """The AR IPsec policy whose crypto map entry created ``flow``."""
    ar = _ar(cfg)
    name = None
    if flow.crypto_map.startswith("ar-dyn-"):
        name = flow.crypto_map[len("ar-dyn-") :]
    else:
        cmap = cfg.crypto_maps.get(flow.crypto_map)
        entry = cmap.entries.get(flow.seq) if cmap else None
        name = entry.description if entry else None
    return ar.policy(name) if name else None


def ipsec_sas(cfg: Config, state: ShowState) -> list[dict[str, Any]]:
    """One row per IPsec SA (one per protocol of a bundle, L1832-1853), ids in order."""
    rows: list[dict[str, Any]] = []
    for flow in state.ipsec_flows:
        pol = flow_policy(cfg, flow)
        sa_ids = []
        for proto, outs, ins in (("ESP", flow.outbound_esp, flow.inbound_esp),
                                 ("AH", flow.outbound_ah, flow.inbound_ah)):  # fmt: skip
            out = next((s for s in outs if s.status == "ACTIVE"), None)
            inn = next((s for s in ins if s.status == "ACTIVE"), None)
            if out is None and inn is None:
                continue
            sa_ids.append(len(rows))
            rows.append({
                "id": len(rows), "policy": pol.name if pol else flow.crypto_map,
                "bundle": pol.bundle if pol else 0, "state": "Valid", "protocol": proto,
                "out_spi": out.spi if out else 0, "in_spi": inn.spi if inn else 0,
                "mode": (out or inn).mode.upper(),  # type: ignore[union-attr]
                "local": flow.local_endpoint, "remote": flow.remote_endpoint,
                "remaining_sec": (out or inn).remaining_sec,  # type: ignore[union-attr]
                "transform": (out or inn).transform,  # type: ignore[union-attr]
                "replay": (inn or out).replay_detection,  # type: ignore[union-attr]
                "replay_window": (inn or out).replay_window,  # type: ignore[union-attr]
                "sent": flow.counters.encaps, "received": flow.counters.decaps,
                "flow": flow,
            })  # fmt: skip
    return rows


# ------------------------------------------------------------------ SHOW IPSEC ...


def show_ipsec(cfg: Config) -> Out:
    """SHOW IPSEC (L4718-4728)."""
    ar = _ar(cfg)
    udp = any(p.udptunnel for p in ar.policies) and ar.ipsec_enabled
    data = {"module_status": "ENABLED" if ar.ipsec_enabled else "DISABLED",
            "udp_status": "OPEN" if udp else "CLOSED", "listen_port": ar.ipsec_udpport}  # fmt: skip
    lines = [
        "IPSEC Module Configuration",
        dots("Module Status", data["module_status"], 42),
        "IPsec over UDP",
        dots("Status", data["udp_status"], 42, 2),
        dots("Listen Port", ar.ipsec_udpport, 42, 2),
    ]
    return "\n".join(lines) + "\n", data


def show_saspec(cfg: Config, spec_id: int | None) -> Out:
    """SHOW IPSEC SASPECIFICATION[=n] (L6354-6392)."""
    ar = _ar(cfg)
    if spec_id is not None:
        s = ar.saspecs.get(spec_id)
        if s is None:
            raise ShowError(f"Error (181002): SA specification {spec_id} does not exist.")
        rows = [
            ("Id", s.id), ("Protocol", s.protocol), ("Key Management", s.keyman),
            ("Mode", s.mode), ("Encryption Algorithm", s.encalg or "NULL"),
            ("Hash Algorithm", s.hashalg or "NULL"), ("Compression Algorithm", "-"),
            ("In SPI", _dash(s.inspi)), ("Out SPI", _dash(s.outspi)),
            ("Encryption Key", _dash(s.enckey)), ("Hash Key", _dash(s.hashkey)),
            ("AntiReplay Enabled", _yn(s.antireplay)), ("Replay Window Size", s.replaywindow),
        ]  # fmt: skip
        text = "Sa Specification\n" + "\n".join(dots(k, v, 34) for k, v in rows) + "\n"
        return text, asdict(s)
    lines = ["ID Proto KeyMan Mode EncAlg HashAlg CompAlg InSpi EncKey HashKey", SEP74]
    for s in sorted(ar.saspecs.values(), key=lambda x: x.id):
        lines.append(f"{s.id:<4}{s.protocol:<6}{s.keyman:<8}{s.mode:<10}{s.encalg or 'NULL':<10}"
                     f"{s.hashalg or 'NULL':<8}{'-':<8}{_dash(s.inspi):<11}{_dash(s.enckey):<7}"
                     f"{_dash(s.hashkey)}")  # fmt: skip
    return "\n".join(lines) + "\n", [asdict(s) for s in ar.saspecs.values()]


def _bundle_text(string: str) -> str:
    """The bundle string as the device prints it: operators lower case (L4771)."""
    import re

    return re.sub(r"(?i)\b(and|or)\b", lambda m: m.group(1).lower(), string)


def show_bundle(cfg: Config, bundle_id: int | None) -> Out:
    """SHOW IPSEC BUNDLESPECIFICATION[=n] (L4765-4806)."""
    ar = _ar(cfg)
    if bundle_id is not None:
        b = ar.bundles.get(bundle_id)
        if b is None:
            raise ShowError(f"Error (181005): Bundle specification {bundle_id} does not exist.")
        props = [(n, g) for cand in b.candidates for n, g in enumerate(cand, start=1)]
        lines = [
            "Bundle Specification",
            dots("Id", b.id, 34),
            dots("Key Management", b.keyman, 34),
            dots("String", _bundle_text(b.string), 34),
            dots("Expiry Kilobytes", _dash(b.expiry_kbytes), 34),
            dots("Expiry Seconds", b.expiry_seconds, 34),
            dots("Num of Proposals", len(props), 34),
        ]
        for idx, (_, group) in enumerate(props, start=1):
            proto = ar.saspecs[group[0]].protocol if group[0] in ar.saspecs else "?"
            cand_no = next(i for i, c in enumerate(b.candidates, 1) if group in c)
            lines += [
                dots("Proposal", idx, 34),
                dots("ProposalNumber", cand_no, 34, 4),
                dots("Protocol", proto, 34, 4),
                # "Transfroms" is the device's own spelling (L4795, L4804)
                dots("Number Of Transfroms", len(group), 34, 4),
            ]
            lines += [dots(f"Transform {t}", f"SA Spec Id {n}", 34, 9)
                      for t, n in enumerate(group)]  # fmt: skip
        data = asdict(b)
        return "\n".join(lines) + "\n", data
    lines = ["ID KeyManagement ExpKBytes ExpSec String", SEP72]
    for b in sorted(ar.bundles.values(), key=lambda x: x.id):
        lines.append(f"{b.id:<4}{b.keyman:<15}{_dash(b.expiry_kbytes):<11}{b.expiry_seconds:<9}"
                     f"{_bundle_text(b.string)}")  # fmt: skip
    return "\n".join(lines) + "\n", [asdict(b) for b in ar.bundles.values()]


def _positions(ar: ArState) -> dict[str, int]:
    out: dict[str, int] = {}
    for ifname in ar.interfaces():
        for pos, p in enumerate(ar.interface_policies(ifname), start=1):
            out[p.name] = pos
    return out


def _bundle_rows(
    cfg: Config, state: ShowState, pol: ArIpsecPolicy, extras: Extras | None = None
) -> list[dict[str, Any]]:
    """SA bundles created from ``pol``: index, SA ids, state, byte/second limits."""
    ar = _ar(cfg)
    b = ar.bundles.get(pol.bundle) if pol.bundle is not None else None
    hard = b.expiry_seconds if b else 28800
    hard_kb = b.expiry_kbytes if b else None
    out = []
    sas = ipsec_sas(cfg, state)
    flows: list[IpsecFlowView] = []
    for row in sas:
        if row["policy"] == pol.name and row["flow"] not in flows:
            flows.append(row["flow"])
    for idx, flow in enumerate(flows):
        ids = [r["id"] for r in sas if r["flow"] is flow]
        remaining = next(r["remaining_sec"] for r in sas if r["flow"] is flow)
        # soft = 95 % of hard (inferred from L1764, L1871) unless the SADB says otherwise
        secs = [hard, int(hard * 0.95), max(0, hard - int(remaining))]
        used_bytes = None
        x = (extras or {}).get(flow.current_outbound_spi)
        if x is not None:  # negotiated lifetime (the peer may have offered less)
            secs = [int(x["hard"]), int(x["soft"]), int(x["used"])]
            used_bytes = int(x["bytes"])
        out.append({
            "index": idx, "sas": ids, "state": "VALID",
            "bytes": [hard_kb * 1024 if hard_kb else None, int(hard_kb * 1024 * 0.95)
                      if hard_kb else None, used_bytes],
            "seconds": secs,
        })  # fmt: skip
    return out


def _limits(v: list[Any]) -> str:
    return "/".join(_dash(x) for x in v)


def show_policy(cfg: Config, state: ShowState, name: str | None, sabundle: bool,
                counters: bool, extras: Extras | None = None) -> Out:  # fmt: skip
    """SHOW IPSEC POLICY[=name] [SABUNDLE] [COUNTERS] (L5344-5514)."""
    ar = _ar(cfg)
    pols = ar.policies
    if name is not None:
        pol = ar.policy(name)
        if pol is None:
            raise ShowError(f"Error (181008): IPSEC policy {name} does not exist.")
        pols = [pol]
    if sabundle:
        lines = ["Ipsec Policy SA Bundles", "Bundle Expiry Limits - hard/soft/used",
                 "Index SA's State Bytes Seconds", SEP72]  # fmt: skip
        data = {}
        for p in pols:
            lines.append(f"Policy ..........{p.name}")
            rows = _bundle_rows(cfg, state, p, extras)
            data[p.name] = rows
            for r in rows:
                lines.append(f"{r['index']:<6}{','.join(map(str, r['sas'])):<8}{r['state']:<7}"
                             f"{_limits(r['bytes']):<16}{_limits(r['seconds'])}")  # fmt: skip
        return "\n".join(lines) + "\n", data
    if counters:
        from engine.show.ar_counters import policy_counters

        return policy_counters(cfg, state, pols)
    pos = _positions(ar)
    if name is None:
        lines = ["Interface Name Action KeyManagement Position", SEP72]
        for ifname in ar.interfaces():
            for p in ar.interface_policies(ifname):
                lines.append(f"{p.interface:<10}{p.name:<24}{p.action:<7}{_dash(p.keyman):<14}"
                             f"{pos[p.name]}")  # fmt: skip
        data = [_policy_data(p, pos[p.name]) for p in ar.policies]
        return "\n".join(lines) + "\n", data
    p = pols[0]
    local = _local_address(cfg, p)
    rows: list[tuple[str, Any, int]] = [
        ("Name", p.name, 0), ("Interface", p.interface, 0),
        ("Source Interface", _dash(p.srcinterface), 0), ("Position", pos[p.name], 0),
        ("Action", p.action, 0), ("Key Management", _dash(p.keyman), 0),
        ("Isakmp Policy Name", p.isakmppolicy or "", 0),
        ("Bundle Specification", _dash(p.bundle), 0),
        ("Peer IP Address Dynamic", _yn(p.peer == "DYNAMIC"), 0),
        ("Peer IP Address Any", _yn(p.peer == "ANY"), 0),
        ("Local IP Address Dynamic", _yn(local is None), 0),
        ("Peer IP Address", p.peer if p.peer not in (None, "ANY", "DYNAMIC") else "-", 0),
        ("Local IP Address", _dash(local), 0),
        ("Use PFS Key", _yn(p.usepfskey), 0), ("Group", p.group, 0),
    ]  # fmt: skip
    lines = ["Ipsec Policy Information"] + [dots(k, v, 34, i) for k, v, i in rows]
    lines.append("Filter:")
    filt = [
        ("Local Address", _sel_addr(p.laddress)), ("Local Mask", _sel_mask(p.laddress, p.lmask)),
        ("Local Port", p.lport), ("Local Name", p.lname),
        ("Remote Address", _sel_addr(p.raddress)),
        ("Remote Mask", _sel_mask(p.raddress, p.rmask)), ("Remote Port", p.rport),
        ("Remote Name", p.rname), ("Transport Protocol", p.transport),
        ("Sa Selector From Pkt", "00000000"),
    ]  # fmt: skip
    lines += [dots(k, v, 34, 2) for k, v in filt]
    lines.append(dots("DF Bit", p.dfbit, 34))
    lines.append(dots("UDP Tunnel", _yn(p.udptunnel), 34))
    udp = [("Peer Port", p.udpport if p.udptunnel else "-"),
           ("Peer IP Address", p.peer if p.udptunnel and p.peer else "-"),
           ("Internal IP Address", "-"),
           ("HeartBeats Enabled", _yn(p.udpheartbeat) if p.udptunnel else "-")]  # fmt: skip
    lines += [dots(k, v, 34, 4) for k, v in udp]
    debug = [("Debug device", 16), ("Filter debug flags", _flags(p, "FILTER")),
             ("Packet debug flags", _flags(p, "PACKET")), ("Trace debug flags",
             _flags(p, "TRACE")), ("Packet debug length", 72),
             ("Max Out Packet queue length", 20), ("Number of Out Packets queued", 0)]  # fmt: skip
    lines += [dots(k, v, 34) for k, v in debug]
    bundles = _bundle_rows(cfg, state, p, extras)
    lines += ["Bundles", "Bundle Expiry Limits - hard/soft/used",
              "Index SA's State Bytes Seconds", SEP71]  # fmt: skip
    for r in bundles:
        lines.append(f"{r['index']:<6}{','.join(map(str, r['sas'])):<8}{r['state']:<7}"
                     f"{_limits(r['bytes']):<16}{_limits(r['seconds'])}")  # fmt: skip
    data = _policy_data(p, pos[p.name]) | {"local_address": local, "bundles": bundles}
    return "\n".join(lines) + "\n", data


def _flags(p: ArIpsecPolicy, kind: str) -> str:
    return "00000001" if kind in p.debug or "ALL" in p.debug else "00000000"


def _sel_addr(addr: str) -> str:
    return addr


def _sel_mask(addr: str, mask: str | None) -> str:
    if addr == "ANY":
        return "ANY"
    return mask or "255.255.255.255"


def _local_address(cfg: Config, p: ArIpsecPolicy) -> str | None:
    for name in (p.srcinterface, p.interface):
        intf = next((i for k, i in cfg.interfaces.items() if name and k.lower() == name.lower()),
                    None)  # fmt: skip
        if intf is not None and intf.addresses:
            return str(intf.addresses[0].ip)
    return None


def _policy_data(p: ArIpsecPolicy, pos: int) -> dict[str, Any]:
    d = asdict(p)
    d["debug"] = sorted(p.debug)
    d["position"] = pos
    return d


def show_ipsec_sa(cfg: Config, state: ShowState, sa_id: int | None) -> Out:
    """SHOW IPSEC SA[=n] (L5839-5904)."""
    rows = ipsec_sas(cfg, state)
    data = [{k: v for k, v in r.items() if k != "flow"} for r in rows]
    if sa_id is None:
        lines = ["SA Id Policy Bundle State Protocol OutSPI InSPI", SEP77]
        for r in rows:
            lines.append(f"{r['id']:<6}{r['policy']:<24}{r['bundle']:<7}{r['state']:<6}"
                         f"{r['protocol']:<9}{r['out_spi']:<11}{r['in_spi']}")  # fmt: skip
        return "\n".join(lines) + "\n", data
    r = next((x for x in rows if x["id"] == sa_id), None)
    if r is None:
        raise ShowError(f"Error (181050): SA {sa_id} does not exist.")
    ar = _ar(cfg)
    pol = ar.policy(r["policy"])
    spec_id = _spec_used(ar, pol, r["protocol"])
    spec = ar.saspecs.get(spec_id) if spec_id is not None else None
    lines = [dots("SA Id", r["id"], 43)]
    rows2: list[tuple[str, Any]] = [
        ("Policy", r["policy"]), ("Bundle", r["bundle"]), ("SA Specification Used", _dash(spec_id)),
        ("State", r["state"]), ("Protocol", r["protocol"]), ("Mode", r["mode"]),
        ("Outbound SPI", r["out_spi"]), ("Inbound SPI", r["in_spi"]),
    ]  # fmt: skip
    if r["mode"] == "TUNNEL":
        rows2 += [
            ("Local tunnel IP address", r["local"]),
            ("Remote tunnel IP address", r["remote"]),
        ]
    if r["protocol"] == "ESP":
        rows2 += [("Encryption algorithm", spec.encalg if spec else "-"),
                  ("Encryption ENCO channel", 2)]  # fmt: skip
    rows2 += [("Hash algorithm", (spec.hashalg if spec else None) or "NULL"),
              ("Hash ENCO channel", 3)]  # fmt: skip
    lines += [dots(k, v, 43, 2) for k, v in rows2]
    lines.append("  Filters")
    flow: IpsecFlowView = r["flow"]
    filt = [("Local IP address", flow.local_ident.addr),
            ("Local IP address mask", flow.local_ident.mask),
            ("Remote IP address", flow.remote_ident.addr),
            ("Remote IP address mask", flow.remote_ident.mask),
            ("Local Name", pol.lname if pol else "ANY"),
            ("Remote Name", pol.rname if pol else "ANY")]  # fmt: skip
    lines += [dots(k, v, 43, 4) for k, v in filt]
    tail = [("DF Bit", pol.dfbit if pol else "CLEAR"),
            ("Last sent sequence number", r["sent"]),
            ("Anti-replay checking enabled", _yn(r["replay"]))]  # fmt: skip
    if r["replay"]:
        tail.append(("Anti-replay window size", r["replay_window"]))
    tail += [("Debug device", 16), ("Filter debug flags", "00000000"),
             ("Packet debug flags", "00000000"), ("Trace debug flags", "00000000"),
             ("Packet debug length", 72)]  # fmt: skip
    lines += [dots(k, v, 43, 2) for k, v in tail]
    return "\n".join(lines) + "\n", data[sa_id] | {"sa_spec": spec_id}


def _spec_used(ar: ArState, pol: ArIpsecPolicy | None, proto: str) -> int | None:
    if pol is None or pol.bundle not in ar.bundles:
        return None
    for cand in ar.bundles[pol.bundle].candidates:  # type: ignore[index]
        for group in cand:
            for n in group:
                if n in ar.saspecs and ar.saspecs[n].protocol == proto:
                    return n
    return None


# ------------------------------------------------------------------ SHOW ISAKMP ...


def show_isakmp(cfg: Config) -> Out:
    """SHOW ISAKMP (L6470-6486)."""
    ar = _ar(cfg)
    debug = "".join("1" if f in ar.isakmp_debug else "0"
                    for f in ("PACKET", "STATE", "-", "TRACE", "-", "-", "-", "-"))  # fmt: skip
    if "PKT" in ar.isakmp_debug or "ALL" in ar.isakmp_debug or "DEFAULT" in ar.isakmp_debug:
        debug = "1" + debug[1:]
    rows = [("Module Status", "ENABLED" if ar.isakmp_enabled else "DISABLED"),
            ("UDP Port", ar.isakmp_udpport), ("Debug Flag", debug),
            ("Global Debug Device", 0), ("Local RSA Key", "-"),
            ("VPN Client Policy Server Enabled", "FALSE"),
            ("VPN Client Policy File Name", "")]  # fmt: skip
    text = "ISAKMP Module Configuration\n" + "\n".join(dots(k, v, 42) for k, v in rows) + "\n"
    return text, {k: v for k, v in rows}


def show_isakmp_policy(cfg: Config, name: str | None) -> Out:
    """SHOW ISAKMP POLICY[=name] (L6919-7020)."""
    ar = _ar(cfg)
    if name is None:
        lines = ["ISAKMP Policies", "Name PeerAddress", "Mode AuthType EncAlg HashAlg", SEP75]
        for p in ar.isakmp_policies:
            lines.append(f"{p.name:<25}{p.peer}")
            lines.append(f"{_xchg(p.mode):<7}{p.authtype:<10}{p.encalg:<10}{p.hashalg}")
        return "\n".join(lines) + "\n", [asdict(p) for p in ar.isakmp_policies]
    p = ar.isakmp_policy(name)
    if p is None:
        raise ShowError(f"Error (182002): ISAKMP policy {name} does not exist.")
    x = p.extra
    rows: list[tuple[str, Any]] = [
        ("Name", p.name), ("Peer Address", p.peer), ("Phase1 Mode", _xchg(p.mode)),
        ("Authentication Type", p.authtype), ("Extended Authentication", p.xauth),
        ("Extended Authentication Type", x.get("XAUTHTYPE", "GENERIC") if p.xauth != "NONE"
         else "-"),
        ("Extended Authentication User Name", _dash(p.xauthname)),
        ("Extended Authentication Password", _dash(p.xauthpassword)),
        ("Key Id", _dash(p.key)), ("Local RSA key", x.get("LOCALRSAKEY", "-")),
        ("Peer Certificate Id", "-"), ("Phase 2 Exchanges Limit", x.get("PHASE2XCHGLIMIT", "NONE")),
        ("PreNegotiate", x.get("PRENEGOTIATE", "FALSE")), ("DOI", "IPSEC"),
        ("Send Notify Messages", _yn(p.sendnotify)), ("Send Delete Messages", _yn(p.senddeletes)),
        ("Always Send ID Messages", x.get("SENDIDALWAYS", "FALSE")),
        ("Commit Bit", x.get("SETCOMMITBIT", "FALSE")),
        ("Message Retry Limit", p.msgretrylimit), ("Message Time Out", p.msgtimeout),
        ("Message Back-off", p.msgbackoff.capitalize()),
        ("Exchange Delete Delay", x.get("DELETEDELAY", "30")),
        ("Source Interface", x.get("SRCINTERFACE", "-")),
        ("VPN Client Policy File Name", x.get("POLICYFILENAME", "-")),
        ("Local ID", _dash(p.localid)), ("Remote ID", _id_text(p.remoteid)),
        ("DebugFlag", "00000000"), ("Retry IKE Attempts", x.get("RETRYIKEATTEMPTS", "0")),
        ("Current IKE Retries", 0), ("Required IKE Retry Phase", "No Phases"),
    ]  # fmt: skip
    if p.rekey:
        rows.append(("Rekey on SA Soft Expiry", "TRUE"))  # only when enabled (L7125-7130)
    lines = ["ISAKMP Policy"] + [dots(k, v, 41) for k, v in rows] + ["SA Specification"]
    spec = [
        ("Encryption Algorithm", _ISAKMP_ENC_DETAIL[p.encalg]), ("Hash Algorithm", p.hashalg),
        ("Group Description", p.group), ("DH Private Exponent Bits",
                                         x.get("DHEXPONENTLENGTH", "160")),
        ("Heartbeat Mode", x.get("HEARTBEATMODE", "NONE")), ("DPD Mode", p.dpdmode),
        ("DPD Idle Timeout", p.dpdidletimeout), ("Group Type", "MODP"),
        ("Expiry Seconds", p.expiry_seconds), ("Expiry Kilobytes", _dash(p.expiry_kbytes)),
        ("NAT Traversal", _yn(p.natt)),
    ]  # fmt: skip
    lines += [dots(k, v, 41) for k, v in spec]
    return "\n".join(lines) + "\n", asdict(p)


def _xchg(mode: str) -> str:
    return "AGGR" if mode == "AGGRESSIVE" else "IDPROT"


def _id_text(ident: str | None) -> str:
    """``IPv4:a.b.c.d`` for address IDs (L6986), the string otherwise."""
    if not ident:
        return "-"
    try:
        ipaddress.IPv4Address(ident)
        return f"IPv4:{ident}"
    except ValueError:
        return ident


def _isakmp_hard(cfg: Config, sa: IsakmpSaView) -> int:
    ar = _ar(cfg)
    for p in ar.isakmp_policies:
        if p.peer == sa.remote:
            return p.expiry_seconds
    anyp = next((p for p in ar.isakmp_policies if p.peer == "ANY"), None)
    return anyp.expiry_seconds if anyp else 86400


def show_isakmp_sa(cfg: Config, state: ShowState, sa_id: int | None) -> Out:
    """SHOW ISAKMP SA[=n] (L7207-7215; detail form reduced to the fields the engine knows)."""
    rows = []
    for sa in state.isakmp_sas:
        if sa.deleted or sa.state not in ("QM_IDLE",):
            continue
        hard = _isakmp_hard(cfg, sa)
        rows.append({
            "id": sa.conn_id, "peer": sa.remote or sa.dst,
            "enc": _ENC_NAMES.get(sa.encryption, sa.encryption.upper()),
            "hash": _HASH_NAMES.get(sa.hash, sa.hash.upper()),
            "seconds": [hard, int(hard * 0.95), max(0, hard - int(sa.lifetime_remaining))],
            "local": sa.local, "initiator": sa.initiator, "mode": sa.mode,
            "nat_t": "N" in sa.capabilities,
        })  # fmt: skip
    if sa_id is None:
        lines = ["Expiry Limits - hard/soft/used", "SA Id PeerAddress EncA. HashA. Bytes Seconds",
                 SEP77]  # fmt: skip
        for r in rows:
            lines.append(f"{r['id']:<6}{r['peer']:<17}{r['enc']:<6}{r['hash']:<7}{'-/-/-':<15}"
                         f"{_limits(r['seconds'])}")  # fmt: skip
        return "\n".join(lines) + "\n", rows
    r = next((x for x in rows if x["id"] == sa_id), None)
    if r is None:
        raise ShowError(f"Error (182050): ISAKMP SA {sa_id} does not exist.")
    return _isakmp_sa_detail(cfg, r), r


def _isakmp_sa_detail(cfg: Config, r: dict[str, Any]) -> str:
    """``SHOW ISAKMP SA=n`` (L7217-7332): the fields the engine knows, in the sample's order."""
    ar = _ar(cfg)
    pol = next((p for p in ar.isakmp_policies if p.peer == r["peer"]), None) or next(
        (p for p in ar.isakmp_policies if p.peer == "ANY"), None
    )
    hard = r["seconds"][0]
    kb = pol.expiry_kbytes if pol else None
    top: list[tuple[str, Any]] = [
        ("Initiator Cookie", r.get("icookie") or "-"),
        ("Responder Cookie", r.get("rcookie") or "-"),
        ("DOI", "IPSEC"), ("Policy name", pol.name if pol else "-"), ("State", "ACTIVE"),
        ("Local address", r["local"]), ("Remote Address", r["peer"]),
        ("Time of establishment", ""), ("Commit bit set", pol.extra.get("SETCOMMITBIT", "FALSE")
                                         if pol else "FALSE"),
        ("Send notifies", _yn(pol.sendnotify) if pol else "FALSE"),
        ("Send deletes", _yn(pol.senddeletes) if pol else "FALSE"),
        ("Message Retry Limit", pol.msgretrylimit if pol else 8),
        ("Initial Message Retry Timeout (s)", pol.msgtimeout if pol else 4),
        ("Message Back-off", (pol.msgbackoff if pol else "INCREMENTAL").capitalize()),
        ("Exchange Delete Delay (s)", pol.extra.get("DELETEDELAY", "30") if pol else 30),
        ("Do Xauth", _yn(bool(pol) and pol.xauth != "NONE")),
        ("Expiry Limit (bytes)", kb * 1024 if kb else "-"),
        ("Soft Expiry Limit (bytes)", int(kb * 1024 * 0.875) if kb else "-"),
        ("Bytes seen", "-"),
        ("Expiry Limit (seconds)", hard), ("Soft Expiry Limit (seconds)", r["seconds"][1]),
        ("Seconds since creation", r["seconds"][2]),
        ("Number of Phase 2 exchanges allowed", 4294967295), ("Number of acquires queued", 0),
    ]  # fmt: skip
    lines = [dots("SA Id", r["id"], 41)] + [dots(k, v, 41, 2) for k, v in top]
    lines.append("  Sa Definition Information:")
    enc = _ISAKMP_ENC_DETAIL.get(pol.encalg, r["enc"]) if pol else r["enc"]
    group = pol.group if pol else 1
    sadef = [("Authentication Type", pol.authtype if pol else "PRESHARED"),
             ("Encryption Algorithm", enc), ("Hash Algorithm", r["hash"]),
             ("group Type", "MODP"), ("group Description", {0: "MODP512", 1: "MODP768",
                                                             2: "MODP1024"}.get(group, group)),
             ("DH Private Exponent Bits", pol.extra.get("DHEXPONENTLENGTH", "160") if pol
              else 160),
             ("expiry seconds", hard), ("expiry kilobytes", _dash(kb))]  # fmt: skip
    lines += [dots(k, v, 41, 2) for k, v in sadef]
    lines.append("  NAT-Traversal Information:")
    natt = [("NAT-T enabled", "YES" if pol and pol.natt else "NO"),
            ("Peer NAT-T capable", "YES" if r["nat_t"] else "NO"),
            ("NAT discovered", "REMOTE" if r["nat_t"] else "NONE")]  # fmt: skip
    lines += [dots(k, v, 41, 2) for k, v in natt]
    lines.append("  DPD information:")
    lines += [dots("DPD Mode", pol.dpdmode if pol else "NONE", 41, 2),
              dots("State", "Active", 41, 2), dots("Retry Count", 0, 41, 2)]  # fmt: skip
    return "\n".join(lines) + "\n"


def show_ipsec_isakmp(cfg: Config, state: ShowState) -> Out:
    """SHOW IPSEC ISAKMP (L5266-5288): each IPsec SA with its ISAKMP SA and that SA's life."""
    isakmp = {r["peer"]: r for r in show_isakmp_sa(cfg, state, None)[1]}
    ar = _ar(cfg)
    lines = ["IPSEC ISAKMP Expiry Limits - hard/soft/used",
             "SA Id NAT-OA SA Id Peer Address DPD ISAKMP SA Lifetime (secs)", SEP80]  # fmt: skip
    data = []
    for r in ipsec_sas(cfg, state):
        ike = isakmp.get(r["remote"])
        if ike is None:
            continue  # manual keys: no ISAKMP SA
        pol = next((p for p in ar.isakmp_policies if p.peer in (r["remote"], "ANY")), None)
        # DPD column: blank when the local DPD mode is NONE (L5298-5304)
        dpd = {"BOTH": "Act", "RECEIVE": "ActRx"}.get(pol.dpdmode if pol else "NONE", "")
        natoa = "N/A (Tnl Mode)" if r["mode"] == "TUNNEL" else "-"
        row = {"ipsec_sa": r["id"], "nat_oa": natoa, "isakmp_sa": ike["id"],
               "peer": r["remote"], "dpd": dpd, "seconds": ike["seconds"]}  # fmt: skip
        data.append(row)
        lines.append(f"{r['id']:<6}{natoa:<16}{ike['id']:<6}{r['remote']:<17}{dpd:<6}"
                     f"{_limits(ike['seconds'])}")  # fmt: skip
    lines.append(SEP80)
    return "\n".join(lines) + "\n", data


#: Exchange states for SHOW ISAKMP EXCHANGE from the IOS-style negotiation states.
_XCHG_STATES = {"MM_NO_STATE": ("1", "SASENT", "IDPROT"), "MM_SA_SETUP": ("1", "KESENT", "IDPROT"),
                "MM_KEY_EXCH": ("1", "AUTHSENT", "IDPROT"),
                "AG_INIT_EXCH": ("1", "AGGR_SA_KE_NONCE", "AGGRESS")}  # fmt: skip


def show_isakmp_exchange(state: ShowState) -> Out:
    """SHOW ISAKMP EXCHANGE (L1822-1830): only incomplete exchanges; nothing when none."""
    rows = []
    for sa in state.isakmp_sas:
        if sa.deleted or sa.state not in _XCHG_STATES:
            continue
        phase, st, typ = _XCHG_STATES[sa.state]
        rows.append({"id": sa.conn_id, "phase": phase, "state": st, "peer": sa.remote,
                     "type": typ})  # fmt: skip
    if not rows:
        return "", []
    lines = ["ISAKMP Exchanges", "Id Phase State PeerAddress Type", SEP65]
    lines += [f"{r['id']:<5}{r['phase']:<6}{r['state']:<22}{r['peer']:<17}{r['type']}"
              for r in rows]  # fmt: skip
    return "\n".join(lines) + "\n", rows


def show_enco_key(cfg: Config, number: int) -> Out:
    """SHOW ENCO KEY=n (L273-289): the value, then the associated IP address."""
    k = _ar(cfg).enco_keys.get(number)
    if k is None:
        raise ShowError(f"Error (073005): Key {number} does not exist.")
    hexv = k.value.hex()
    value = "0x" + (hexv.upper() if k.type != "GENERAL" else hexv)
    if k.text is not None:
        value = k.text
    return f"{value}\nIP Address:\n-\n", {"number": k.number, "type": k.type, "value": value}


# ------------------------------------------------------------------ dispatcher


def _int(tok: Any, name: str) -> int:
    if not (tok.value or "").isdigit():
        raise ShowError(
            f'Error (3001006): Value "{tok.value}" is not valid for parameter "{name}".'
        )
    return int(tok.value)


def run_ar_show(cmd: str, config: Config, state: ShowState, extras: Extras | None = None) -> Out:
    """Run an AR show command (``show ipsec policy=vpn``, abbreviations allowed)."""
    toks = tokenize(cmd.strip())
    words = [t.name for t in toks]
    try:
        verb = resolve(words[0], ("SHOW",)) if toks and toks[0].value is None else None
    except IndexError:
        verb = None
    if verb != "SHOW" or len(toks) < 2:
        raise ShowError(f'Error (3001001): Unknown command "{cmd.strip()}".')
    module = resolve(words[1], ("IPSEC", "ISAKMP", "ENCO", "CONFIG", "LOG"))
    rest = toks[2:]
    if module == "IPSEC":
        if not rest:
            return show_ipsec(config)
        obj = resolve(rest[0].name, ("SASPECIFICATION", "BUNDLESPECIFICATION", "POLICY", "SA",
                                     "COUNTERS", "ISAKMP"))  # fmt: skip
        flags = {resolve(t.name, ("SABUNDLE", "COUNTERS")) for t in rest[1:]}
        if None in flags or "" in flags:
            bad = next(t for t in rest[1:] if not resolve(t.name, ("SABUNDLE", "COUNTERS")))
            raise ShowError(f'Error (3001003): Parameter "{bad.name}" not recognised.')
        if obj == "ISAKMP":
            return show_ipsec_isakmp(config, state)
        if obj == "SASPECIFICATION":
            return show_saspec(config, _int(rest[0], obj) if rest[0].value else None)
        if obj == "BUNDLESPECIFICATION":
            return show_bundle(config, _int(rest[0], obj) if rest[0].value else None)
        if obj == "POLICY":
            return show_policy(config, state, rest[0].value or None, "SABUNDLE" in flags,
                               "COUNTERS" in flags, extras)  # fmt: skip
        if obj == "SA":
            sa_id = _int(rest[0], obj) if rest[0].value else None
            if "COUNTERS" in flags:
                from engine.show.ar_counters import show_ipsec_sa_counters

                return show_ipsec_sa_counters(config, state, sa_id)
            return show_ipsec_sa(config, state, sa_id)
    elif module == "ISAKMP":
        if not rest:
            return show_isakmp(config)
        obj = resolve(rest[0].name, ("POLICY", "SA", "EXCHANGE", "COUNTERS"))
        if obj == "POLICY":
            return show_isakmp_policy(config, rest[0].value or None)
        if obj == "SA":
            return show_isakmp_sa(config, state, _int(rest[0], obj) if rest[0].value else None)
        if obj == "EXCHANGE":
            return show_isakmp_exchange(state)
        if obj == "COUNTERS":
            from engine.show.ar_counters import isakmp_counters

            return isakmp_counters(rest[0].value, (extras or {}).get("ike", {}))
    elif module == "CONFIG" and rest and resolve(rest[0].name, ("DYNAMIC",)) == "DYNAMIC":
        from engine.show.ar_config import MODULES, dynamic_config

        which = None
        if rest[0].value:
            which = resolve(rest[0].value, MODULES)
            if not which:
                raise ShowError(
                    f'Error (3001006): Value "{rest[0].value}" is not valid for parameter '
                    '"DYNAMIC".'
                )
        text = dynamic_config(config, which)
        return text, text.splitlines()
    elif module == "LOG":
        return _show_log(config, rest, extras or {})
    elif module == "ENCO" and rest and resolve(rest[0].name, ("KEY",)) == "KEY":
        return show_enco_key(config, _int(rest[0], "KEY"))
    raise ShowError(f'Error (3001001): Unknown command "{cmd.strip()}".')


def _show_log(config: Config, rest: list[Any], extras: Extras) -> Out:
    """SHOW LOG [MODULE=ISAK|IPSE] [TYPE=IKMP|IPSC] (L1782-1786, L1905-1909)."""
    from engine.show.ar_log import show_log

    module = type_ = None
    for t in rest:
        name = resolve(t.name, ("MODULE", "TYPE"))
        value = (t.value or "").upper()
        if name == "MODULE" and value[:4] in ("ISAK", "IPSE"):
            module = value[:4]
        elif name == "TYPE" and value in ("IKMP", "IPSC"):
            type_ = value
        else:
            raise ShowError(f'Error (3001003): Parameter "{t.text}" not recognised.')
    return show_log(config, extras.get("events", []), extras.get("started", 0.0), module, type_)


def runtime_extras(raw: dict[str, Any]) -> Extras:
    """Per outbound SPI: negotiated hard/soft lifetime, seconds used, bytes (runner SADB).

    The shared views carry only the remaining seconds; the AR screens print
    hard/soft/used limits (L5630-5644), so they are read from ``sadb.entries``.
    """
    now = float(raw.get("now", 0.0))
    out: Extras = {}
    if raw.get("event_log") is not None:  # [(epoch seconds, engine.ike.events event)]
        out["events"] = list(raw["event_log"])
        out["started"] = float(raw.get("started", 0.0) or 0.0)
    counters = getattr(raw.get("ike"), "counters", None)
    if counters is not None:
        out["ike"] = {k: int(v) for k, v in vars(counters).items() if isinstance(v, int)}
    for e in getattr(raw.get("sadb"), "entries", []) or []:
        if getattr(e, "dead", False):
            continue
        try:
            installed = float(e.installed)
            info = {"hard": float(e.hard_seconds) - installed,
                    "soft": float(e.soft_seconds) - installed, "used": now - installed,
                    "bytes": float(e.bytes_out() + e.bytes_in())}  # fmt: skip
            for k in e.pair.outbound:
                out[int(k.spi)] = info
        except (AttributeError, TypeError, ValueError):
            continue  # a half-built entry degrades to the view's remaining seconds
    return out


def dispatch_ar(
    cmd: str, config: Config, state: ShowState, extras: Extras | None = None
) -> dict[str, Any]:
    """Control-socket reply for an AR device command."""
    try:
        text, data = run_ar_show(cmd, config, state, extras)
    except ShowError as e:
        return {"ok": False, "error": e.text}
    except ArError as e:
        return {"ok": False, "error": e.message}
    return {"ok": True, "output": text, "data": data}
