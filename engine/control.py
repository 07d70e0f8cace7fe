"""Control socket: line-delimited JSON over a Unix stream socket.

Request:  ``{"cmd": "show crypto ipsec sa", "json": false}\\n``
Reply:    ``{"ok": true, "output": "<device text>", "data": <obj or null>}\\n``
or        ``{"ok": false, "error": "% Invalid input detected at '^' marker."}\\n``

:func:`request` is the client the lab and tests use. :class:`ControlServer`
is driven by the runner's selector loop (non-blocking, no threads).
"""

from __future__ import annotations

import json as _json
import logging
import os
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("engine.control")

MAX_LINE = 1 << 20  # a request line longer than this is rejected
Handler = Callable[[str, bool], dict[str, Any]]


_SUN_PATH_MAX = 107


class _ShortPath:
    """An AF_UNIX-usable name for ``path``; long paths go through ``/proc/self/fd``.

    ``sun_path`` holds 108 bytes; run directories of parallel tests are often
    longer, so the directory is opened and the socket addressed relative to it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.fd: int | None = None

    def __enter__(self) -> str:
        if len(os.fsencode(self.path)) <= _SUN_PATH_MAX:
            return self.path
        parent, name = os.path.split(os.path.abspath(self.path))
        self.fd = os.open(parent or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        return f"/proc/self/fd/{self.fd}/{name}"

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class ControlError(OSError):
    """The engine could not be reached or answered garbage."""


def request(path: str | os.PathLike[str], cmd: str, json: bool = False,
            timeout: float = 5.0) -> dict[str, Any]:
    """Send one command to the engine at ``path`` and return its reply dict.

    Args:
        path: the engine's control socket.
        cmd: device command (``show crypto ipsec sa``) or lab command (``lab keys``).
        json: ask for structured data in ``reply["data"]``.
        timeout: seconds for connect + reply.

    Raises:
        ControlError: socket missing/refused, timeout, or a malformed reply.
    """
    deadline = time.monotonic() + timeout
    line = _json.dumps({"cmd": cmd, "json": bool(json)}).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            with _ShortPath(path) as name:
                s.connect(name)
            s.sendall(line)
            buf = bytearray()
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout()
                s.settimeout(left)
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
    except socket.timeout as exc:
        raise ControlError(f"control socket {path}: no reply to {cmd!r} "
                           f"within {timeout:g} s") from exc
    except OSError as exc:
        raise ControlError(f"control socket {path}: {exc.strerror or exc}") from exc
    text = bytes(buf).split(b"\n", 1)[0]
    try:
        reply = _json.loads(text)
    except ValueError as exc:
        raise ControlError(f"control socket {path}: malformed reply {text[:200]!r}") from exc
    if not isinstance(reply, dict) or "ok" not in reply:
        raise ControlError(f"control socket {path}: reply without 'ok': {text[:200]!r}")
    return reply


@dataclass
class _Conn:
    sock: socket.socket
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytearray = field(default_factory=bytearray)


class ControlServer:
    """Non-blocking Unix-socket server registered on a selector.

    ``handler(cmd, want_json)`` returns the reply dict; an exception in it
    becomes ``{"ok": false, "error": ...}`` — the engine never dies of a request.
    """

    def __init__(self, path: str | os.PathLike[str], handler: Handler,
                 sel: selectors.BaseSelector) -> None:
        self.path = Path(path)
        self.handler = handler
        self.sel = sel
        self.conns: dict[int, _Conn] = {}
        if self.path.is_socket():
            self.path.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with _ShortPath(self.path) as name:
            self.listener.bind(name)
        self.listener.listen(16)
        self.listener.setblocking(False)
        sel.register(self.listener, selectors.EVENT_READ, self._on_accept)

    def _on_accept(self, _mask: int) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        conn = _Conn(sock)
        self.conns[sock.fileno()] = conn
        self.sel.register(sock, selectors.EVENT_READ, lambda m, c=conn: self._on_conn(c, m))

    def _on_conn(self, conn: _Conn, mask: int) -> None:
        try:
            if mask & selectors.EVENT_READ:
                data = conn.sock.recv(65536)
                if not data:
                    self._close(conn)
                    return
                conn.inbuf += data
                while b"\n" in conn.inbuf:
                    line, _, rest = bytes(conn.inbuf).partition(b"\n")
                    conn.inbuf = bytearray(rest)
                    conn.outbuf += self._answer(line)
                if len(conn.inbuf) > MAX_LINE:
                    conn.outbuf += self._encode({"ok": False, "error": "% Request too long"})
                    conn.inbuf.clear()
            if conn.outbuf:
                sent = conn.sock.send(conn.outbuf)
                del conn.outbuf[:sent]
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.outbuf else 0)
            self.sel.modify(conn.sock, events, lambda m, c=conn: self._on_conn(c, m))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)

    def _answer(self, line: bytes) -> bytes:
        try:
            req = _json.loads(line)
            cmd = req["cmd"]
            if not isinstance(cmd, str):
                raise TypeError("cmd must be a string")
            want_json = bool(req.get("json", False))
        except (ValueError, KeyError, TypeError) as exc:
            return self._encode({"ok": False, "error": f"% Malformed request: {exc}"})
        try:
            reply = self.handler(cmd.strip(), want_json)
        except Exception as exc:  # a command must never kill the engine
            log.exception("control command %r failed", cmd)
            reply = {"ok": False, "error": f"% Internal error: {type(exc).__name__}: {exc}"}
        return self._encode(reply)

    @staticmethod
    def _encode(reply: dict[str, Any]) -> bytes:
        return _json.dumps(reply, default=str).encode() + b"\n"

    def _close(self, conn: _Conn) -> None:
        self.conns.pop(conn.sock.fileno(), None)
        try:
            self.sel.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    def close(self) -> None:
        """Close every connection, the listener, and remove the socket file."""
        for conn in list(self.conns.values()):
            self._close(conn)
        try:
            self.sel.unregister(self.listener)
        except (KeyError, ValueError):
            pass
        self.listener.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
