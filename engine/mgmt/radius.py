"""RADIUS accounting codec and client (RFC 2865 §3/§5, RFC 2866, RFC 2869 §5.1-5.2).

Only what IPsec VPN accounting needs (seed 001 ch. 5): Accounting-Request /
Accounting-Response, standard attributes and Cisco vendor-specific attributes
(vendor 9: ``Cisco-AVPair`` = 1, ``cisco-nas-port`` = 2, seed 001 L1749-1765).

Request Authenticator (RFC 2866 §3):
    MD5(Code + Identifier + Length + 16 zero octets + request attributes + secret)
Response Authenticator (RFC 2866 §3, RFC 2865 §3):
    MD5(Code + Identifier + Length + Request Authenticator + response attributes + secret)

The client (:class:`AccountingClient`) does its UDP I/O in one daemon thread:
one request at a time per server, ``radius-server retransmit`` retries after
``radius-server timeout`` seconds each, then the next server (IOS failover);
``broadcast`` lists send to every server.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import queue
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger("engine.mgmt.radius")

ACCESS_REQUEST = 1
ACCOUNTING_REQUEST = 4
ACCOUNTING_RESPONSE = 5

# RFC 2865 §5 / RFC 2866 §5 / RFC 2869 §5 attribute types
USER_NAME = 1
NAS_IP_ADDRESS = 4
NAS_PORT = 5
FRAMED_IP_ADDRESS = 8
VENDOR_SPECIFIC = 26
ACCT_STATUS_TYPE = 40
ACCT_DELAY_TIME = 41
ACCT_INPUT_OCTETS = 42
ACCT_OUTPUT_OCTETS = 43
ACCT_SESSION_ID = 44
ACCT_SESSION_TIME = 46
ACCT_INPUT_PACKETS = 47
ACCT_OUTPUT_PACKETS = 48
ACCT_TERMINATE_CAUSE = 49
ACCT_INPUT_GIGAWORDS = 52
ACCT_OUTPUT_GIGAWORDS = 53

CISCO = 9  # SMI network management private enterprise code
CISCO_AVPAIR = 1
CISCO_NAS_PORT = 2

STATUS_START = 1
STATUS_STOP = 2
STATUS_INTERIM = 3  # RFC 2866 "Interim-Update"; IOS debug prints it "Watchdog [3]" (L1855)
STATUS_NAMES = {STATUS_START: "Start", STATUS_STOP: "Stop", STATUS_INTERIM: "Watchdog"}

#: Names as IOS ``debug radius`` prints them (seed 001 L1749-1818).
NAMES = {
    USER_NAME: "User-Name", NAS_IP_ADDRESS: "NAS-IP-Address", NAS_PORT: "NAS-Port",
    FRAMED_IP_ADDRESS: "Framed-IP-Address", ACCT_STATUS_TYPE: "Acct-Status-Type",
    ACCT_DELAY_TIME: "Acct-Delay-Time", ACCT_INPUT_OCTETS: "Acct-Input-Octets",
    ACCT_OUTPUT_OCTETS: "Acct-Output-Octets", ACCT_SESSION_ID: "Acct-Session-Id",
    ACCT_SESSION_TIME: "Acct-Session-Time", ACCT_INPUT_PACKETS: "Acct-Input-Packets",
    ACCT_OUTPUT_PACKETS: "Acct-Output-Packets", ACCT_TERMINATE_CAUSE: "Acct-Terminate-Cause",
    ACCT_INPUT_GIGAWORDS: "Acct-Input-Giga-Word", ACCT_OUTPUT_GIGAWORDS: "Acct-Output-Giga-Wor",
}
_INT_ATTRS = {NAS_PORT, ACCT_STATUS_TYPE, ACCT_DELAY_TIME, ACCT_INPUT_OCTETS, ACCT_OUTPUT_OCTETS,
              ACCT_SESSION_TIME, ACCT_INPUT_PACKETS, ACCT_OUTPUT_PACKETS, ACCT_TERMINATE_CAUSE,
              ACCT_INPUT_GIGAWORDS, ACCT_OUTPUT_GIGAWORDS}
_ADDR_ATTRS = {NAS_IP_ADDRESS, FRAMED_IP_ADDRESS}


class RadiusError(ValueError):
    """A malformed RADIUS packet (what is wrong and at which offset)."""


@dataclass(frozen=True)
class Attribute:
    """One attribute; ``vendor``/``vtype`` set for a Vendor-Specific sub-attribute
    (RFC 2865 §5.26)."""

    type: int
    value: bytes
    vendor: int | None = None
    vtype: int | None = None

    def encode(self) -> bytes:
        if self.vendor is None:
            if len(self.value) > 253:
                raise ValueError(f"RADIUS attribute {self.type}: value longer than 253 octets")
            return bytes((self.type, len(self.value) + 2)) + self.value
        sub = bytes((self.vtype or 0, len(self.value) + 2)) + self.value
        if len(sub) > 249:
            raise ValueError(f"RADIUS VSA {self.vendor}/{self.vtype}: value too long")
        return bytes((VENDOR_SPECIFIC, len(sub) + 6)) + struct.pack("!I", self.vendor) + sub

    # -- constructors --------------------------------------------------------------------------

    @classmethod
    def string(cls, type_: int, text: str) -> "Attribute":
        return cls(type_, text.encode())

    @classmethod
    def integer(cls, type_: int, value: int) -> "Attribute":
        return cls(type_, struct.pack("!I", value & 0xFFFFFFFF))

    @classmethod
    def address(cls, type_: int, addr: str) -> "Attribute":
        return cls(type_, ipaddress.IPv4Address(addr).packed)

    @classmethod
    def avpair(cls, name: str, value: str) -> "Attribute":
        """Cisco-AVPair ``name=value`` (vendor 9, type 1)."""
        return cls(VENDOR_SPECIFIC, f"{name}={value}".encode(), CISCO, CISCO_AVPAIR)

    @classmethod
    def cisco(cls, vtype: int, text: str) -> "Attribute":
        return cls(VENDOR_SPECIFIC, text.encode(), CISCO, vtype)

    def as_int(self) -> int:
        return struct.unpack("!I", self.value)[0]


@dataclass
class Packet:
    code: int
    identifier: int
    authenticator: bytes
    attributes: list[Attribute] = field(default_factory=list)
    raw: bytes = b""

    def get(self, type_: int) -> Attribute | None:
        return next((a for a in self.attributes if a.type == type_ and a.vendor is None), None)

    def avpairs(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for a in self.attributes:
            if a.vendor == CISCO and a.vtype == CISCO_AVPAIR:
                k, _, v = a.value.decode(errors="replace").partition("=")
                out[k] = v
        return out


def encode_attributes(attrs: list[Attribute]) -> bytes:
    return b"".join(a.encode() for a in attrs)


def _header(code: int, identifier: int, length: int) -> bytes:
    return struct.pack("!BBH", code, identifier & 0xFF, length)


def accounting_request(identifier: int, attrs: list[Attribute], secret: bytes) -> bytes:
    """An Accounting-Request with its Request Authenticator (RFC 2866 §3)."""
    body = encode_attributes(attrs)
    length = 20 + len(body)
    if length > 4096:
        raise ValueError(f"RADIUS packet of {length} octets exceeds 4096 (RFC 2865 §3)")
    hdr = _header(ACCOUNTING_REQUEST, identifier, length)
    auth = hashlib.md5(hdr + bytes(16) + body + secret).digest()
    return hdr + auth + body


def verify_accounting_request(packet: bytes, secret: bytes) -> bool:
    if len(packet) < 20:
        return False
    expect = hashlib.md5(packet[:4] + bytes(16) + packet[20:] + secret).digest()
    return expect == packet[4:20]


def accounting_response(identifier: int, request_auth: bytes, attrs: list[Attribute],
                        secret: bytes) -> bytes:
    """An Accounting-Response (what a server sends; used by tests)."""
    body = encode_attributes(attrs)
    hdr = _header(ACCOUNTING_RESPONSE, identifier, 20 + len(body))
    auth = hashlib.md5(hdr + request_auth + body + secret).digest()
    return hdr + auth + body


def verify_response(packet: bytes, request_auth: bytes, secret: bytes) -> bool:
    """RFC 2865 §3 Response Authenticator check."""
    if len(packet) < 20:
        return False
    expect = hashlib.md5(packet[:4] + request_auth + packet[20:] + secret).digest()
    return expect == packet[4:20]


def decode(data: bytes) -> Packet:
    """Parse a RADIUS packet; :class:`RadiusError` names what is wrong and where."""
    if len(data) < 20:
        raise RadiusError(f"RADIUS packet of {len(data)} octets is shorter than the "
                          "20-octet header")
    code, ident, length = struct.unpack("!BBH", data[:4])
    if not 20 <= length <= len(data):
        raise RadiusError(f"RADIUS Length field {length} does not fit the "
                          f"{len(data)}-octet datagram")
    attrs: list[Attribute] = []
    off = 20
    while off < length:
        if off + 2 > length:
            raise RadiusError(f"truncated attribute header at offset {off}")
        t, alen = data[off], data[off + 1]
        if alen < 2 or off + alen > length:
            raise RadiusError(f"attribute {t} at offset {off}: bad length {alen}")
        value = data[off + 2:off + alen]
        if t == VENDOR_SPECIFIC and len(value) >= 6:
            vendor = struct.unpack("!I", value[:4])[0]
            vt, vl = value[4], value[5]
            if vl < 2 or 4 + vl > len(value):
                raise RadiusError(f"vendor attribute at offset {off}: bad sub-length {vl}")
            attrs.append(Attribute(t, value[6:4 + vl], vendor, vt))
        else:
            attrs.append(Attribute(t, value))
        off += alen
    return Packet(code, ident, data[4:20], attrs, data[:length])


# -- IOS ``debug radius`` rendering (seed 001 L1744-1769) -------------------------------------


def _hex16(b: bytes) -> str:
    h = " ".join(f"{x:02X}" for x in b)
    return h[:23] + " -" + h[23:]


def debug_lines(packet: bytes, server: tuple[str, int], handle: int) -> list[str]:
    """The request as IOS ``debug radius`` prints it (without timestamps)."""
    p = decode(packet)
    out = [f"RADIUS({handle:08X}): sending",
           f"RADIUS({handle:08X}): Send Accounting-Request to {server[0]}:{server[1]} "
           f"id {p.identifier}, len {len(p.raw)}",
           f"RADIUS:  authenticator {_hex16(p.authenticator)}"]
    for a in p.attributes:
        if a.vendor is not None:
            out.append(f"RADIUS:  Vendor, Cisco       [26] {len(a.value) + 8}")
            name = "Cisco AVpair" if a.vtype == CISCO_AVPAIR else "cisco-nas-port"
            out.append(f'RADIUS:  {name:<19} [{a.vtype}] {len(a.value) + 2:<3} '
                       f'"{a.value.decode(errors="replace")}"')
            continue
        name = NAMES.get(a.type, f"Attribute-{a.type}")
        if a.type == ACCT_STATUS_TYPE:
            v = a.as_int()
            shown = f"{STATUS_NAMES.get(v, v)} [{v}]"
        elif a.type == ACCT_TERMINATE_CAUSE:
            shown = f"none [{a.as_int()}]" if a.as_int() == 0 else f"[{a.as_int()}]"
        elif a.type in _INT_ATTRS and len(a.value) == 4:
            shown = str(a.as_int())
        elif a.type in _ADDR_ATTRS and len(a.value) == 4:
            shown = str(ipaddress.IPv4Address(a.value))
        else:
            shown = f'"{a.value.decode(errors="replace")}"'
        out.append(f"RADIUS:  {name:<19} [{a.type}] {len(a.value) + 2:<3} {shown}")
    return out


def _handle(session_id: str) -> int:
    try:
        return int(session_id, 16)
    except ValueError:
        return 0


# -- client --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    address: str
    port: int
    secret: bytes


@dataclass
class Result:
    """What happened to one accounting record (for show/lab commands and tests)."""

    status: int
    session_id: str
    server: tuple[str, int] | None = None
    identifier: int | None = None
    length: int = 0
    attempts: int = 0
    acked: bool = False
    error: str = ""
    debug: list[str] = field(default_factory=list)


class AccountingClient:
    """Sends Accounting-Requests in a background thread (never blocks the engine loop)."""

    def __init__(self, on_result: Callable[[Result], None] | None = None) -> None:
        self._q: queue.Queue = queue.Queue()
        self._ident = 0
        self._on_result = on_result
        self.results: list[Result] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._worker, name="radius-acct", daemon=True)
        self._thread.start()

    def submit(self, servers: list[Server], attrs_for: Callable[[str], list[Attribute]],
               status: int, session_id: str, *, retransmit: int = 3, timeout: float = 5.0,
               broadcast: bool = False) -> None:
        """Queue one record. ``attrs_for(nas_ip)`` builds its attributes once the source
        address towards the server is known (NAS-IP-Address, RFC 2865 §5.4)."""
        self._q.put((list(servers), attrs_for, status, session_id, retransmit, timeout, broadcast))

    def close(self, drain: float = 2.0) -> None:
        """Send what is queued (bounded by ``drain`` seconds), then stop the thread."""
        self._q.put(None)
        self._thread.join(drain)

    def idle(self) -> bool:
        return self._q.unfinished_tasks == 0

    def _next_id(self) -> int:
        self._ident = (self._ident + 1) & 0xFF
        return self._ident

    def _worker(self) -> None:
        while True:
            item = self._q.get()
            try:
                if item is None:
                    return
                servers, attrs_for, status, sid, retransmit, timeout, broadcast = item
                for srv in servers:
                    res = self._send_one(srv, attrs_for, status, sid, retransmit, timeout)
                    with self._lock:
                        self.results.append(res)
                    if self._on_result is not None:
                        try:
                            self._on_result(res)
                        except Exception:
                            log.exception("accounting result callback failed")
                    if res.acked and not broadcast:
                        break
            except Exception:
                log.exception("RADIUS accounting worker")
            finally:
                self._q.task_done()

    def _send_one(self, srv: Server, attrs_for: Callable[[str], list[Attribute]], status: int,
                  sid: str, retransmit: int, timeout: float) -> Result:
        res = Result(status, sid, (srv.address, srv.port))
        fam = socket.AF_INET6 if ":" in srv.address else socket.AF_INET
        try:
            with socket.socket(fam, socket.SOCK_DGRAM) as s:
                s.connect((srv.address, srv.port))
                nas_ip = s.getsockname()[0]
                ident = self._next_id()
                pkt = accounting_request(ident, attrs_for(nas_ip), srv.secret)
                res.identifier, res.length = ident, len(pkt)
                res.debug = debug_lines(pkt, (srv.address, srv.port), _handle(sid))
                for line in res.debug:
                    log.info("%s", line)
                for attempt in range(retransmit + 1):
                    res.attempts = attempt + 1
                    s.send(pkt)
                    deadline = time.monotonic() + timeout
                    while (left := deadline - time.monotonic()) > 0:
                        s.settimeout(left)
                        try:
                            data = s.recv(4096)
                        except socket.timeout:
                            break
                        except OSError as exc:  # ICMP port unreachable etc.
                            res.error = str(exc)
                            time.sleep(min(left, 0.2))
                            continue
                        if (len(data) >= 20 and data[0] == ACCOUNTING_RESPONSE
                                and data[1] == ident and verify_response(data, pkt[4:20],
                                                                         srv.secret)):
                            res.acked, res.error = True, ""
                            log.info("RADIUS: Received from id %d %s:%d, Accounting-response, "
                                     "len %d", ident, srv.address, srv.port, len(data))
                            return res
                        log.warning("RADIUS: discarded reply from %s:%d (bad id/authenticator)",
                                    srv.address, srv.port)
                res.error = res.error or f"no response after {res.attempts} attempt(s)"
        except (OSError, ValueError) as exc:
            res.error = f"{type(exc).__name__}: {exc}"
        log.warning("RADIUS accounting to %s:%d failed: %s", srv.address, srv.port, res.error)
        return res


# -- command line (lab tests: send one record from inside a namespace) ------------------------


def main(argv: list[str] | None = None) -> int:
    """``python -m engine.mgmt.radius --server IP:PORT --secret S --status start|stop|interim
    --session-id ID [--avpair k=v ...] [--timeout s] [--retransmit n]`` → JSON result."""
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m engine.mgmt.radius")
    ap.add_argument("--server", required=True, action="append",
                    help="IP:PORT; repeat for failover order (or --broadcast)")
    ap.add_argument("--broadcast", action="store_true")
    ap.add_argument("--secret", required=True)
    ap.add_argument("--status", choices=("start", "stop", "interim"), required=True)
    ap.add_argument("--session-id", default="00000001")
    ap.add_argument("--avpair", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--retransmit", type=int, default=1)
    a = ap.parse_args(argv)
    servers = [Server(h, int(p), a.secret.encode())
               for h, _, p in (s.rpartition(":") for s in a.server)]
    status = {"start": STATUS_START, "stop": STATUS_STOP, "interim": STATUS_INTERIM}[a.status]

    def attrs(nas_ip: str) -> list[Attribute]:
        out = [Attribute.string(ACCT_SESSION_ID, a.session_id)]
        out += [Attribute.avpair(*p.split("=", 1)) for p in a.avpair]
        out += [Attribute.integer(ACCT_STATUS_TYPE, status), Attribute.integer(NAS_PORT, 0),
                Attribute.address(NAS_IP_ADDRESS, nas_ip), Attribute.integer(ACCT_DELAY_TIME, 0)]
        return out

    client = AccountingClient()
    client.submit(servers, attrs, status, a.session_id, retransmit=a.retransmit,
                  timeout=a.timeout, broadcast=a.broadcast)
    client.close(drain=len(servers) * (a.retransmit + 1) * a.timeout + 2)
    res = client.results[-1] if client.results else Result(status, a.session_id,
                                                           error="not sent")
    print(json.dumps({"acked": res.acked, "attempts": res.attempts, "error": res.error,
                      "identifier": res.identifier, "length": res.length, "debug": res.debug,
                      "servers": [{"server": f"{x.server[0]}:{x.server[1]}", "acked": x.acked,
                                   "attempts": x.attempts} for x in client.results
                                  if x.server]}))
    return 0 if any(x.acked for x in client.results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
