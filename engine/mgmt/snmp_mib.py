"""CISCO-IPSEC-FLOW-MONITOR-MIB view of the engine (seed 001 ch. 3-4, L807-1341).

:class:`FlowMib` follows the IKE events (IKE tunnels = ISAKMP SAs, IPsec
tunnels = IPsec SA pairs) and reads the data-plane counters from the SA
database; :meth:`FlowMib.objects` renders every instance as
``oid -> (net-snmp pass type, value)``. The snapshot is served by net-snmp's
snmpd through ``pass_persist`` (``engine/mgmt/snmp_pass.py``).

OIDs: ciscoIpSecFlowMonitorMIB = 1.3.6.1.4.1.9.9.171 (columns as in the MIB
module; walk order and values as the seed's walks show them, L819-1339).
Counters the engine does not keep (IKE message counts, compression) are 0.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from engine.ike.events import (
    ChildSaDown,
    ChildSaUp,
    IkeSaDown,
    IkeSaUp,
    IpsecSaPair,
    NegotiationFailed,
)

MIB = (1, 3, 6, 1, 4, 1, 9, 9, 171)
OBJ = MIB + (1,)
IKE_GLOBAL = OBJ + (2, 1)
IKE_PEER = OBJ + (2, 2, 1)
IKE_TUN = OBJ + (2, 3, 1)
IPSEC_GLOBAL = OBJ + (3, 1)
IPSEC_TUN = OBJ + (3, 2, 1)
ENDPT = OBJ + (3, 3, 1)
SPI = OBJ + (3, 4, 1)
HIST_CNTL = OBJ + (4, 1, 1)
IKE_HIST = OBJ + (4, 2, 1, 1)
IPSEC_HIST = OBJ + (4, 3, 1, 1)
FAIL_CNTL = OBJ + (5, 1, 1)
IKE_FAIL = OBJ + (5, 2, 1, 1)
IPSEC_FAIL = OBJ + (5, 3, 1, 1)
DEFAULT_TABLE_SIZE = 200  # seed 001 L1481, L1498

#: TermReason (cikeTunHistTermReason / cipSecTunHistTermReason) from the IKE event reasons.
TERM_REASON = {"cleared": 3, "deleted": 3, "peer deleted": 4, "initial contact": 4,
               "peers alive": 5, "lifetime expired": 2, "idle timer": 2}
#: cikeFailReason / cipSecFailReason for NegotiationFailed reasons (other(1) by default).
IKE_FAIL_REASON = (("pre-shared", 5), ("auth", 5), ("hash", 6), ("proposal", 10),
                   ("no acceptable", 10), ("timed out", 3))
IPSEC_FAIL_REASON = (("proposal", 4), ("no acceptable", 4), ("timed out", 13),
                     ("INVALID", 6))
TRAP_CNTL = OBJ + (6,)
NOTIFY = MIB + (2, 0)
CIKE_TUNNEL_START = NOTIFY + (1,)
CIKE_TUNNEL_STOP = NOTIFY + (2,)
CIPSEC_TUNNEL_START = NOTIFY + (7,)
CIPSEC_TUNNEL_STOP = NOTIFY + (8,)

#: cipSecGlobal* (1..30) in MIB order; ``None`` = not counted by the engine.
IPSEC_GLOBAL_NAMES = (
    "ActiveTunnels", "PreviousTunnels", "InOctets", "HcInOctets", "InOctWraps",
    "InDecompOctets", "HcInDecompOctets", "InDecompOctWraps", "InPkts", "InDrops",
    "InReplayDrops", "InAuths", "InAuthFails", "InDecrypts", "InDecryptFails", "OutOctets",
    "HcOutOctets", "OutOctWraps", "OutUncompOctets", "HcOutUncompOctets", "OutUncompOctWraps",
    "OutPkts", "OutDrops", "OutAuths", "OutAuthFails", "OutEncrypts", "OutEncryptFails",
    "ProtocolUseFails", "NoSaFails", "SysCapFails",
)

Value = tuple[str, Any]  # (pass_persist type, value)


def _encrypt_algo(name: str | None) -> int:  # EncryptAlgo TC: none(1) des(2) des3(3)
    return {"des": 2, "3des": 3}.get(name or "", 1)


def _hash_algo(name: str | None) -> int:  # IkeHashAlgo: none(1) md5(2) sha(3)
    return {"md5": 2, "sha1": 3, "sha": 3}.get(name or "", 1)


def _auth_algo(name: str | None) -> int:  # AuthAlgo: none(1) hmacMd5(2) hmacSha(3)
    if not name:
        return 1
    return 2 if "md5" in name else 3 if "sha1" in name else 1


def _dh(group: int | None) -> int:  # DiffHellmanGrp: none(1) dhGroup1(2) dhGroup2(3)
    return {1: 2, 2: 3}.get(group or 0, 1)


def padded(ip: str) -> str:
    """``10.1.1.2`` → ``010.001.001.002`` (cikeTunLocalValue, seed L1071)."""
    return ".".join(f"{int(o):03d}" for o in ip.split(".")) if "." in ip else ip


def octets(ip: str) -> str:
    """An IPSIpAddress as pass_persist ``octet`` text: ``0a 01 01 02``."""
    return " ".join(f"{b:02x}" for b in ipaddress.ip_address(ip).packed)


def peer_index(local: str, remote: str, n: int = 1) -> tuple[int, ...]:
    """cikePeerEntry INDEX {LocalType, LocalValue, RemoteType, RemoteValue, IntIndex} (L1061)."""
    lv, rv = padded(local), padded(remote)
    return (1, len(lv), *lv.encode(), 1, len(rv), *rv.encode(), n)


@dataclass
class IkeTunnel:
    index: int
    up: IkeSaUp
    created: float


@dataclass
class IpsecTunnel:
    index: int
    pair: IpsecSaPair
    created: float
    ike_index: int = 0


@dataclass
class FlowMib:
    hostname: str = "Router"
    ike: dict[tuple[bytes, bytes], IkeTunnel] = field(default_factory=dict)
    ipsec: dict[int, IpsecTunnel] = field(default_factory=dict)  # by first inbound SPI
    ike_previous: int = 0
    ike_initiated: int = 0
    ipsec_previous: int = 0
    closed: dict[str, int] = field(default_factory=dict)  #: counters of deleted tunnels
    #: history rows (L1442: terminated tunnels) and failure rows (L1420-1444), newest last
    ike_hist: deque = field(default_factory=deque)
    ipsec_hist: deque = field(default_factory=deque)
    ike_fail: deque = field(default_factory=deque)
    ipsec_fail: deque = field(default_factory=deque)
    hist_size: int = DEFAULT_TABLE_SIZE
    fail_size: int = DEFAULT_TABLE_SIZE
    _next_ike: int = 1
    _next_ipsec: int = 1
    _next_row: dict[str, int] = field(default_factory=dict)  #: last index per table

    # -- events ------------------------------------------------------------------------------

    def on_event(self, ev: Any, now: float, sadb: Any = None) -> str | None:
        """Track ``ev``; returns the notification it stands for (``ike-start`` ...) or None."""
        if isinstance(ev, IkeSaUp):
            key = (ev.icookie, ev.rcookie)
            if key in self.ike:
                return None
            self.ike[key] = IkeTunnel(self._next_ike, ev, now)
            self._next_ike += 1
            self.ike_initiated += int(ev.initiator)
            return "ike-start"
        if isinstance(ev, IkeSaDown):
            t = self.ike.pop((ev.icookie, ev.rcookie), None)
            if t is None:
                return None
            self.ike_previous += 1
            self._add(self.ike_hist, self.hist_size,
                      {"reason": TERM_REASON.get(ev.reason, 1), "tun": t, "now": now})
            return "ike-stop"
        if isinstance(ev, NegotiationFailed):
            table = self.ike_fail if ev.phase == 1 else self.ipsec_fail
            codes = IKE_FAIL_REASON if ev.phase == 1 else IPSEC_FAIL_REASON
            code = next((c for k, c in codes if k.lower() in ev.reason.lower()), 1)
            self._add(table, self.fail_size, {"reason": code, "peer": ev.peer, "now": now,
                                              "text": ev.reason})
            return None  # L1420-1421, L1429: recorded, no notification
        if isinstance(ev, ChildSaUp):
            spi = ev.pair.inbound_spis[0]
            ike = next((t.index for t in self.ike.values() if t.up.peer[0] == ev.pair.peer), 0)
            self.ipsec[spi] = IpsecTunnel(self._next_ipsec, ev.pair, now, ike)
            self._next_ipsec += 1
            return "ipsec-start"
        if isinstance(ev, ChildSaDown):
            gone = [s for s in ev.inbound_spis if s in self.ipsec]
            if not gone:
                return None
            for s in gone:
                t = self.ipsec.pop(s)
                usage = self._counters(t, sadb)
                for k, v in usage.items():
                    self.closed[k] = self.closed.get(k, 0) + v
                self.ipsec_previous += 1
                self._add(self.ipsec_hist, self.hist_size,
                          {"reason": TERM_REASON.get(ev.reason, 1), "tun": t, "now": now,
                           "usage": usage})
            return "ipsec-stop"
        return None

    def _add(self, table: deque, size: int, row: dict) -> None:
        """Append a history/failure row; the oldest go beyond the table size (L1442)."""
        name = next(n for n in ("ike_hist", "ipsec_hist", "ike_fail", "ipsec_fail")
                    if getattr(self, n) is table)  # identity: empty deques compare equal
        row["index"] = self._next_row[name] = self._next_row.get(name, 0) + 1
        table.append(row)
        while len(table) > max(1, size):
            table.popleft()

    def resize(self, hist: int | None, fail: int | None) -> None:
        """``crypto mib ipsec flowmib history {tunnel|failure} size N`` (L1487, L1504)."""
        self.hist_size, self.fail_size = hist or DEFAULT_TABLE_SIZE, fail or DEFAULT_TABLE_SIZE
        for t, n in ((self.ike_hist, self.hist_size), (self.ipsec_hist, self.hist_size),
                     (self.ike_fail, self.fail_size), (self.ipsec_fail, self.fail_size)):
            while len(t) > n:
                t.popleft()

    # -- counters ----------------------------------------------------------------------------

    @staticmethod
    def _entry(t: IpsecTunnel, sadb: Any) -> Any:
        spis = set(t.pair.inbound_spis)
        return next((e for e in getattr(sadb, "entries", ()) or ()
                     if spis & set(e.pair.inbound_spis)), None)

    def _counters(self, t: IpsecTunnel, sadb: Any) -> dict[str, int]:
        e = self._entry(t, sadb)
        c = e.counters() if e is not None else {}
        return {
            "InOctets": c.get("bytes_in", 0), "InDecompOctets": c.get("bytes_in", 0),
            "InPkts": c.get("decaps", 0), "InDrops": c.get("recv_errors", 0),
            "InReplayDrops": c.get("replay_failures", 0), "InAuths": c.get("verify", 0),
            "InAuthFails": c.get("auth_failures", 0), "InDecrypts": c.get("decrypt", 0),
            "OutOctets": c.get("bytes_out", 0), "OutUncompOctets": c.get("bytes_out", 0),
            "OutPkts": c.get("encaps", 0), "OutDrops": c.get("send_errors", 0),
            "OutAuths": c.get("digest", 0), "OutEncrypts": c.get("encrypt", 0),
        }

    # -- rendering ---------------------------------------------------------------------------

    def objects(self, now: float, sadb: Any = None, config: Any = None
                ) -> dict[tuple[int, ...], Value]:
        out: dict[tuple[int, ...], Value] = {OBJ + (1, 1, 0): ("integer", 1)}  # cipSecMibLevel
        ikes = sorted(self.ike.values(), key=lambda t: t.index)
        tuns = sorted(self.ipsec.values(), key=lambda t: t.index)
        # cikeGlobal* (L822-847)
        ike_g = [0] * 26
        ike_g[0], ike_g[1], ike_g[18] = len(ikes), self.ike_previous, self.ike_initiated
        for i, v in enumerate(ike_g, start=1):
            out[IKE_GLOBAL + (i, 0)] = ("gauge" if i == 1 else "counter", v)
        for t in ikes:
            up = t.up
            pidx = peer_index(up.local[0], up.peer[0])
            out[IKE_PEER + (6,) + pidx] = ("octet", octets(up.local[0]))
            out[IKE_PEER + (7,) + pidx] = ("octet", octets(up.peer[0]))
            out[IKE_PEER + (8,) + pidx] = ("integer", int((now - t.created) * 100))
            out[IKE_PEER + (9,) + pidx] = ("integer", t.index)
            cols: dict[int, Value] = {
                2: ("integer", 1), 3: ("string", padded(up.local[0])),
                4: ("octet", octets(up.local[0])), 5: ("string", self.hostname),
                6: ("integer", 1), 7: ("string", padded(up.peer[0])),
                8: ("octet", octets(up.peer[0])), 9: ("string", ""),
                10: ("integer", 1 if up.mode == "main" else 2),
                11: ("integer", _dh(up.group)), 12: ("integer", _encrypt_algo(up.encryption)),
                13: ("integer", _hash_algo(up.hash)),
                14: ("integer", 2 if up.auth == "psk" else 3), 15: ("integer", up.lifetime),
                16: ("integer", int((now - t.created) * 100)), 17: ("integer", 0),
                18: ("counter", 0),
            }
            for c in range(19, 35):
                cols[c] = ("counter", 0)
            cols[35] = ("integer", 1)  # active(1)
            for c, v in cols.items():
                out[IKE_TUN + (c, t.index)] = v
        # cipSecGlobal* (L848-882): live tunnels + deleted ones
        tot = dict.fromkeys(IPSEC_GLOBAL_NAMES, 0)
        for k, v in self.closed.items():
            tot[k] += v
        per_tun = {t.index: self._counters(t, sadb) for t in tuns}
        for c in per_tun.values():
            for k, v in c.items():
                tot[k] += v
        tot["ActiveTunnels"], tot["PreviousTunnels"] = len(tuns), self.ipsec_previous
        for hc, lo, wraps in (("HcInOctets", "InOctets", "InOctWraps"),
                              ("HcInDecompOctets", "InDecompOctets", "InDecompOctWraps"),
                              ("HcOutOctets", "OutOctets", "OutOctWraps"),
                              ("HcOutUncompOctets", "OutUncompOctets", "OutUncompOctWraps")):
            tot[hc], tot[wraps], tot[lo] = tot[lo], tot[lo] >> 32, tot[lo] & 0xFFFFFFFF
        for i, name in enumerate(IPSEC_GLOBAL_NAMES, start=1):
            kind = "gauge" if i == 1 else "counter64" if name.startswith("Hc") else "counter"
            out[IPSEC_GLOBAL + (i, 0)] = (kind, tot[name])
        for t in tuns:
            self._tunnel_rows(out, t, per_tun[t.index], now, config)
        hist = getattr(getattr(config, "mgmt", None), "ipsec_history_tunnel_size", None)
        fail = getattr(getattr(config, "mgmt", None), "ipsec_history_failure_size", None)
        self.resize(hist, fail)
        out[HIST_CNTL + (1, 0)] = ("integer", self.hist_size)  # L883 default 200
        out[HIST_CNTL + (2, 0)] = ("integer", 1)  # ready(1)
        self._history_rows(out)
        out[FAIL_CNTL + (1, 0)] = ("integer", self.fail_size)
        self._failure_rows(out)
        enabled = trap_enabled(config)
        for i in range(1, 14):
            on = (i in (1, 2) and "isakmp" in enabled) or (i in (7, 8) and "ipsec" in enabled)
            out[TRAP_CNTL + (i, 0)] = ("integer", 1 if on else 2)
        return out

    def _history_rows(self, out: dict) -> None:
        """cikeTunnelHistTable / cipSecTunnelHistTable (subset of the columns)."""
        for r in self.ike_hist:
            up, i = r["tun"].up, r["index"]
            for col, v in {2: ("integer", r["reason"]), 3: ("integer", r["tun"].index),
                           9: ("octet", octets(up.local[0])), 10: ("string", self.hostname),
                           11: ("octet", octets(up.peer[0])), 13: ("integer",
                                                                   1 if up.mode == "main" else 2),
                           18: ("integer", up.lifetime),
                           20: ("integer", int((r["now"] - r["tun"].created) * 100))}.items():
                out[IKE_HIST + (col, i)] = v
        for r in self.ipsec_hist:
            t, i, u = r["tun"], r["index"], r["usage"]
            p = t.pair
            for col, v in {2: ("integer", r["reason"]), 3: ("integer", t.index),
                           4: ("integer", t.ike_index), 5: ("octet", octets(p.local)),
                           6: ("octet", octets(p.peer)), 7: ("integer", 1),
                           8: ("integer", 1 if p.mode == "tunnel" else 2),
                           9: ("integer", p.lifetime_kilobytes),
                           10: ("integer", p.lifetime_seconds),
                           12: ("integer", int((r["now"] - t.created) * 100)),
                           14: ("integer", len(p.inbound) + len(p.outbound)),
                           25: ("counter", u["InOctets"] & 0xFFFFFFFF),
                           26: ("counter64", u["InOctets"]), 31: ("counter", u["InPkts"]),
                           38: ("counter", u["OutOctets"] & 0xFFFFFFFF),
                           39: ("counter64", u["OutOctets"]),
                           44: ("counter", u["OutPkts"])}.items():
                out[IPSEC_HIST + (col, i)] = v

    def _failure_rows(self, out: dict) -> None:
        """cikeFailTable / cipSecFailTable: reason, time (TimeStamp, 1/100 s), peer."""
        for r in self.ike_fail:
            i = r["index"]
            out[IKE_FAIL + (2, i)] = ("integer", r["reason"])
            out[IKE_FAIL + (3, i)] = ("timeticks", int(r["now"] * 100))
            out[IKE_FAIL + (6, i)] = ("integer", 1)
            out[IKE_FAIL + (7, i)] = ("string", padded(r["peer"]))
            out[IKE_FAIL + (9, i)] = ("octet", octets(r["peer"]))
        for r in self.ipsec_fail:
            i = r["index"]
            out[IPSEC_FAIL + (2, i)] = ("integer", r["reason"])
            out[IPSEC_FAIL + (3, i)] = ("timeticks", int(r["now"] * 100))
            out[IPSEC_FAIL + (7, i)] = ("octet", octets(r["peer"]))

    def _tunnel_rows(self, out: dict, t: IpsecTunnel, c: dict[str, int], now: float,
                     config: Any) -> None:
        p, i = t.pair, t.index
        esp_in, esp_out = p.keys("esp", "in"), p.keys("esp", "out")
        ah_in, ah_out = p.keys("ah", "in"), p.keys("ah", "out")
        row: dict[int, Value] = {
            2: ("integer", t.ike_index), 3: ("integer", 1 if t.ike_index else 2),
            4: ("octet", octets(p.local)), 5: ("octet", octets(p.peer)),
            6: ("integer", 1), 7: ("integer", 1 if p.mode == "tunnel" else 2),
            8: ("integer", p.lifetime_kilobytes), 9: ("integer", p.lifetime_seconds),
            10: ("integer", int((now - t.created) * 100)), 11: ("integer", 64),
            12: ("integer", 10), 13: ("counter", 0), 14: ("counter", 0),
            15: ("gauge", len(p.inbound) + len(p.outbound)),
            16: ("integer", _dh(p.pfs_group)),
            17: ("integer", _encrypt_algo(esp_in.encr if esp_in else None)),
            18: ("integer", _auth_algo(ah_in.integ if ah_in else None)),
            19: ("integer", _auth_algo(esp_in.integ if esp_in else None)),
            20: ("integer", 1),
            21: ("integer", _dh(p.pfs_group)),
            22: ("integer", _encrypt_algo(esp_out.encr if esp_out else None)),
            23: ("integer", _auth_algo(ah_out.integ if ah_out else None)),
            24: ("integer", _auth_algo(esp_out.integ if esp_out else None)),
            25: ("integer", 1),
        }
        vals = {
            26: c["InOctets"], 27: c["InOctets"], 28: c["InOctets"] >> 32,
            29: c["InDecompOctets"], 30: c["InDecompOctets"], 31: c["InDecompOctets"] >> 32,
            32: c["InPkts"], 33: c["InDrops"], 34: c["InReplayDrops"], 35: c["InAuths"],
            36: c["InAuthFails"], 37: c["InDecrypts"], 38: 0,
            39: c["OutOctets"], 40: c["OutOctets"], 41: c["OutOctets"] >> 32,
            42: c["OutUncompOctets"], 43: c["OutUncompOctets"], 44: c["OutUncompOctets"] >> 32,
            45: c["OutPkts"], 46: c["OutDrops"], 47: c["OutAuths"], 48: 0,
            49: c["OutEncrypts"], 50: 0,
        }
        for col, v in vals.items():
            kind = "counter64" if col in (27, 30, 40, 43) else "counter"
            row[col] = (kind, v if kind == "counter64" else v & 0xFFFFFFFF)
        row[51] = ("integer", 1)  # active(1)
        for col, v in row.items():
            out[IPSEC_TUN + (col, i)] = v
        # cipSecEndPt (L1197-1208): the proxy identities
        for side, ts, base in (("local", p.local_ts, 2), ("remote", p.remote_ts, 8)):
            net = ts.network
            single = net.prefixlen == net.max_prefixlen
            first, last = net.network_address, net.broadcast_address
            out[ENDPT + (base, i, 1)] = ("string", "")
            out[ENDPT + (base + 1, i, 1)] = ("integer", 1 if single else 3)
            out[ENDPT + (base + 2, i, 1)] = ("octet", octets(str(first)))
            out[ENDPT + (base + 3, i, 1)] = ("octet", octets(str(first if single else last)))
            out[ENDPT + (base + 4, i, 1)] = ("integer", ts.protocol)
            out[ENDPT + (base + 5, i, 1)] = ("integer", ts.port)
        # cipSecSpi (L1209-1224): in/out per protocol, AH first
        n = 1
        for proto in ("ah", "esp"):
            for direction, code in (("in", 1), ("out", 2)):
                k = p.keys(proto, direction)
                if k is None:
                    continue
                out[SPI + (2, i, n)] = ("integer", code)
                out[SPI + (3, i, n)] = ("gauge", k.spi)
                out[SPI + (4, i, n)] = ("integer", 1 if proto == "ah" else 2)
                out[SPI + (5, i, n)] = ("integer", 1)
                n += 1


def trap_enabled(config: Any) -> set[str]:
    """Features whose tunnel start/stop notifications are on (``snmp-server enable traps
    isakmp|ipsec`` or a receiver listing ``ipsec``/``isakmp``, seed L1463-1468, L771)."""
    m = getattr(config, "mgmt", None)
    if m is None:
        return set()
    on = {f for f, kws in m.snmp_traps.items()
          if not kws or any(k.startswith("tunnel") for k in kws)}
    for h in m.snmp_hosts:
        on |= {t for t in h.types if t in ("ipsec", "isakmp")}
    return on


def oid_str(oid: tuple[int, ...]) -> str:
    return "." + ".".join(str(x) for x in oid)
