"""Run state on disk: what a run created, so a later ``down`` can remove it.

``STATE_ROOT/<run>/state.json`` (default ``/run/ipsec-lab``; env
``IPSEC_LAB_STATE`` overrides) lists namespaces, processes started (PID plus
start time, so a recycled PID is never killed), capture files, and where the
run's working directory is. The resolved topology is saved next to it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def state_root() -> Path:
    return Path(os.environ.get("IPSEC_LAB_STATE", "/run/ipsec-lab"))


def proc_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (None if gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


@dataclass
class ProcRecord:
    node: str
    pid: int
    start: int | None
    what: str               # "daemon:engine", "capture", ...

    def alive(self) -> bool:
        return self.start is not None and proc_start_time(self.pid) == self.start


@dataclass
class RunState:
    run: str
    topology: str
    workdir: str
    owner_pid: int
    created: float = field(default_factory=time.time)
    persistent: bool = False          # `lab up`: outlives its creator
    namespaces: list[str] = field(default_factory=list)
    processes: list[ProcRecord] = field(default_factory=list)
    captures: list[str] = field(default_factory=list)
    nodes: dict[str, str] = field(default_factory=dict)   # node -> namespace

    @property
    def dir(self) -> Path:
        return state_root() / self.run

    @property
    def path(self) -> Path:
        return self.dir / "state.json"

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        tmp.replace(self.path)

    def add_process(self, node: str, pid: int, what: str) -> None:
        self.processes.append(ProcRecord(node, pid, proc_start_time(pid), what))
        self.save()

    def drop_process(self, pid: int) -> None:
        self.processes = [p for p in self.processes if p.pid != pid]
        self.save()

    def owner_alive(self) -> bool:
        try:
            os.kill(self.owner_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunState":
        d = dict(d)
        d["processes"] = [ProcRecord(**p) for p in d.get("processes", [])]
        return cls(**d)

    @classmethod
    def load(cls, run: str) -> "RunState":
        path = state_root() / run / "state.json"
        return cls.from_dict(json.loads(path.read_text()))

    def remove(self) -> None:
        """Delete the state (and the working directory when it lives inside it)."""
        if Path(self.workdir).resolve().is_relative_to(self.dir.resolve()):
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        for p in (self.path, self.dir / "topology.json"):
            p.unlink(missing_ok=True)
        try:
            self.dir.rmdir()
        except OSError:
            pass


def list_states() -> list[RunState]:
    """Every run with a readable state file."""
    out = []
    root = state_root()
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir()):
        try:
            out.append(RunState.load(d.name))
        except (OSError, ValueError, TypeError):
            continue
    return out
