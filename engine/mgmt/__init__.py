"""Management plane (seed 001): IPsec VPN accounting over RADIUS (ch. 5), IPsec MIB and
SNMP notifications (ch. 3-4).

The runner makes one :class:`Management` and calls :meth:`on_event` for every
IKE event (before it removes SAs, so Stop records can read their counters),
:meth:`service` from its housekeeping, and :meth:`close` on exit. Nothing here
raises into the runner: errors are logged and counted in ``errors``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from engine.config.model import Config
from engine.mgmt.accounting import Accounting
from engine.mgmt.snmp import SnmpAgent, snmp_configured
from engine.mgmt.snmp_mib import FlowMib

log = logging.getLogger("engine.mgmt")
_CURRENT: "Management | None" = None


def current() -> "Management | None":
    """The engine's Management (one per engine process), for the exec commands that
    render its state (``show crypto mib ipsec flowmib ...``)."""
    return _CURRENT


class Management:
    def __init__(self, config: Config, name: str = "", clock: Any = None, sadb: Any = None,
                 mib_path: Path | None = None, **kw: Any) -> None:
        """``mib_path``: where the MIB snapshot for snmpd goes (default ``./snmp-mib.json``,
        the node directory under the lab, once the config has ``snmp-server`` lines)."""
        self.config = config
        self.name = name
        self.clock = clock
        self.sadb = sadb
        self.errors = 0
        self.accounting = Accounting(config, sadb, **kw)
        #: the IPsec flow MIB, kept with or without SNMP (show crypto mib ... renders it)
        self.flowmib = FlowMib(config.globals.hostname)
        self._mib_path = mib_path
        self.snmp: SnmpAgent | None = None
        self._snmp_check()
        global _CURRENT
        _CURRENT = self

    def _snmp_check(self) -> None:
        # Under the lab (LAB_RUN set, cwd = the node directory, own namespace) or with an
        # explicit path only: an engine run elsewhere writes no files and sends no traps.
        if self.snmp is None and snmp_configured(self.config) and (
                self._mib_path is not None or os.environ.get("LAB_RUN")):
            path = self._mib_path or Path.cwd() / "snmp-mib.json"
            self.snmp = SnmpAgent(self.config, self.sadb, path, flowmib=self.flowmib)

    def on_event(self, ev: Any, now: float) -> None:
        # the SNMP agent updates the shared flow MIB itself (it needs the rows before a stop)
        mibpart = self.snmp if self.snmp is not None else _MibOnly(self.flowmib, self.sadb)
        for part in (self.accounting, mibpart):
            try:
                part.on_event(ev, now)
            except Exception:
                self.errors += 1
                log.exception("management plane: %s on %s failed", type(part).__name__,
                              type(ev).__name__)

    def service(self, now: float) -> None:
        try:
            self._snmp_check()
            self.accounting.service(now)
            if self.snmp is not None:
                self.snmp.service(now)
        except Exception:
            self.errors += 1
            log.exception("management plane: service failed")

    def close(self) -> None:
        for part in (self.accounting, self.snmp):
            if part is None:
                continue
            try:
                part.close()
            except Exception:
                self.errors += 1
                log.exception("management plane: close failed")

    def status(self) -> dict[str, Any]:
        """Sessions and sent records (for lab commands and tests)."""
        acc = self.accounting
        results = acc.client.results if acc.client is not None else []
        return {
            "sessions": [{"session_id": s.session_id, "peer": s.peer, "list": s.list_name,
                          "spis": sorted(s.spis)} for s in acc.sessions.values()],
            "records": [{"status": x.status, "session_id": x.session_id, "acked": x.acked,
                         "attempts": x.attempts, "error": x.error,
                         "server": list(x.server) if x.server else None,
                         "identifier": x.identifier, "length": x.length,
                         "debug": list(x.debug)}
                        for x in results],
            "skipped": list(acc.skipped),
            "traps": list(self.snmp.traps_sent) if self.snmp is not None else [],
            "errors": self.errors,
        }


class _MibOnly:
    """Flow MIB tracking without SNMP."""

    def __init__(self, flowmib: FlowMib, sadb: Any) -> None:
        self.flowmib, self.sadb = flowmib, sadb

    def on_event(self, ev: Any, now: float) -> None:
        self.flowmib.on_event(ev, now, self.sadb)


__all__ = ["Management", "current"]
