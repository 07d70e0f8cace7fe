"""Daemon plug-ins: one per node kind that runs a daemon (engine, strongswan).

A plug-in implements :class:`Daemon` and registers itself with
``@register("kind")``. The lab starts it after the node's namespace, links and
addresses exist, passing a :class:`NodeContext`. ``lab/strongswan.py``
registers kind ``strongswan``; kind ``engine`` lives here.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from lab import nsexec
from lab.errors import LabCommandError, LabError, LabTimeout

if TYPE_CHECKING:
    from lab.model import Node as NodeSpec

PLUGIN_MODULES = ("lab.strongswan",)


@dataclass
class NodeContext:
    """Everything a daemon plug-in needs to know about its node."""

    run: str                      # run prefix (unique per run)
    node: str                     # node name from the YAML
    netns: str                    # network namespace name
    node_dir: Path                # per-node run directory (configs, logs, sockets, pid files)
    config: Path | None           # absolute path of the node's `config:` file
    spec: "NodeSpec"              # the validated node model
    env: dict[str, str] = field(default_factory=dict)  # includes LAB_RUN=<run>

    def popen(self, argv: list[str], *, mount_ns: bool = False, log_name: str | None = None,
              **kw: Any) -> subprocess.Popen:
        """Start ``argv`` inside the node's netns, new session, cwd node_dir.

        stdout/stderr go to ``node_dir/<log_name or argv0>.log`` unless given.
        ``mount_ns=True`` adds a private mount namespace with a fresh tmpfs on
        /run (so daemons' pid files and sockets never clash).
        """
        self.node_dir.mkdir(parents=True, exist_ok=True)
        kw.setdefault("env", self.env)
        kw.setdefault("cwd", str(self.node_dir))
        kw.setdefault("stdin", subprocess.DEVNULL)
        log = None
        if "stdout" not in kw:
            name = log_name or Path(argv[0]).name
            log = open(self.node_dir / f"{name}.log", "ab")
            kw["stdout"] = log
            kw.setdefault("stderr", subprocess.STDOUT)
        try:
            return nsexec.popen_in(self.netns, argv, mount_ns=mount_ns, keep=self.node_dir, **kw)
        except FileNotFoundError as exc:
            raise LabError(f"node {self.node}: command not found: {argv[0]}") from exc
        finally:
            if log is not None:
                log.close()

    def __post_init__(self) -> None:
        # The agreed interface has both ``ctx.run`` (the run prefix, a str) and
        # ``ctx.run(argv, ...)``; a callable str serves both.
        self.run = _RunName(self.run, self)

    def run_cmd(self, argv: list[str], *, check: bool = True, timeout: float = 30.0,
                mount_ns: bool = False, input: str | None = None) -> subprocess.CompletedProcess:
        """Run ``argv`` inside the node and wait (text output captured).

        Also reachable as ``ctx.run(argv, ...)``.
        """
        return nsexec.run_in(self.netns, argv, node=self.node, check=check, timeout=timeout,
                             env=self.env, cwd=self.node_dir, mount_ns=mount_ns, input=input)


class _RunName(str):
    """The run prefix, callable as ``NodeContext.run_cmd``."""

    _ctx: NodeContext

    def __new__(cls, value: str, ctx: NodeContext) -> "_RunName":
        obj = super().__new__(cls, value)
        obj._ctx = ctx
        return obj

    def __call__(self, argv: list[str], **kw: Any) -> subprocess.CompletedProcess:
        return self._ctx.run_cmd(argv, **kw)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (str, (str(self),))


class Daemon(Protocol):
    """What a node kind's daemon plug-in provides."""

    kind: str

    def start(self, ctx: NodeContext) -> subprocess.Popen:
        """Start the daemon; return once it answers, else raise LabError with the log tail."""
        ...

    def stop(self, ctx: NodeContext, proc: subprocess.Popen) -> None:
        """Stop gracefully, SIGKILL after a timeout."""
        ...

    def cli(self, ctx: NodeContext, command: str, json: bool = False) -> str | object:
        """Run a device command; text, or structured data with ``json=True``."""
        ...

    # Optional: ``log_path(ctx) -> Path`` names the daemon's log (Node.log_path).


DAEMONS: dict[str, Daemon] = {}
_T = TypeVar("_T")


def register(kind: str):  # type: ignore[no-untyped-def]
    """Class decorator: instantiate the class and register it for ``kind``."""

    def deco(cls: type[_T]) -> type[_T]:
        inst = cls()
        setattr(inst, "kind", kind)
        DAEMONS[kind] = inst  # type: ignore[assignment]
        return cls

    return deco


def load_plugins() -> dict[str, Daemon]:
    """Import the optional plug-in modules (missing ones are skipped)."""
    for mod in PLUGIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
    return DAEMONS


def log_tail(path: Path, lines: int = 20) -> str:
    """Last ``lines`` lines of a log file ('' if missing)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def stop_process(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """SIGTERM ``proc``, then SIGKILL its process group after ``timeout``."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5.0)
    except ProcessLookupError:
        pass


def wait_until(pred, timeout: float, what: str, proc: subprocess.Popen | None = None,
               log: Path | None = None, interval: float = 0.02):  # type: ignore[no-untyped-def]
    """Poll ``pred()`` until it returns a truthy value or ``timeout`` passes.

    Raises LabError (with log tail) if ``proc`` exits meanwhile, LabTimeout at the deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            tail = log_tail(log) if log else ""
            raise LabError(f"{what}: process exited with status {proc.returncode}"
                           + (f"\n--- log tail ---\n{tail}" if tail else ""))
        if time.monotonic() > deadline:
            raise LabTimeout(what, timeout)
        time.sleep(interval)


@register("engine")
class EngineDaemon:
    """Our IPsec engine (``python -m engine``), see docs/CONTRACTS.md."""

    kind = "engine"
    ready_timeout = 15.0

    @staticmethod
    def socket_path(ctx: NodeContext) -> Path:
        return ctx.node_dir / "engine.sock"

    @staticmethod
    def log_path(ctx: NodeContext) -> Path:
        return ctx.node_dir / "engine.log"

    def argv(self, ctx: NodeContext) -> list[str]:
        spec = ctx.spec
        ifmap = ",".join(f"{dev}={lab_if}" for dev, lab_if in spec.interfaces.items())
        argv = [sys.executable, "-m", "engine", "--config", str(ctx.config),
                "--dialect", spec.dialect or "ios", "--control", str(self.socket_path(ctx)),
                "--interfaces", ifmap, "--log", str(ctx.node_dir / "engine.log"),
                "--name", ctx.node]
        if spec.clock_scale:
            argv += ["--clock-scale", f"{spec.clock_scale:g}"]
        if spec.syslog:
            argv += ["--syslog", spec.syslog]
        return argv

    def start(self, ctx: NodeContext) -> subprocess.Popen:
        from engine.control import request  # written by the runner helper

        sock = self.socket_path(ctx)
        sock.unlink(missing_ok=True)
        env = dict(ctx.env)
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        proc = ctx.popen(self.argv(ctx), env=env, log_name="engine-stdio")

        def ready() -> bool:
            if not sock.exists():
                return False
            try:
                return bool(request(str(sock), "lab clock", timeout=1.0).get("ok", True))
            except (OSError, ValueError):
                return False

        try:
            wait_until(ready, self.ready_timeout, f"engine on node {ctx.node} to answer on {sock}",
                       proc=proc, log=ctx.node_dir / "engine-stdio.log")
        except LabError:
            stop_process(proc, timeout=1.0)
            raise
        return proc

    def stop(self, ctx: NodeContext, proc: subprocess.Popen) -> None:
        stop_process(proc, timeout=5.0)

    def cli(self, ctx: NodeContext, command: str, json: bool = False) -> str | object:
        from engine.control import request

        try:
            reply = request(str(self.socket_path(ctx)), command, json=json, timeout=10.0)
        except OSError as exc:  # engine.control.ControlError
            raise LabError(f"node {ctx.node}: engine does not answer: {exc}") from None
        if not reply.get("ok"):
            raise LabCommandError(ctx.node, command, 1, "", str(reply.get("error", "")))
        return reply.get("data") if json else reply.get("output", "")
