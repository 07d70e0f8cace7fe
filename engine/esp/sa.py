"""ESP (RFC 4303) and AH (RFC 4302) SAs, sans-I/O: bytes in, bytes out.

``OutboundSa.protect(inner)`` returns a complete outer IP packet (IPv4/IPv6,
optionally UDP-encapsulated per RFC 3948) ready for a raw socket.
``InboundSa.unprotect(packet)`` takes a complete IP packet, or with
``src``/``dst`` given just the ESP/AH bytes (UDP 4500 socket, raw IPv6 socket),
and returns the inner IP packet. Errors are typed (``engine.esp.errors``).

Speed notes: CBC contexts live for the whole SA. Outbound, a fresh random
block is encrypted first on the running chain, so its ciphertext is the
packet's IV: unpredictable, as RFC 4303 §3.2 / RFC 3602 §2.1 require, without
a per-packet cipher object. Inbound, the IV block is fed through the running
decryptor and its output block dropped. HMAC states are keyed once and copied.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import struct
from typing import Callable, Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher as _CCipher
from cryptography.hazmat.primitives.ciphers import modes as _modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.crypto.algorithms import CIPHERS, INTEGRITY, block_algorithm
from engine.esp.ah import mutable_zeroed
from engine.esp.errors import (
    EspError,
    IntegrityError,
    MalformedPacket,
    ReplayError,
    SequenceExhausted,
)
from engine.esp.ip import (
    PROTO_AH,
    PROTO_ESP,
    PROTO_IPV4,
    PROTO_IPV6,
    PROTO_NONE,
    PROTO_UDP,
    checksum,
    ip_version,
    ipv4_fix,
    ipv4_header,
    ipv6_header,
    split_ipv4,
    split_ipv6,
)
from engine.esp.params import SaCounters, SaParams
from engine.esp.replay import ReplayWindow

_II = struct.Struct("!II")
_V4 = struct.Struct("!BBHHHBBH4s4s")
_UDP = struct.Struct("!HHHH")
_PAD = bytes(range(1, 256))  # RFC 4303 §2.4 default padding 1, 2, 3, ...
MAX_SEQ = 0xFFFFFFFF


class _SaBase:
    """State common to both directions."""

    def __init__(self, params: SaParams) -> None:
        params.validate()
        self.params = params
        self.spi = params.spi
        self.counters = SaCounters()
        self.cipher = CIPHERS[params.encr]
        self.integ = INTEGRITY[params.integ]
        self.is_esp = params.proto == "esp"
        self.tunnel = params.mode == "tunnel"
        self._icv_len = self.integ.icv_len
        self._mac = self.integ.keyed(params.integ_key)
        self._has_integ = params.integ != "null"
        loc, rem = ipaddress.ip_address(params.local), ipaddress.ip_address(params.remote)
        self._v6 = loc.version == 6
        self._local_b, self._remote_b = loc.packed, rem.packed
        kind = self.cipher.kind
        self._kind = kind
        self._bs = self.cipher.block_size
        self._align = max(self._bs, 4)  # RFC 4303 §2.4: trailer ends on a 4-byte boundary
        if kind == "gcm":
            self._aead = AESGCM(params.encr_key[:-4])
            self._salt = params.encr_key[-4:]
        elif kind == "cbc":
            self._algo = block_algorithm(params.encr, params.encr_key)
        # AH: ICV field padded to 32 bits (IPv4) or 64 bits for the whole header (IPv6).
        ah_len = 12 + self._icv_len
        ah_len += (-ah_len) % (8 if self._v6 else 4)
        self._ah_len = ah_len
        self._ah_zero = bytes(ah_len - 12)

    def export(self, direction: str) -> dict:
        return self.params.export(direction)

    # AH ICV input: immutable fields only (RFC 4302 §3.3.3.1, engine/esp/ah.py).
    _ah_mutable_zeroed = staticmethod(mutable_zeroed)


class OutboundSa(_SaBase):
    """Sending side of one ESP or AH SA."""

    def __init__(
        self,
        params: SaParams,
        *,
        initial_seq: int = 0,
        iv_source: Callable[[int], bytes] | None = None,
    ) -> None:
        """Args:
        params: the SA.
        initial_seq: last sequence number used (tests of exhaustion); next is +1.
        iv_source: ``n -> IV bytes`` for known-answer tests; default random/chained.
        """
        super().__init__(params)
        self.seq = initial_seq
        self._iv_source = iv_source
        self._ident = int.from_bytes(os.urandom(2), "big")
        if self._kind == "cbc":
            self._enc = _CCipher(self._algo, _modes.CBC(os.urandom(self._bs))).encryptor()
        self._udp = params.udp_encap
        self._df_fixed = {"set": 0x4000, "clear": 0}.get(params.df)
        self._trailers: dict[int, list[bytes]] = {}
        self._mac_template = self.integ.template(params.integ_key) if self._has_integ else None
        addr = self._local_b + self._remote_b
        self._v4_sum = sum(struct.unpack("!4H", addr)) if len(addr) == 8 else 0

    # ------------------------------------------------------------------ public API

    def protect(self, inner: bytes) -> bytes:
        """Protect one inner IP packet; returns the complete outer IP packet."""
        try:
            if self.is_esp:
                out = self._protect_esp(inner)
            else:
                out = self._protect_ah(inner)
        except EspError:
            self.counters.send_errors += 1
            raise
        c = self.counters
        c.encaps += 1
        if self.is_esp:
            c.encrypt += 1
        if self._has_integ or self.cipher.aead:
            c.digest += 1
        c.bytes_out += len(inner)
        return out

    def protect_many(self, packets: Iterable[bytes]) -> list[bytes | EspError]:
        """Batch form: one result per packet, an EspError in place of a failed one."""
        return each_or_error(self.protect, packets)

    def insert(self, ip_packet: bytes) -> bytes:
        """AH only: insert AH after the IP header of an already built packet.

        This is the outer half of an AH+ESP bundle (IOS ``ah-md5-hmac esp-des``):
        ESP builds the tunnel packet, AH then covers its outer header (RFC 4301 §4.5).
        """
        if self.is_esp:
            raise EspError("insert() is for AH SAs", self.spi)
        try:
            out = self._ah_transport(ip_packet)
        except EspError:
            self.counters.send_errors += 1
            raise
        self.counters.encaps += 1
        self.counters.digest += 1
        self.counters.bytes_out += len(ip_packet)
        return out

    def overhead(self, inner_len: int) -> int:
        """Bytes added to an inner packet of inner_len (for PMTU/pre-fragmentation)."""
        outer_ip = (40 if self._v6 else 20) if self.tunnel else 0
        if not self.is_esp:
            return outer_ip + self._ah_len
        # transport mode encrypts the payload only (the IP header stays in front)
        body = inner_len if self.tunnel else inner_len - (40 if self._v6 else 20)
        padded = body + 2 + (-(body + 2)) % self._align
        esp = 8 + self.cipher.iv_len + padded + self._icv_len + self.cipher.icv_len
        return outer_ip + (8 if self._udp else 0) + esp - body

    def max_inner_len(self, mtu: int) -> int:
        """Largest inner packet that still fits mtu once protected."""
        return largest_inner(mtu, self.overhead)

    @property
    def seq_remaining(self) -> int:
        """Packets left before the sequence number space is exhausted (rekey before 0)."""
        return MAX_SEQ - self.seq

    # ------------------------------------------------------------------ internals

    def _next_seq(self) -> int:
        if self.seq >= MAX_SEQ:
            raise SequenceExhausted("outbound sequence number exhausted, rekey", self.spi)
        self.seq += 1
        return self.seq

    def _protect_esp(self, inner: bytes) -> bytes:
        v = ip_version(inner)
        if self.tunnel:
            parts = self._esp_parts(inner, PROTO_IPV4 if v == 4 else PROTO_IPV6)
            length = sum(map(len, parts))
            if self._udp:
                length += 8
                parts.insert(0, self._udp_header(length, parts))
                proto = PROTO_UDP
            else:
                proto = PROTO_ESP
            parts.insert(0, self._tunnel_header(inner, v, proto, length))
            return b"".join(parts)
        proto = PROTO_UDP if self._udp else PROTO_ESP
        if v == 4:
            hdr, nh, payload = split_ipv4(inner)
            esp = self._esp(payload, nh)
            if self._udp:
                esp = _UDP.pack(self._udp[0], self._udp[1], 8 + len(esp), 0) + esp
            return ipv4_fix(hdr, proto=proto, total_len=len(hdr) + len(esp)) + esp
        hdrs, nh, nh_pos, payload = split_ipv6(inner)
        esp = self._esp(payload, nh)
        if self._udp:
            esp = self._udp_header(8 + len(esp), [esp], hdrs[8:40]) + esp
        return _v6_patch(hdrs, nh_pos, proto, len(hdrs) - 40 + len(esp)) + esp

    def _udp_header(self, length: int, parts: list[bytes], addrs: bytes | None = None) -> bytes:
        """RFC 3948 §2.1 UDP header: checksum 0 over IPv4; over IPv6 a real checksum
        (RFC 8200 §8.1 forbids 0), as strongSwan's libipsec sends ESP-in-UDP on IPv6 too."""
        sport, dport = self._udp
        if not self._v6:
            return _UDP.pack(sport, dport, length, 0)
        if addrs is None:
            addrs = self._local_b + self._remote_b
        pseudo = addrs + length.to_bytes(4, "big") + b"\0\0\0\x11"
        c = checksum(b"".join([pseudo, _UDP.pack(sport, dport, length, 0), *parts]))
        return _UDP.pack(sport, dport, length, c or 0xFFFF)

    def _esp(self, payload: bytes, nh: int) -> bytes:
        return b"".join(self._esp_parts(payload, nh))

    def _trailer(self, pad: int, nh: int) -> bytes:
        """Padding 1, 2, 3, ... + Pad Length + Next Header (RFC 4303 §2.4-2.6), cached."""
        table = self._trailers.get(nh)
        if table is None:
            table = self._trailers[nh] = [_PAD[:p] + bytes((p, nh)) for p in range(self._align)]
        return table[pad]

    def _esp_parts(self, payload: bytes, nh: int) -> list[bytes]:
        """The ESP packet as a list of pieces (joined once by the caller, no re-copying)."""
        seq = self._next_seq()
        hdr = _II.pack(self.spi, seq)
        trailer = self._trailer((-(len(payload) + 2)) % self._align, nh)
        kind = self._kind
        if kind == "cbc":
            if self._iv_source is None:
                parts = [hdr, self._enc.update(b"".join((os.urandom(self._bs), payload, trailer)))]
            else:
                iv = self._iv_source(self._bs)
                enc = _CCipher(self._algo, _modes.CBC(iv)).encryptor()
                parts = [hdr, iv, enc.update(payload + trailer)]
        elif kind == "gcm":
            # RFC 4106 §3.1: the sequence number is a fine unique 8-byte IV.
            iv = self._iv_source(8) if self._iv_source else seq.to_bytes(8, "big")
            return [hdr, iv, self._aead.encrypt(self._salt + iv, payload + trailer, hdr)]
        else:
            parts = [hdr, payload, trailer]
        if self._has_integ:
            h = self._mac_template.copy()
            for part in parts:
                h.update(part)
            parts.append(h.digest()[: self._icv_len])
        return parts

    def _tunnel_header(self, inner: bytes, v: int, proto: int, length: int) -> bytes:
        if v == 4:
            tos = inner[1]
            df = (inner[6] & 0x40) << 8 if self._df_fixed is None else self._df_fixed
        else:
            tos = ((inner[0] & 0xF) << 4) | (inner[1] >> 4)
            df = 0 if self._df_fixed is None else self._df_fixed
        if self._v6:
            return ipv6_header(
                self._local_b, self._remote_b, proto, length, hop_limit=self.params.ttl, tclass=tos
            )
        self._ident = ident = (self._ident + 1) & 0xFFFF or 1  # never 0: fragments need an ID
        # RFC 1071 sum: the constant words (addresses, TTL) are summed once per SA.
        total = 20 + length
        if total > 0xFFFF:
            raise MalformedPacket(f"IPv4 packet of {total} bytes exceeds 65535", self.spi)
        c = self._v4_sum + (self.params.ttl << 8 | proto) + (0x4500 | tos) + total + ident + df
        c = (c & 0xFFFF) + (c >> 16)
        c = (c & 0xFFFF) + (c >> 16)
        return _V4.pack(
            0x45,
            tos,
            total,
            ident,
            df,
            self.params.ttl,
            proto,
            ~c & 0xFFFF,
            self._local_b,
            self._remote_b,
        )

    def _protect_ah(self, inner: bytes) -> bytes:
        v = ip_version(inner)
        if not self.tunnel:
            return self._ah_transport(inner)
        nh = PROTO_IPV4 if v == 4 else PROTO_IPV6
        outer = self._tunnel_header(inner, v, PROTO_AH, self._ah_len + len(inner))
        return self._ah_build(outer, nh, inner)

    def _ah_transport(self, packet: bytes) -> bytes:
        if ip_version(packet) == 4:
            hdr, nh, payload = split_ipv4(packet)
            outer = ipv4_fix(hdr, proto=PROTO_AH, total_len=len(hdr) + self._ah_len + len(payload))
        else:
            hdrs, nh, nh_pos, payload = split_ipv6(packet)
            outer = _v6_patch(hdrs, nh_pos, PROTO_AH, len(hdrs) - 40 + self._ah_len + len(payload))
        return self._ah_build(outer, nh, payload)

    def _ah_build(self, outer: bytes, nh: int, payload: bytes) -> bytes:
        seq = self._next_seq()
        ah = bytes((nh, self._ah_len // 4 - 2, 0, 0)) + _II.pack(self.spi, seq)
        icv = self._mac(self._ah_mutable_zeroed(outer) + ah + self._ah_zero + payload)
        return outer + ah + icv + self._ah_zero[len(icv) :] + payload


class InboundSa(_SaBase):
    """Receiving side of one ESP or AH SA, with its anti-replay window."""

    def __init__(self, params: SaParams) -> None:
        super().__init__(params)
        self.replay = ReplayWindow(params.replay_window)
        if self._kind == "cbc":
            self._dec = _CCipher(self._algo, _modes.CBC(bytes(self._bs))).decryptor()
        # smallest valid ESP: header + IV + one block/4 bytes of trailer + ICV/tag
        self._min_esp = 8 + self.cipher.iv_len + self._align + self._icv_len + self.cipher.icv_len

    def unprotect(self, data: bytes, src: str | None = None, dst: str | None = None) -> bytes:
        """Verify, decrypt and decapsulate one packet; returns the inner IP packet.

        Args:
            data: a complete IP packet, or (with src/dst) the bytes from the ESP/AH
                header on (UDP payload without the marker, raw IPv6 socket data).
            src, dst: outer addresses when data has no IP header.

        Returns:
            The inner IP packet; b"" for an ESP dummy packet (next header 59).

        Raises:
            ReplayError, IntegrityError, MalformedPacket: the packet is dropped.
        """
        try:
            if self.is_esp:
                out = self._unprotect_esp(data, src, dst)
            else:
                out = self._unprotect_ah(data, src, dst)
        except EspError:
            self.counters.recv_errors += 1
            raise
        except (IndexError, ValueError, struct.error) as e:  # belt and braces on garbage
            self.counters.recv_errors += 1
            self.counters.invalid_len += 1
            raise MalformedPacket(f"undecodable packet: {e}", self.spi) from None
        c = self.counters
        c.decaps += 1
        if self.is_esp:
            c.decrypt += 1
        if self._has_integ or self.cipher.aead:
            c.verify += 1
        c.bytes_in += len(out)
        return out

    def unprotect_many(
        self, packets: Iterable[bytes], src: str | None = None, dst: str | None = None
    ) -> list[bytes | EspError]:
        """Batch form: one result per packet, an EspError in place of a dropped one."""
        return each_or_error(lambda p: self.unprotect(p, src, dst), packets)

    # ------------------------------------------------------------------ internals

    def _malformed(self, msg: str, seq: int | None = None) -> MalformedPacket:
        self.counters.invalid_len += 1
        return MalformedPacket(msg, self.spi, seq)

    def _outer(self, data: bytes, src: str | None, dst: str | None, proto: int):
        """Split the outer packet: (header, header kind, nh_pos, payload)."""
        if src is None:
            v = ip_version(data)
            if v == 4:
                # memoryview slices: the payload is not copied until decryption
                ihl = (data[0] & 0xF) * 4
                total = int.from_bytes(data[2:4], "big")
                if total < ihl or total > len(data):
                    raise self._malformed(f"IPv4 total length {total} inconsistent")
                hdr, p, payload = bytes(data[:ihl]), data[9], memoryview(data)[ihl:total]
                if int.from_bytes(hdr[6:8], "big") & 0x3FFF:
                    raise self._malformed("IPv4 fragment: reassemble before unprotect")
                nh_pos = 9
            else:
                hdr, p, nh_pos, payload = split_ipv6(data)
                payload = memoryview(payload)
            if p == PROTO_UDP and proto == PROTO_ESP:
                if len(payload) < 8:
                    raise self._malformed("UDP header truncated")
                ulen = int.from_bytes(payload[4:6], "big")
                if ulen < 8 or ulen > len(payload):
                    raise self._malformed(f"UDP length {ulen} inconsistent")
                payload = payload[8:ulen]
                if payload[:4] == b"\0\0\0\0":
                    raise self._malformed("non-ESP marker: IKE packet, not ESP (RFC 3948 §2.2)")
            elif p != proto:
                raise self._malformed(f"IP protocol {p} is not {proto}")
            return hdr, nh_pos, payload
        s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
        if s.version == 4:
            hdr = ipv4_header(s.packed, d.packed, proto, len(data))
            return hdr, 9, memoryview(data)
        return ipv6_header(s.packed, d.packed, proto, len(data)), 6, memoryview(data)

    def _rebuild(self, hdr: bytes, nh_pos: int, nh: int, payload: bytes) -> bytes:
        """Transport mode: the outer header again, carrying the payload directly."""
        if hdr[0] >> 4 == 4:
            return ipv4_fix(hdr, proto=nh, total_len=len(hdr) + len(payload)) + payload
        return _v6_patch(hdr, nh_pos, nh, len(hdr) - 40 + len(payload)) + payload

    def _check_replay(self, seq: int) -> None:
        reason = self.replay.check(seq)
        if reason is not None:
            self.counters.replay_failures += 1
            raise ReplayError(f"replay check failed: {reason}", self.spi, seq)

    def _unprotect_esp(self, data: bytes, src: str | None, dst: str | None) -> bytes:
        hdr, nh_pos, esp = self._outer(data, src, dst, PROTO_ESP)
        n = len(esp)
        if n < self._min_esp:
            raise self._malformed(f"ESP packet of {n} bytes too short")
        spi, seq = _II.unpack_from(esp)
        if spi != self.spi:
            raise self._malformed(f"SPI 0x{spi:08X} does not belong to this SA", seq)
        self._check_replay(seq)  # RFC 4303 §3.4.3: before integrity, update after
        if self._has_integ:
            cut = n - self._icv_len
            body = esp[:cut]
            if not hmac.compare_digest(self._mac(body), esp[cut:]):
                self.counters.auth_failures += 1
                raise IntegrityError("ICV mismatch", self.spi, seq)
        else:
            body = esp
        kind = self._kind
        if kind == "cbc":
            enc = body[8:]
            if len(enc) % self._bs:
                raise self._malformed(
                    f"ciphertext of {len(enc) - self._bs} bytes not block aligned", seq
                )
            pt = self._dec.update(enc)[self._bs :]
        elif kind == "gcm":
            try:
                pt = self._aead.decrypt(self._salt + body[8:16], body[16:], body[:8])
            except InvalidTag:
                self.counters.auth_failures += 1
                raise IntegrityError("AES-GCM tag mismatch", self.spi, seq) from None
        else:
            pt = body[8:]
        self.replay.update(seq)
        pad = pt[-2]
        nh = pt[-1]
        end = len(pt) - 2 - pad
        if end < 0:
            raise self._malformed(f"pad length {pad} exceeds payload", seq)
        if pt[end:-2] != _PAD[:pad]:
            raise self._malformed("padding bytes are not 1, 2, 3, ... (RFC 4303 §2.4)", seq)
        payload = pt[:end]
        if nh == PROTO_NONE:
            return b""  # dummy packet (RFC 4303 §2.6): discard silently
        if self.tunnel:
            return self._ecn_decap(hdr, self._inner(payload, nh, seq), seq)
        if self.params.udp_encap and hdr[0] >> 4 == 4 and nh in (6, 17):
            payload = _fix_l4_checksum(hdr, nh, bytes(payload))
        return self._rebuild(hdr, nh_pos, nh, payload)

    def _ecn_decap(self, outer: bytes, inner: bytes, seq: int) -> bytes:
        """RFC 6040 §4.2: a CE mark on the outer header carries over to the inner one."""
        outer_ecn = outer[1] & 3 if outer[0] >> 4 == 4 else (outer[1] >> 4) & 3
        if outer_ecn != 3:
            return inner
        v4 = inner[0] >> 4 == 4
        inner_ecn = inner[1] & 3 if v4 else (inner[1] >> 4) & 3
        if inner_ecn == 3:
            return inner
        if inner_ecn == 0:
            raise self._malformed("outer header CE-marked, inner packet not ECN-capable", seq)
        if v4:
            ihl = (inner[0] & 0xF) * 4
            h = bytearray(inner[:ihl])
            h[1] |= 3
            return ipv4_fix(bytes(h), total_len=len(inner)) + inner[ihl:]
        return inner[:1] + bytes((inner[1] | 0x30,)) + inner[2:]

    def _inner(self, payload: bytes, nh: int, seq: int) -> bytes:
        """Tunnel mode: check the inner packet and trim TFC padding (RFC 4303 §2.7)."""
        if nh == PROTO_IPV4:
            if len(payload) < 20 or payload[0] >> 4 != 4:
                raise self._malformed("inner packet is not IPv4", seq)
            total = int.from_bytes(payload[2:4], "big")
            if total < 20 or total > len(payload):
                raise self._malformed(f"inner IPv4 total length {total} inconsistent", seq)
            return _as_bytes(payload[:total] if total != len(payload) else payload)
        if nh == PROTO_IPV6:
            if len(payload) < 40 or payload[0] >> 4 != 6:
                raise self._malformed("inner packet is not IPv6", seq)
            total = 40 + int.from_bytes(payload[4:6], "big")
            if total > len(payload):
                raise self._malformed(f"inner IPv6 length {total} inconsistent", seq)
            return _as_bytes(payload[:total] if total != len(payload) else payload)
        raise self._malformed(f"tunnel mode next header {nh} is not IPv4/IPv6", seq)

    def _unprotect_ah(self, data: bytes, src: str | None, dst: str | None) -> bytes:
        hdr, nh_pos, ah = self._outer(data, src, dst, PROTO_AH)
        if len(ah) < 12:
            raise self._malformed(f"AH header of {len(ah)} bytes too short")
        nh = ah[0]
        ah_len = (ah[1] + 2) * 4
        spi, seq = _II.unpack_from(ah, 4)
        if spi != self.spi:
            raise self._malformed(f"SPI 0x{spi:08X} does not belong to this SA", seq)
        if ah_len != self._ah_len or ah_len > len(ah):
            raise self._malformed(f"AH length {ah_len} does not match the SA ({self._ah_len})", seq)
        self._check_replay(seq)
        icv = ah[12 : 12 + self._icv_len]
        calc = self._mac(self._ah_mutable_zeroed(hdr) + ah[:12] + self._ah_zero + ah[ah_len:])
        if not hmac.compare_digest(calc, icv):
            self.counters.auth_failures += 1
            raise IntegrityError("AH ICV mismatch", self.spi, seq)
        self.replay.update(seq)
        payload = ah[ah_len:]
        if self.tunnel and nh in (PROTO_IPV4, PROTO_IPV6):
            return self._ecn_decap(hdr, self._inner(payload, nh, seq), seq)
        # transport mode, or AH outside ESP in a bundle: drop AH, keep the header
        return self._rebuild(hdr, nh_pos, nh, payload)


def each_or_error(
    op: Callable[[bytes], bytes], packets: Iterable[bytes]
) -> list[bytes | EspError]:
    """Apply ``op`` to each packet; an EspError takes the place of a failed result."""
    out: list[bytes | EspError] = []
    for p in packets:
        try:
            out.append(op(p))
        except EspError as e:
            out.append(e)
    return out


def largest_inner(mtu: int, overhead: Callable[[int], int]) -> int:
    """Largest inner length ``n`` with ``n + overhead(n) <= mtu`` (0 if none fits)."""
    n = mtu
    while n > 0 and n + overhead(n) > mtu:
        n -= 1
    return n


def _as_bytes(data: bytes | memoryview) -> bytes:
    return data if type(data) is bytes else bytes(data)


def _fix_l4_checksum(hdr: bytes, proto: int, segment: bytes) -> bytes:
    """Transport mode behind NAT: recompute the TCP/UDP checksum over the addresses the
    packet really arrived with (RFC 3948 §3.1.2; the sender summed its private ones)."""
    pos = 16 if proto == 6 else 6
    if len(segment) < pos + 2 or (proto == 17 and segment[6:8] == b"\0\0"):
        return segment  # truncated (left to the stack) or UDP without checksum
    pseudo = hdr[12:20] + bytes((0, proto)) + len(segment).to_bytes(2, "big")
    zeroed = segment[:pos] + b"\0\0" + segment[pos + 2 :]
    c = checksum(pseudo + zeroed)
    if proto == 17 and c == 0:
        c = 0xFFFF
    return segment[:pos] + c.to_bytes(2, "big") + segment[pos + 2 :]


def _v6_patch(headers: bytes, nh_pos: int, nh: int, payload_len: int) -> bytes:
    """IPv6 headers with the next-header byte at nh_pos and the payload length replaced."""
    h = bytearray(headers)
    h[nh_pos] = nh
    h[4:6] = payload_len.to_bytes(2, "big")
    return bytes(h)
