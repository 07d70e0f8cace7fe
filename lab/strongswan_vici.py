"""Minimal client for strongSwan's VICI protocol (charon's control socket).

Wire format (strongSwan ``src/libcharon/plugins/vici/README.md``):

* a packet is a 32-bit big-endian length followed by that many bytes;
* the first byte is the packet type (:class:`PacketType`); named types
  (command request, event (un)register, event) carry a one-byte name length
  and the name;
* the rest is a message: a sequence of elements (:class:`Element`), each a
  type byte, for named elements a one-byte name length and name, and for
  values a 16-bit big-endian length and the value.

Messages decode to ``dict[str, str | list[str] | dict]`` (values as text,
sections as nested dicts). Streaming commands (``list-sas``, ``initiate``...)
deliver their results as events registered before the command is sent.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

Message = dict[str, Any]


class PacketType(IntEnum):
    """VICI packet types (vici README, "Packet layer")."""

    CMD_REQUEST = 0
    CMD_RESPONSE = 1
    CMD_UNKNOWN = 2
    EVENT_REGISTER = 3
    EVENT_UNREGISTER = 4
    EVENT_CONFIRM = 5
    EVENT_UNKNOWN = 6
    EVENT = 7


class Element(IntEnum):
    """VICI message element types (vici README, "Message format")."""

    SECTION_START = 1
    SECTION_END = 2
    KEY_VALUE = 3
    LIST_START = 4
    LIST_ITEM = 5
    LIST_END = 6


class ViciError(Exception):
    """A VICI exchange failed (socket, protocol, or command error)."""


def encode_message(msg: Message) -> bytes:
    """Encode a dict as a VICI message (values: str/int/bytes, list, dict)."""
    out = bytearray()
    for key, value in msg.items():
        name = key.encode()
        if isinstance(value, dict):
            out += bytes([Element.SECTION_START, len(name)]) + name
            out += encode_message(value)
            out += bytes([Element.SECTION_END])
        elif isinstance(value, list):
            out += bytes([Element.LIST_START, len(name)]) + name
            for item in value:
                data = _value_bytes(item)
                out += bytes([Element.LIST_ITEM]) + struct.pack("!H", len(data)) + data
            out += bytes([Element.LIST_END])
        else:
            data = _value_bytes(value)
            out += bytes([Element.KEY_VALUE, len(name)]) + name
            out += struct.pack("!H", len(data)) + data
    return bytes(out)


def _value_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        return b"yes" if value else b"no"
    return str(value).encode()


def _need(data: bytes, end: int) -> None:
    if end > len(data):
        raise ViciError(f"truncated VICI message: needs {end} bytes, has {len(data)}")


def decode_message(data: bytes) -> Message:
    """Decode a VICI message into nested dicts; raises ViciError if malformed."""
    root: Message = {}
    stack: list[Message] = [root]
    current_list: list[str] | None = None
    pos = 0
    try:
        while pos < len(data):
            etype = data[pos]
            pos += 1
            if etype in (Element.SECTION_START, Element.KEY_VALUE, Element.LIST_START):
                nlen = data[pos]
                _need(data, pos + 1 + nlen)
                name = data[pos + 1 : pos + 1 + nlen].decode(errors="replace")
                pos += 1 + nlen
            if etype == Element.SECTION_START:
                section: Message = {}
                stack[-1][name] = section
                stack.append(section)
            elif etype == Element.SECTION_END:
                if len(stack) == 1:
                    raise ViciError("unbalanced SECTION_END in VICI message")
                stack.pop()
            elif etype == Element.KEY_VALUE:
                (vlen,) = struct.unpack_from("!H", data, pos)
                _need(data, pos + 2 + vlen)
                stack[-1][name] = data[pos + 2 : pos + 2 + vlen].decode(errors="replace")
                pos += 2 + vlen
            elif etype == Element.LIST_START:
                current_list = []
                stack[-1][name] = current_list
            elif etype == Element.LIST_ITEM:
                if current_list is None:
                    raise ViciError("LIST_ITEM outside a list in VICI message")
                (vlen,) = struct.unpack_from("!H", data, pos)
                _need(data, pos + 2 + vlen)
                current_list.append(data[pos + 2 : pos + 2 + vlen].decode(errors="replace"))
                pos += 2 + vlen
            elif etype == Element.LIST_END:
                current_list = None
            else:
                raise ViciError(f"unknown VICI element type {etype} at offset {pos - 1}")
    except (IndexError, struct.error) as exc:
        raise ViciError(f"truncated VICI message at offset {pos}") from exc
    return root


@dataclass
class ViciSession:
    """One connection to a charon VICI socket (a filesystem unix socket).

    Usable from any network namespace: the socket is a path in the node
    directory. ``with ViciSession(path) as v: v.request("version")``.
    """

    path: Path
    timeout: float = 10.0
    _sock: socket.socket | None = field(default=None, init=False, repr=False)

    def __enter__(self) -> "ViciSession":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            if len(os.fsencode(self.path)) < 100:
                sock.connect(str(self.path))
            else:
                # Longer than sun_path allows: go through the directory's fd.
                dfd = os.open(self.path.parent, os.O_PATH | os.O_DIRECTORY)
                try:
                    sock.connect(f"/proc/self/fd/{dfd}/{self.path.name}")
                finally:
                    os.close(dfd)
        except OSError as exc:
            sock.close()
            raise ViciError(f"cannot connect to VICI socket {self.path}: {exc}") from exc
        self._sock = sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _send(self, ptype: PacketType, name: str | None, msg: Message | None) -> None:
        body = bytes([ptype])
        if name is not None:
            body += bytes([len(name)]) + name.encode()
        if msg:
            body += encode_message(msg)
        assert self._sock is not None, "ViciSession not open"
        self._sock.sendall(struct.pack("!I", len(body)) + body)

    def _recv_exact(self, n: int) -> bytes:
        assert self._sock is not None, "ViciSession not open"
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self._sock.recv(n - len(buf))
            except socket.timeout as exc:
                raise ViciError(f"timeout waiting for charon on {self.path}") from exc
            if not chunk:
                raise ViciError(f"charon closed the VICI socket {self.path}")
            buf += chunk
        return bytes(buf)

    def _recv(self) -> tuple[PacketType, str | None, Message]:
        (length,) = struct.unpack("!I", self._recv_exact(4))
        data = self._recv_exact(length)
        ptype = PacketType(data[0])
        pos, name = 1, None
        if ptype in (PacketType.EVENT,):
            nlen = data[1]
            name = data[2 : 2 + nlen].decode()
            pos = 2 + nlen
        return ptype, name, decode_message(data[pos:])

    def request(self, command: str, msg: Message | None = None) -> Message:
        """Send a simple command and return its response message."""
        self._send(PacketType.CMD_REQUEST, command, msg)
        while True:
            ptype, _, reply = self._recv()
            if ptype == PacketType.CMD_RESPONSE:
                return reply
            if ptype == PacketType.CMD_UNKNOWN:
                raise ViciError(f"charon does not know VICI command {command!r}")

    def streamed(
        self, command: str, event: str, msg: Message | None = None
    ) -> tuple[list[Message], Message]:
        """Run a streaming command; returns (events received, final response)."""
        self._send(PacketType.EVENT_REGISTER, event, None)
        ptype, _, _ = self._recv()
        if ptype != PacketType.EVENT_CONFIRM:
            raise ViciError(f"charon refused to register VICI event {event!r}")
        self._send(PacketType.CMD_REQUEST, command, msg)
        events: list[Message] = []
        while True:
            ptype, name, reply = self._recv()
            if ptype == PacketType.EVENT and name == event:
                events.append(reply)
            elif ptype == PacketType.CMD_RESPONSE:
                break
            elif ptype == PacketType.CMD_UNKNOWN:
                raise ViciError(f"charon does not know VICI command {command!r}")
        self._send(PacketType.EVENT_UNREGISTER, event, None)
        while True:
            ptype, _, _ = self._recv()
            if ptype in (PacketType.EVENT_CONFIRM, PacketType.EVENT_UNKNOWN):
                break
        return events, reply
