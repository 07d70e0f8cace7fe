"""Observation helpers shared by the IOS scenarios (parsing device-format text).

The text forms are the documents' own: ``show crypto ipsec sa`` counters
(seed 000 L1137-1194), ``show crypto isakmp sa`` rows (L1120-1125),
``show crypto session`` (seed 001 L356-368).
"""

from __future__ import annotations

import re
from typing import Any

from lab import strongswan

_COUNTER_RE = re.compile(r"#(pkts \w+(?:\. \w+)?|send errors|recv errors):? (\d+)")
_ISAKMP_ROW_RE = re.compile(
    r"^\s*\S*/\S*\s+(?P<dst>[\d.:a-fA-F]+)\s+(?P<src>[\d.:a-fA-F]+)\s+(?P<state>[A-Z_]+)",
    re.M)


def ipsec_counters(text: str) -> dict[str, int]:
    """Sum of each ``#pkts ...`` counter over every SA in ``show crypto ipsec sa``."""
    out: dict[str, int] = {}
    for name, value in _COUNTER_RE.findall(text):
        key = name.replace("pkts ", "")
        out[key] = out.get(key, 0) + int(value)
    return out


def isakmp_states(text: str) -> list[tuple[str, str, str]]:
    """(dst, src, state) rows of ``show crypto isakmp sa``."""
    return [(m["dst"], m["src"], m["state"]) for m in _ISAKMP_ROW_RE.finditer(text)]


def session_status(text: str) -> list[str]:
    """Every ``Session status:`` value of ``show crypto session``."""
    return re.findall(r"Session status:\s*(\S+)", text)


def wire(ladder: dict[str, Any], inner: tuple[str, str], outer: tuple[str, str]
         ) -> dict[str, Any]:
    """What the capture saw between the two gateways and the two hosts."""
    ev = ladder.get("events", [])
    between = [e for e in ev if {e["src"], e["dst"]} == set(outer)]
    return {
        "main_mode": sum(1 for e in between if e.get("exch_type") == 2),
        "quick_mode": sum(1 for e in between if e.get("exch_type") == 32),
        "quick_mode_exchanges": len({e["msgid"] for e in between if e.get("exch_type") == 32}),
        "esp": sum(1 for e in between if e.get("cls") == "esp" or "ESP" in e.get("label", "")),
        "ah": sum(1 for e in between if e.get("cls") == "ah"),
        "esp_out": sum(1 for e in between if e["src"] == outer[0]
                       and (e.get("cls") in ("esp", "ah"))),
        "esp_in": sum(1 for e in between if e["src"] == outer[1]
                      and (e.get("cls") in ("esp", "ah"))),
        "udp_encap": sum(1 for e in between if "UDP-encap" in e.get("label", "")),
        "clear_inner": sum(1 for e in ev if {e["src"], e["dst"]} == set(inner)),
        "decrypted_icmp": sum(1 for e in between if str(e.get("inner", "")).startswith(
            f"decrypted: {inner[0]} → {inner[1]} ICMP") or str(e.get("inner", "")).startswith(
            f"decrypted: {inner[1]} → {inner[0]} ICMP")),
        "protocols": sorted({e.get("cls", "?") for e in between}),
    }


def strongswan_child(node: Any) -> dict[str, Any] | None:
    """The first CHILD_SA of a strongSwan node (``None`` if there is none)."""
    children = strongswan.child_sas(node)
    return children[0] if children else None
