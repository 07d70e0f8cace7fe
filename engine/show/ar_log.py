"""``SHOW LOG MODULE=ISAK|IPSE`` / ``SHOW LOG TYPE=IKMP|IPSC`` for the AR570S (seed 002).

The device's log screens (L1788-1810, L1911-1925)::

    Date/Time S Mod Type SType Message
    -------------------------------------------------------------------------------
    03 11:22:49 3 ISAK IKMP MSG ISAKMP has been enabled
    03 11:31:10 3 ISAK IKMP XCHG Exchange 1: Phase 1 [init] started with peer 2.2.2.2
    03 11:31:14 3 ISAK IKMP XCHG Exchange 1: Completed successfully
    17 07:55:29 3 IPSE IPSC MSG SA bundle created: Policy - v1
    -------------------------------------------------------------------------------

built from the engine's IKE events: ``(wall-clock epoch seconds, event)`` pairs
(``engine.ike.events``).  Exchange numbers count every phase 1 and phase 2
exchange in order (L1794-1808).  The engine reports completed exchanges, so the
"started" line carries the completion time; the AR's ``Notification Received -
DOI`` line (L1800) has no engine event and is not printed.  ``[init]`` marks
this router as initiator; ``[resp]`` for the responder is inferred.
"""

from __future__ import annotations

import time
from typing import Any

from engine.config.model import Config

SEP79 = "-" * 79  # L1790, L1810
HEADER = "Date/Time S Mod Type SType Message"


def _stamp(epoch: float) -> str:
    t = time.localtime(epoch)
    return time.strftime("%d %H:%M:%S", t)


def _policy_name(cfg: Config, pair: Any) -> str:
    if pair.crypto_map and pair.crypto_map.startswith("ar-dyn-"):
        return pair.crypto_map[len("ar-dyn-") :]
    cmap = cfg.crypto_maps.get(pair.crypto_map or "")
    entry = cmap.entries.get(pair.crypto_map_seq or 0) if cmap else None
    return (entry.description if entry else None) or str(pair.crypto_map)


def log_records(cfg: Config, events: list[tuple[float, Any]], start: float) -> list[dict]:
    """AR log records (time, module, type, subtype, message) from IKE events."""
    from engine.ike.events import ChildSaUp, IkeSaUp, NegotiationFailed

    ar = cfg.ar
    recs: list[dict] = []

    def add(when: float, mod: str, typ: str, stype: str, msg: str) -> None:
        recs.append({"time": when, "module": mod, "type": typ, "subtype": stype, "message": msg})

    if ar is not None and start > 0:  # module enables at engine start-up (L1792, L1915)
        if ar.ipsec_enabled:
            add(start, "IPSE", "IPSC", "MSG", "IPSEC has been enabled")
        if ar.isakmp_enabled:
            add(start, "ISAK", "IKMP", "MSG", "ISAKMP has been enabled")
    xchg = 0
    for when, ev in events:
        if isinstance(ev, IkeSaUp):
            xchg += 1
            role = "init" if ev.initiator else "resp"
            add(when, "ISAK", "IKMP", "XCHG",
                f"Exchange {xchg}: Phase 1 [{role}] started with peer {ev.peer[0]}")  # fmt: skip
            add(when, "ISAK", "IKMP", "XCHG", f"Exchange {xchg}: Completed successfully")
        elif isinstance(ev, ChildSaUp):
            xchg += 1
            role = "init" if ev.pair.initiator else "resp"
            add(when, "ISAK", "IKMP", "XCHG",
                f"Exchange {xchg}: Phase 2 [{role}] started with peer {ev.pair.peer}")  # fmt: skip
            add(when, "ISAK", "IKMP", "XCHG", f"Exchange {xchg}: Completed successfully")
            add(when, "IPSE", "IPSC", "MSG",
                f"SA bundle created: Policy - {_policy_name(cfg, ev.pair)}")  # fmt: skip
        elif isinstance(ev, NegotiationFailed):
            xchg += 1
            add(
                when,
                "ISAK",
                "IKMP",
                "XCHG",
                f"Exchange {xchg}: Phase {ev.phase} failed with peer {ev.peer}: {ev.reason}",
            )
    return sorted(recs, key=lambda r: r["time"])  # stable: creation order within a second


def show_log(cfg: Config, events: list[tuple[float, Any]], start: float,
             module: str | None = None, type_: str | None = None) -> tuple[str, Any]:  # fmt: skip
    """The log screen filtered by MODULE (ISAK, IPSE) or TYPE (IKMP, IPSC)."""
    recs = [r for r in log_records(cfg, events, start)
            if (module is None or r["module"] == module)
            and (type_ is None or r["type"] == type_)]  # fmt: skip
    lines = [HEADER, SEP79]
    lines += [f"{_stamp(r['time'])} 3 {r['module']} {r['type']} {r['subtype']} {r['message']}"
              for r in recs]  # fmt: skip
    lines.append(SEP79)
    return "\n".join(lines) + "\n", recs
