"""IPsec SNMP support (seed 001 ch. 3-4): MIB snapshot for snmpd and tunnel notifications.

* The CISCO-IPSEC-FLOW-MONITOR-MIB view (``snmp_mib.FlowMib``) is written as a
  JSON snapshot (atomically, at most every ``SNAPSHOT_EVERY`` real seconds and
  after every tunnel event) for net-snmp's ``pass_persist`` handler
  (``engine/mgmt/snmp_pass.py``), so real ``snmpget``/``snmpwalk`` read it.
* IKE/IPsec tunnel start/stop notifications (cikeTunnelStart/Stop,
  cipSecTunnelStart/Stop; seed L469-474, L1463-1468) go to every ``snmp-server
  host`` whose notification types allow them, sent by net-snmp's ``snmptrap``
  (SNMPv2c trap, SNMPv2c inform for ``informs`` hosts, or v1 for ``version 1``
  hosts) in a child process, so the engine loop never waits on them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from engine.ike.events import ChildSaDown, IkeSaDown
from engine.mgmt import snmp_mib as mib

log = logging.getLogger("engine.mgmt.snmp")

SNAPSHOT_EVERY = 0.2  # real seconds (snmpd reads a snapshot at most this old)
SNMPTRAP = shutil.which("snmptrap") or "/usr/bin/snmptrap"


def snmp_configured(config: Any) -> bool:
    """Any ``snmp-server`` line (parsed or ignored) turns the agent on, as on IOS."""
    m = config.mgmt
    return bool(m.snmp_hosts or m.snmp_traps or any(
        i.text.strip().lower().startswith("snmp-server") for i in config.ignored))


class SnmpAgent:
    def __init__(self, config: Any, sadb: Any = None, path: Path | None = None,
                 hostname: str | None = None, flowmib: mib.FlowMib | None = None) -> None:
        self.config = config
        self.sadb = sadb
        self.path = path
        self.mib = flowmib or mib.FlowMib(hostname or config.globals.hostname)
        self.traps_sent: list[dict[str, Any]] = []
        self._children: list[subprocess.Popen] = []
        self._next_write = 0.0
        self._now = 0.0

    # -- events ------------------------------------------------------------------------------

    def on_event(self, ev: Any, now: float) -> None:
        self._now = now
        stop_binds = self._stop_binds(ev, now)
        kind = self.mib.on_event(ev, now, self.sadb)
        if kind is None:
            return
        if kind.endswith("stop"):
            binds = stop_binds
        else:
            binds = self._start_binds(kind, ev)
        if binds is not None:
            self._notify(kind, *binds)
        self._next_write = 0.0  # snapshot at the next service()

    def _start_binds(self, kind: str, ev: Any) -> tuple[tuple[int, ...], list] | None:
        if kind == "ike-start":
            t = self.mib.ike.get((ev.icookie, ev.rcookie))
            if t is None:
                return None
            pidx = mib.peer_index(ev.local[0], ev.peer[0])
            return mib.CIKE_TUNNEL_START, [
                (mib.IKE_PEER + (6,) + pidx, "x", mib.octets(ev.local[0]).replace(" ", "")),
                (mib.IKE_PEER + (7,) + pidx, "x", mib.octets(ev.peer[0]).replace(" ", "")),
                (mib.IKE_TUN + (15, t.index), "i", ev.lifetime)]
        t = self.mib.ipsec.get(ev.pair.inbound_spis[0])
        if t is None:
            return None
        return mib.CIPSEC_TUNNEL_START, [
            (mib.IPSEC_TUN + (9, t.index), "i", ev.pair.lifetime_seconds),
            (mib.IPSEC_TUN + (8, t.index), "i", ev.pair.lifetime_kilobytes)]

    def _stop_binds(self, ev: Any, now: float) -> tuple[tuple[int, ...], list] | None:
        if isinstance(ev, IkeSaDown):
            t = self.mib.ike.get((ev.icookie, ev.rcookie))
            if t is None:
                return None
            pidx = mib.peer_index(t.up.local[0], t.up.peer[0])
            return mib.CIKE_TUNNEL_STOP, [
                (mib.IKE_PEER + (6,) + pidx, "x", mib.octets(t.up.local[0]).replace(" ", "")),
                (mib.IKE_PEER + (7,) + pidx, "x", mib.octets(t.up.peer[0]).replace(" ", "")),
                (mib.IKE_TUN + (16, t.index), "i", int((now - t.created) * 100))]
        if isinstance(ev, ChildSaDown):
            t = next((self.mib.ipsec[s] for s in ev.inbound_spis if s in self.mib.ipsec), None)
            if t is None:
                return None
            return mib.CIPSEC_TUNNEL_STOP, [
                (mib.IPSEC_TUN + (10, t.index), "i", int((now - t.created) * 100))]
        return None

    # -- notifications ---------------------------------------------------------------------------

    def _notify(self, kind: str, trap: tuple[int, ...], binds: list) -> None:
        feature = "isakmp" if kind.startswith("ike") else "ipsec"
        if feature not in mib.trap_enabled(self.config):
            return
        for h in self.config.mgmt.snmp_hosts:
            if h.types and feature not in h.types:
                continue
            target = f"{h.address}:{h.udp_port}" if ":" not in str(h.address) else \
                f"udp6:[{h.address}]:{h.udp_port}"
            vb: list[str] = []
            for oid, typ, val in binds:
                vb += [mib.oid_str(oid), typ, str(val)]
            if h.version == "1":
                argv = [SNMPTRAP, "-v", "1", "-c", h.community, target,
                        mib.oid_str(trap[:-2]), "", "6", str(trap[-1]), "", *vb]
            else:  # v2c trap, or an inform (acknowledged; net-snmp retries it)
                inform = ["-Ci", "-t", "1", "-r", "2"] if h.informs else []
                argv = [SNMPTRAP, *inform, "-v", "2c", "-c", h.community, target, "",
                        mib.oid_str(trap), *vb]
            try:
                env = {**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent"}
                self._children.append(subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, env=env))
                self.traps_sent.append({"kind": kind, "trap": mib.oid_str(trap),
                                        "to": target, "community": h.community})
                log.info("SNMP %s notification %s to %s", kind, mib.oid_str(trap), target)
            except OSError as exc:
                log.warning("snmptrap to %s failed: %s", target, exc)

    # -- housekeeping ----------------------------------------------------------------------------

    def service(self, now: float) -> None:
        self._now = now
        self._children = [p for p in self._children if p.poll() is None]
        if self.path is None or time.monotonic() < self._next_write:
            return
        self._next_write = time.monotonic() + SNAPSHOT_EVERY
        self.write_snapshot(now)

    def write_snapshot(self, now: float) -> None:
        if self.path is None:
            return
        objs = self.mib.objects(now, self.sadb, self.config)
        data = {"clock": now, "objects": {mib.oid_str(k): list(v) for k, v in objs.items()}}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)

    def close(self) -> None:
        self.write_snapshot(self._now)
        deadline = time.monotonic() + 2.0
        for p in self._children:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._children = []
