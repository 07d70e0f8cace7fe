"""Management plane (seed 001): IPsec VPN accounting over RADIUS (ch. 5); SNMP later.

The runner makes one :class:`Management` and calls :meth:`on_event` for every
IKE event (before it removes SAs, so Stop records can read their counters),
:meth:`service` from its housekeeping, and :meth:`close` on exit. Nothing here
raises into the runner: errors are logged and counted in ``errors``.
"""

from __future__ import annotations

import logging
from typing import Any

from engine.config.model import Config
from engine.mgmt.accounting import Accounting

log = logging.getLogger("engine.mgmt")


class Management:
    def __init__(self, config: Config, name: str = "", clock: Any = None, sadb: Any = None,
                 **kw: Any) -> None:
        self.config = config
        self.name = name
        self.clock = clock
        self.errors = 0
        self.accounting = Accounting(config, sadb, **kw)

    def on_event(self, ev: Any, now: float) -> None:
        try:
            self.accounting.on_event(ev, now)
        except Exception:
            self.errors += 1
            log.exception("management plane: handling %r failed", type(ev).__name__)

    def service(self, now: float) -> None:
        try:
            self.accounting.service(now)
        except Exception:
            self.errors += 1
            log.exception("management plane: service failed")

    def close(self) -> None:
        try:
            self.accounting.close()
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
                         "server": list(x.server) if x.server else None}
                        for x in results],
            "skipped": list(acc.skipped),
            "errors": self.errors,
        }


__all__ = ["Management"]
