"""ESP key export for strongSwan nodes, parsed from charon's level-4 ``chd`` log.

strongSwan 5.9.8 ``keymat_v1.c`` (``derive_child_keys``) logs, at level 4 of
``chd``, the Quick Mode KEYMAT split into keys (RFC 2409 §5.5)::

    ... 09[CHD] <sw-sw|1> encryption initiator key => 16 bytes @ 0x7f...
    ... 09[CHD] <sw-sw|1>    0: 0F 1E ...  ....
    ... 15[IKE] <sw-sw|1> CHILD_SA net{1} established with SPIs c5a1..._i cf1b..._o and TS ...

"initiator" keys protect Quick Mode initiator -> responder traffic, under
the SPI the responder chose; "responder" keys the reverse. Whether this node
was the Quick Mode initiator follows from the last ``generating`` / ``parsed
QUICK_MODE request`` line of the same IKE_SA (``ike_name = yes`` prefixes
every line with ``<name|unique id>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.daemons import NodeContext

# "<ts> 09[CHD] <conn|1> text" -- thread, subsystem, optional IKE name prefix.
# The prefix is "<name|id>", or just "<id>" before a responder knows its config
# (e.g. Main Mode keys); lines are grouped by the IKE_SA's unique id.
_LINE = re.compile(r"^\S+ (?P<thread>\d+)\[(?P<sub>\w+)\] "
                   r"(?:<(?:[^>|]*\|)?(?P<ike>\d+)> )?(?P<text>.*)$")
_KEY_HEAD = re.compile(r"^(?P<kind>encryption|integrity) (?P<role>initiator|responder) key "
                       r"=> (?P<len>\d+) bytes @")
# keymat_v1.c derive_ike_keys, DBG4(DBG_IKE): the phase-1 encryption key.
_KA_HEAD = re.compile(r"^encryption key (?P<kind>Ka) => (?P<len>\d+) bytes @")
_HEX_ROW = re.compile(r"^\s*\d+: ((?:[0-9A-F]{2} ?)+)")
_RESTART = "Starting IKE charon daemon"
# Quick Mode initiators generate requests (msgs 1, 3), responders parse them.
_QM = re.compile(r"^(?P<dir>generating|parsed) QUICK_MODE request ")
_ESTABLISHED = re.compile(r"^CHILD_SA (?P<name>\S+)\{\d+\} established with SPIs "
                          r"(?P<spi_in>[0-9a-f]{8})_i(?: [0-9a-f]{4}_i)? "
                          r"(?P<spi_out>[0-9a-f]{8})_o")

#: strongSwan (VICI) ESP algorithm names → engine/crypto/algorithms.py names.
ENCR_NAMES = {("AES_CBC", 128): "aes128", ("AES_CBC", 192): "aes192",
              ("AES_CBC", 256): "aes256", ("3DES_CBC", 0): "3des", ("DES_CBC", 0): "des",
              ("NULL", 0): "null", ("AES_GCM_16", 128): "aes128gcm16",
              ("AES_GCM_16", 192): "aes192gcm16", ("AES_GCM_16", 256): "aes256gcm16"}
INTEG_NAMES = {"HMAC_MD5_96": "hmac-md5-96", "HMAC_SHA1_96": "hmac-sha1-96",
               "HMAC_SHA2_256_128": "hmac-sha256-128", "HMAC_SHA2_384_192": "hmac-sha384-192",
               "HMAC_SHA2_512_256": "hmac-sha512-256"}


@dataclass
class _Pending:
    """Keys seen for one IKE_SA, waiting for their "established" line."""

    keys: dict[str, bytes] = field(default_factory=dict)
    qm_initiator: bool | None = None


@dataclass
class ChildKeys:
    """Keys of one CHILD_SA pair as found in the log."""

    ike: str            # unique id of the IKE_SA
    child: str
    spi_in: int
    spi_out: int
    encr_in: bytes
    encr_out: bytes
    integ_in: bytes
    integ_out: bytes


def _hex_blocks(text: str, head: re.Pattern[str]) -> list[tuple[str, re.Match[str], bytes]]:
    """(IKE name prefix, header match, bytes) for every ``head`` line + hex rows."""
    out: list[tuple[str, re.Match[str], bytes]] = []
    current: tuple[str, re.Match[str], int] | None = None
    hexbuf = ""
    for raw in text.splitlines():
        m = _LINE.match(raw)
        if m is None:
            continue
        ike, msg = m["ike"] or "", m["text"]
        if current is not None:
            row = _HEX_ROW.match(msg)
            if row and ike == current[0]:
                hexbuf += row.group(1).replace(" ", "")
                if len(hexbuf) >= 2 * current[2]:
                    out.append((ike, current[1], bytes.fromhex(hexbuf[: 2 * current[2]])))
                    current = None
                continue
            current = None
        if (h := head.match(msg)) is not None:
            current, hexbuf = (ike, h, int(h["len"])), ""
    return out


def parse_ike_log(text: str) -> dict[int, bytes]:
    """Phase-1 encryption keys (Ka) by IKE_SA unique id."""
    return {int(ike): key for ike, _, key in _hex_blocks(text, _KA_HEAD) if ike}


def parse_log(text: str) -> list[ChildKeys]:
    """All CHILD_SA key sets in a charon log (oldest first); never raises."""
    pending: dict[str, _Pending] = {}
    out: list[ChildKeys] = []
    current: tuple[str, str, int] | None = None   # (ike, "encryption initiator", length)
    hexbuf = ""
    for raw in text.splitlines():
        m = _LINE.match(raw)
        if m is None:
            continue
        ike, msg = m["ike"] or "", m["text"]
        if current is not None:
            row = _HEX_ROW.match(msg)
            if row and ike == current[0]:
                hexbuf += row.group(1).replace(" ", "")
                if len(hexbuf) >= 2 * current[2]:
                    pending.setdefault(ike, _Pending()).keys[current[1]] = (
                        bytes.fromhex(hexbuf[: 2 * current[2]]))
                    current = None
                continue
            current = None
        if msg.startswith(_RESTART):       # a restarted charon reuses unique ids
            pending.clear()
            continue
        if (k := _KEY_HEAD.match(msg)) is not None:
            current, hexbuf = (ike, f"{k['kind']} {k['role']}", int(k["len"])), ""
            continue
        if (q := _QM.match(msg)) is not None:
            pending.setdefault(ike, _Pending()).qm_initiator = q["dir"] == "generating"
            continue
        if (e := _ESTABLISHED.match(msg)) is not None:
            p = pending.pop(ike, None)
            if p is None or p.qm_initiator is None:
                continue
            # QM initiator: "initiator" keys are outbound; responder: inbound.
            out_role, in_role = (("initiator", "responder") if p.qm_initiator
                                 else ("responder", "initiator"))
            out.append(ChildKeys(
                ike=ike, child=e["name"], spi_in=int(e["spi_in"], 16),
                spi_out=int(e["spi_out"], 16),
                encr_in=p.keys.get(f"encryption {in_role}", b""),
                encr_out=p.keys.get(f"encryption {out_role}", b""),
                integ_in=p.keys.get(f"integrity {in_role}", b""),
                integ_out=p.keys.get(f"integrity {out_role}", b"")))
            # Keep the role for a later Quick Mode (rekey) of this IKE_SA.
            pending[ike] = _Pending(qm_initiator=None)
    return out


def export_keys(ctx: "NodeContext") -> list[dict[str, Any]]:
    """ESP keys of the node's installed CHILD_SAs, in the ``lab keys`` shape.

    One dict per SA and direction (docs/CONTRACTS.md "Key export"). SAs whose
    keys are not in the log (node option ``log_keys: false``) are skipped.
    """
    from lab.strongswan import child_sas, node_ctx, paths

    ctx = node_ctx(ctx)

    try:
        text = paths(ctx)["log"].read_text(errors="replace")
    except OSError:
        return []
    by_spi = {(k.spi_in, k.spi_out): k for k in parse_log(text)}
    result: list[dict[str, Any]] = []
    for sa in child_sas(ctx):
        keys = by_spi.get((sa.get("spi-in"), sa.get("spi-out")))
        if keys is None:
            continue
        encr = ENCR_NAMES.get((sa.get("encr-alg", ""), sa.get("encr-keysize", 0) or 0),
                              str(sa.get("encr-alg", "")).lower())
        integ = INTEG_NAMES.get(sa.get("integ-alg", ""), str(sa.get("integ-alg", "")).lower())
        local, remote = sa["local-host"], sa["remote-host"]
        encap = bool(sa.get("encap"))
        lport, rport = sa.get("local-port", 4500), sa.get("remote-port", 4500)
        mode = str(sa.get("mode", "TUNNEL")).lower()
        common = {"proto": str(sa.get("protocol", "ESP")).lower(), "encr": encr,
                  "integ": integ if sa.get("integ-alg") else None, "mode": mode}
        result.append(dict(common, spi=sa["spi-in"], direction="in", src=remote, dst=local,
                           encr_key=keys.encr_in.hex(), integ_key=keys.integ_in.hex(),
                           udp_encap=[rport, lport] if encap else None))
        result.append(dict(common, spi=sa["spi-out"], direction="out", src=local, dst=remote,
                           encr_key=keys.encr_out.hex(), integ_key=keys.integ_out.hex(),
                           udp_encap=[lport, rport] if encap else None))
    return result


def export_ike_keys(ctx: "NodeContext") -> list[dict[str, Any]]:
    """IKEv1 phase-1 keys of the node's IKE_SAs (for decrypting ISAKMP in captures).

    One dict per IKE_SA: ``{"ike": name, "uniqueid": int, "initiator_cookie":
    16 hex digits, "responder_cookie": 16 hex digits, "encr": name,
    "encr_key": hex}`` -- the columns of Wireshark's IKEv1 decryption table
    (RFC 2409 §5.3: the phase-1 encryption key derived from SKEYID_e).
    Needs ``ike = 4`` in the filelog (the default while ``log_keys`` is on).
    """
    from lab.strongswan import list_sas, node_ctx, paths

    ctx = node_ctx(ctx)
    try:
        keys = parse_ike_log(paths(ctx)["log"].read_text(errors="replace"))
    except OSError:
        return []
    out: list[dict[str, Any]] = []
    for name, sa in list_sas(ctx).items():
        key = keys.get(sa.get("uniqueid", -1))
        if key is None or sa.get("version") != 1:
            continue
        encr = ENCR_NAMES.get((sa.get("encr-alg", ""), sa.get("encr-keysize", 0) or 0),
                              str(sa.get("encr-alg", "")).lower())
        out.append({"ike": name, "uniqueid": sa["uniqueid"],
                    "initiator_cookie": f"{sa['initiator-spi']:016x}",
                    "responder_cookie": f"{sa['responder-spi']:016x}",
                    "encr": encr, "encr_key": key.hex()})
    return out
