"""A small pure-Python NFQUEUE client (nfnetlink_queue over a raw netlink socket).

Only what fault injection needs: bind one queue inside a namespace, receive
packets with their payload, issue verdicts (in any order, which is what makes
delay and reordering possible). Message layouts from
``linux/netfilter/nfnetlink_queue.h`` and ``linux/netfilter/nfnetlink.h``.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from lab import realize

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_HWADDR, NFQA_PAYLOAD = 1, 2, 9, 10
NFQA_IFINDEX_INDEV = 5
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN = 1, 2, 3
NFQNL_CFG_CMD_BIND, NFQNL_CFG_CMD_UNBIND = 1, 2
NFQNL_COPY_PACKET = 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR, NLMSG_DONE = 2, 3
NF_DROP, NF_ACCEPT = 0, 1
COPY_RANGE = 0xFFFF


@dataclass
class QueuedPacket:
    """One packet the kernel handed us; it waits for :meth:`NfQueue.verdict`."""

    id: int
    hw_protocol: int          # ethertype (0x0800, 0x86dd)
    hook: int
    payload: bytes            # the L3 packet
    hwaddr: bytes | None      # source MAC (ingress hooks)
    indev: int | None


def _attr(kind: int, data: bytes) -> bytes:
    length = 4 + len(data)
    return struct.pack("=HH", length, kind) + data + b"\0" * (-length % 4)


def _attrs(buf: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    i = 0
    while i + 4 <= len(buf):
        length, kind = struct.unpack_from("=HH", buf, i)
        if length < 4:
            break
        out[kind & 0x3FFF] = buf[i + 4:i + length]
        i += (length + 3) & ~3
    return out


class NfQueue:
    """Queue number ``num`` of namespace ``netns``, bound for whole packets."""

    def __init__(self, netns: str, num: int, maxlen: int = 1024) -> None:
        self.netns, self.num = netns, num
        self.seq = 0
        self.sock = realize.in_ns(netns, lambda: socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((0, 0))
        self._config(_attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0)))
        self._config(_attr(NFQA_CFG_PARAMS, struct.pack("!IB", COPY_RANGE, NFQNL_COPY_PACKET))
                     + _attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", maxlen)))

    def _send(self, msg_type: int, flags: int, family: int, body: bytes) -> int:
        self.seq += 1
        nfgen = struct.pack("!BBH", family, 0, self.num)
        payload = nfgen + body
        hdr = struct.pack("=IHHII", 16 + len(payload), (NFNL_SUBSYS_QUEUE << 8) | msg_type,
                          NLM_F_REQUEST | flags, self.seq, 0)
        self.sock.send(hdr + payload)
        return self.seq

    def _config(self, body: bytes) -> None:
        seq = self._send(NFQNL_MSG_CONFIG, NLM_F_ACK, socket.AF_UNSPEC, body)
        while True:
            data = self.sock.recv(65536)
            for msg_type, mseq, payload in self._messages(data):
                if msg_type == NLMSG_ERROR and mseq == seq:
                    err = -struct.unpack_from("=i", payload)[0]
                    if err:
                        raise OSError(err, f"nfqueue {self.num} in {self.netns}: config failed")
                    return

    @staticmethod
    def _messages(data: bytes):  # type: ignore[no-untyped-def]
        i = 0
        while i + 16 <= len(data):
            length, msg_type, _flags, seq, _pid = struct.unpack_from("=IHHII", data, i)
            if length < 16:
                break
            yield msg_type, seq, data[i + 16:i + length]
            i += (length + 3) & ~3

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive(self) -> list[QueuedPacket]:
        """Read one batch of queued packets (blocks; use select on :meth:`fileno`)."""
        data = self.sock.recv(1 << 17)
        out = []
        for msg_type, _seq, payload in self._messages(data):
            if msg_type != (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                continue
            attrs = _attrs(payload[4:])
            hdr = attrs.get(NFQA_PACKET_HDR)
            if hdr is None or len(hdr) < 7:
                continue
            pid, proto, hook = struct.unpack_from("!IHB", hdr)
            hw = attrs.get(NFQA_HWADDR)
            hwaddr = hw[4:4 + struct.unpack_from("!H", hw)[0]] if hw and len(hw) >= 4 else None
            indev = attrs.get(NFQA_IFINDEX_INDEV)
            out.append(QueuedPacket(pid, proto, hook, attrs.get(NFQA_PAYLOAD, b""), hwaddr,
                                    struct.unpack("!I", indev)[0] if indev else None))
        return out

    def verdict(self, packet_id: int, verdict: int = NF_ACCEPT) -> None:
        self._send(NFQNL_MSG_VERDICT, 0, socket.AF_UNSPEC,
                   _attr(NFQA_VERDICT_HDR, struct.pack("!II", verdict, packet_id)))

    def close(self) -> None:
        try:
            self._send(NFQNL_MSG_CONFIG, 0, socket.AF_UNSPEC,
                       _attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_UNBIND, 0)))
        except OSError:
            pass
        self.sock.close()
