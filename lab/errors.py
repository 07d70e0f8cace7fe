"""Errors raised by the lab. Every message names what is wrong and where."""

from __future__ import annotations


class LabError(Exception):
    """Base class of every lab error."""


class NotSupported(LabError):
    """The host cannot run a lab (not root, no netns, missing tool)."""


class TopologyError(LabError):
    """A topology file is invalid.

    Rendered as ``file:line: yaml.path: message`` (line omitted when unknown).
    """

    def __init__(self, message: str, *, file: str = "", line: int | None = None,
                 path: str = "") -> None:
        self.file = file
        self.line = line
        self.path = path
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "<topology>"
        if self.line is not None:
            where += f":{self.line}"
        loc = f" {self.path}:" if self.path else ""
        return f"{where}:{loc} {self.message}"


class LabTimeout(LabError):
    """A deadline passed while waiting for ``what``."""

    def __init__(self, what: str, timeout: float) -> None:
        self.what = what
        self.timeout = timeout
        super().__init__(f"timed out after {timeout:g} s waiting for {what}")


class LabCommandError(LabError):
    """A command inside a node failed (non-zero exit status)."""

    def __init__(self, node: str, cmd: list[str] | str, rc: int, stdout: str = "",
                 stderr: str = "") -> None:
        self.node = node
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        shown = cmd if isinstance(cmd, str) else " ".join(cmd)
        msg = f"node {node}: command {shown!r} exited with status {rc}"
        if stdout.strip():
            msg += f"\n--- stdout ---\n{stdout.rstrip()}"
        if stderr.strip():
            msg += f"\n--- stderr ---\n{stderr.rstrip()}"
        super().__init__(msg)
