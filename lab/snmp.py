"""SNMP in the lab: net-snmp ``snmpd`` for an engine node, ``snmptrapd`` as a receiver.

Seed 001 ch. 3-4 (IPsec MIB, IPsec SNMP notifications). Nothing system-wide is
used: every daemon gets its own config, log, pid file and persistent directory
under the node directory and runs in the node's network namespace.

* :func:`snmpd_on` (engine node): ``pass_persist`` of the
  CISCO-IPSEC-FLOW-MONITOR-MIB subtree to ``python -m engine.mgmt.snmp_pass``,
  which serves the snapshot the engine writes to ``<node_dir>/snmp-mib.json``
  (the engine does so once its configuration has ``snmp-server`` lines).
* :func:`snmptrapd_on` (any node): logs every notification, one line each, to
  ``<node_dir>/snmptrapd/traps.log``; :meth:`TrapReceiver.traps` parses them.
* :func:`snmpget` / :func:`snmpwalk`: the real net-snmp tools run in a node.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from lab.daemons import log_tail, stop_process, wait_until
from lab.errors import LabError

SNMPD = "/usr/sbin/snmpd"
SNMPTRAPD = "/usr/sbin/snmptrapd"
IPSEC_FLOW_MIB = ".1.3.6.1.4.1.9.9.171"
REPO = Path(__file__).resolve().parent.parent


def _env(persist: Path) -> dict[str, str]:
    # No MIB files (numeric OIDs only) and no writes to /var/lib/snmp.
    return {"MIBS": "", "MIBDIRS": "/nonexistent", "SNMP_PERSISTENT_DIR": str(persist),
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def _udp_bound(node: Any, port: int) -> bool:
    r = node.ctx.run_cmd(["ss", "-Hlun", f"sport = :{port}"], check=False, timeout=5)
    return bool(r.stdout.strip())


def _start(node: Any, argv: list[str], d: Path, port: int, what: str, log: Path
           ) -> subprocess.Popen:
    with open(d / "stdout.log", "ab") as out:
        proc = node.ctx.popen(argv, env=_env(d), stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _udp_bound(node, port), 10.0, f"node {node.name}: {what} on {port}",
                   proc=proc, log=log, interval=0.1)
    except Exception as exc:
        stop_process(proc, timeout=2.0)
        raise LabError(f"node {node.name}: {what} did not start: {exc}\n"
                       f"{log_tail(d / 'stdout.log')}\n{log_tail(log)}") from exc
    lab = node.lab
    with lab._state_lock:
        lab.state.add_process(node.name, proc.pid, what)
    return proc


def _stop(node: Any, proc: subprocess.Popen) -> None:
    stop_process(proc, timeout=3.0)
    with node.lab._state_lock:
        node.lab.state.drop_process(proc.pid)


@dataclass
class Agent:
    node: Any
    community: str
    port: int
    proc: subprocess.Popen

    @property
    def snapshot(self) -> Path:
        return self.node.dir / "snmp-mib.json"


@contextlib.contextmanager
def snmpd_on(node: Any, community: str = "public", port: int = 161) -> Iterator[Agent]:
    """net-snmp snmpd in ``node``'s namespace serving the engine's IPsec flow MIB."""
    d = node.dir / "snmpd"
    d.mkdir(parents=True, exist_ok=True)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", community):
        raise LabError(f"snmpd: community {community!r} must be a plain word")
    wrapper = d / "pass.sh"
    wrapper.write_text("#!/bin/sh\n"
                       f"PYTHONPATH={REPO} exec {sys.executable} -m engine.mgmt.snmp_pass "
                       f"{node.dir / 'snmp-mib.json'}\n")
    wrapper.chmod(0o755)
    (d / "snmpd.conf").write_text(
        f"agentaddress udp:0.0.0.0:{port}\n"
        f"rocommunity {community} default\n"
        f"pass_persist {IPSEC_FLOW_MIB} {wrapper}\n")
    log = d / "snmpd.log"
    argv = [SNMPD, "-f", "-C", "-c", str(d / "snmpd.conf"), "-M", "/nonexistent",
            "-Lf", str(log), "-p", str(d / "snmpd.pid")]
    proc = _start(node, argv, d, port, "snmpd", log)
    try:
        yield Agent(node, community, port, proc)
    finally:
        _stop(node, proc)


@dataclass
class Trap:
    source: str
    security: str  #: e.g. "TRAP2, SNMP v2c, community public"
    enterprise: str
    specific: str
    varbinds: list[tuple[str, str]]  #: (numeric oid, "TYPE: value")

    @property
    def trap_oid(self) -> str | None:
        """snmpTrapOID.0 of a v2c notification (enterprise.0.specific for v1)."""
        for oid, val in self.varbinds:
            if oid == ".1.3.6.1.6.3.1.1.4.1.0":
                return val.split(": ", 1)[-1]
        if self.enterprise and self.specific:
            return f"{self.enterprise}.0.{self.specific}"
        return None

    def value(self, oid_prefix: str) -> str | None:
        for oid, val in self.varbinds:
            if oid.startswith(oid_prefix):
                return val
        return None


_TRAP = re.compile(r"^TRAP (?P<src>[^|]*)\|(?P<sec>[^|]*)\|(?P<ent>[^|]*)\|(?P<spec>[^|]*)\|"
                   r"(?P<vb>.*)$")


def parse_traps(text: str) -> list[Trap]:
    out = []
    for line in text.splitlines():
        m = _TRAP.match(line)
        if m is None:
            continue
        vbs = []
        for part in m.group("vb").split("\t"):
            oid, sep, val = part.partition(" = ")
            if sep:
                vbs.append((oid.strip(), val.strip()))
        out.append(Trap(m.group("src"), m.group("sec"), m.group("ent"), m.group("spec"), vbs))
    return out


@dataclass
class TrapReceiver:
    node: Any
    port: int
    proc: subprocess.Popen
    log: Path

    def traps(self) -> list[Trap]:
        try:
            return parse_traps(self.log.read_text(errors="replace"))
        except FileNotFoundError:
            return []

    def wait(self, pred, timeout: float = 10.0, what: str = "SNMP notifications") -> list[Trap]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.traps()
            if pred(got):
                return got
            if time.monotonic() > deadline:
                raise LabError(f"{what}: not received within {timeout:g} s at "
                               f"{self.node.name}:{self.port}; have {got}")
            time.sleep(0.1)


@contextlib.contextmanager
def snmptrapd_on(node: Any, port: int = 162) -> Iterator[TrapReceiver]:
    """snmptrapd in ``node``'s namespace accepting any community, logging one line per trap."""
    d = node.dir / f"snmptrapd-{port}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "snmptrapd.conf").write_text("disableAuthorization yes\n")
    log = d / "traps.log"
    argv = [SNMPTRAPD, "-f", "-C", "-c", str(d / "snmptrapd.conf"), "-M", "/nonexistent",
            "-On", "-Lf", str(log), "-p", str(d / "snmptrapd.pid"),
            "-F", "TRAP %b|%P|%N|%q|%v\n", f"udp:0.0.0.0:{port}"]
    proc = _start(node, argv, d, port, "snmptrapd", log)
    try:
        yield TrapReceiver(node, port, proc, log)
    finally:
        _stop(node, proc)


# -- clients -------------------------------------------------------------------------------------

_LINE = re.compile(r"^(?P<oid>\.[\d.]+) = (?P<val>.*)$")


def _client(node: Any, tool: str, target: str, community: str, oid: str, port: int) -> str:
    d = node.dir / "snmp-client"
    d.mkdir(parents=True, exist_ok=True)
    argv = ["env", *(f"{k}={v}" for k, v in _env(d).items()), tool, "-M", "/nonexistent",
            "-v2c", "-c", community, "-On", "-t", "2", "-r", "1", f"{target}:{port}", oid]
    r = node.ctx.run_cmd(argv, check=False, timeout=30)
    if r.returncode != 0:
        raise LabError(f"node {node.name}: {tool} {target} {oid} failed "
                       f"(exit {r.returncode}): {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout


def snmpget(node: Any, target: str, oid: str, community: str = "public", port: int = 161
            ) -> str:
    """``snmpget`` from ``node``: the value text (``INTEGER: 1``) of ``oid``."""
    out = _client(node, "snmpget", target, community, oid, port)
    m = _LINE.match(out.strip().splitlines()[0]) if out.strip() else None
    if m is None:
        raise LabError(f"snmpget {oid}: unexpected output {out!r}")
    return m.group("val")


def snmpwalk(node: Any, target: str, oid: str = IPSEC_FLOW_MIB, community: str = "public",
             port: int = 161) -> dict[str, str]:
    """``snmpwalk`` from ``node``: numeric oid → value text, in walk order."""
    out = _client(node, "snmpwalk", target, community, oid, port)
    res: dict[str, str] = {}
    last = None
    for line in out.splitlines():
        m = _LINE.match(line)
        if m is not None:
            last = m.group("oid")
            res[last] = m.group("val")
        elif last is not None:  # a value continued on the next line (long hex strings)
            res[last] += "\n" + line
    return res


__all__ = ["Agent", "IPSEC_FLOW_MIB", "Trap", "TrapReceiver", "parse_traps", "snmpd_on",
           "snmpget", "snmptrapd_on", "snmpwalk"]
