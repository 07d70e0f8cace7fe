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
