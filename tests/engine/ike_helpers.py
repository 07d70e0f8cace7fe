"""Shared helpers for the IKE tests: configs built from the model, and an
in-memory wire between two IkeEngines (aioquic-style back-to-back tests)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from engine.config.model import (
    AccessList,
    Ace,
    Config,
    CryptoMap,
    CryptoMapEntry,
    CryptoPeer,
    Interface,
    IsakmpKey,
    IsakmpPeer,
    IsakmpPolicy,
    Keepalive,
    TransformSet,
)
from engine.ike import IkeEngine, PacketSelector
from engine.ike.events import Event

R1_OUT, R2_OUT = "10.0.0.1", "10.0.0.2"
LAN1, LAN2 = "192.168.1.0/24", "192.168.2.0/24"
H1, H2 = "192.168.1.10", "192.168.2.10"


def make_config(
    local: str,
    peer: str,
    local_lan: str,
    remote_lan: str,
    *,
    encryption: str = "aes",
    key_length: int | None = None,
    hash_: str = "sha",
    group: int = 2,
    psk: str = "cisco123",
    transforms: tuple = ("esp-aes", "esp-sha-hmac"),
    esp_encr: str | None = "aes128",
    esp_integ: str | None = "hmac-sha1-96",
    ah_integ: str | None = None,
    mode: str = "tunnel",
    pfs: int | None = None,
    lifetime: int = 86400,
    sa_lifetime: int | None = None,
    aggressive: bool = False,
    keepalive: Keepalive | None = None,
    policies: list[IsakmpPolicy] | None = None,
    nat_t: bool = True,
) -> Config:
    cfg = Config()
    cfg.isakmp_policies = (
        policies
        if policies is not None
        else [IsakmpPolicy(10, encryption, key_length, hash_, "pre-share", group, lifetime)]
    )
    cfg.isakmp_keys = [IsakmpKey(psk, ipaddress.ip_network(peer))]
    if aggressive:
        cfg.isakmp_peers = [IsakmpPeer(ipaddress.ip_address(peer), aggressive_mode=True)]
    cfg.transform_sets["TS"] = TransformSet(
        "TS", list(transforms), mode, esp_encr, esp_integ, ah_integ
    )
    cfg.access_lists["101"] = AccessList(
        "101",
        [Ace("permit", None, ipaddress.ip_network(local_lan), ipaddress.ip_network(remote_lan))],
    )
    entry = CryptoMapEntry(
        10,
        peers=[CryptoPeer(ipaddress.ip_address(peer))],
        transform_sets=["TS"],
        match_address="101",
        pfs_group=pfs,
        lifetime_seconds=sa_lifetime,
    )
    cfg.crypto_maps["VPN"] = CryptoMap("VPN", {10: entry})
    cfg.interfaces["Gi0/0"] = Interface(
        "Gi0/0", "eth0", [ipaddress.ip_interface(f"{local}/24")], crypto_map="VPN"
    )
    cfg.globals.keepalive = keepalive
    cfg.globals.nat_transparency = nat_t
    return cfg


def pair_configs(**kw) -> tuple[Config, Config]:
    kw2 = dict(kw)
    for k in ("r2_psk", "r2_policies", "r2_pfs", "r2_transforms", "r2_sa_lifetime"):
        kw.pop(k, None)
    c1 = make_config(R1_OUT, R2_OUT, LAN1, LAN2, **kw)
    over = {
        "psk": kw2.get("r2_psk", kw.get("psk", "cisco123")),
        "policies": kw2.get("r2_policies", kw.get("policies")),
        "pfs": kw2.get("r2_pfs", kw.get("pfs")),
        "sa_lifetime": kw2.get("r2_sa_lifetime", kw.get("sa_lifetime")),
    }
    if "r2_transforms" in kw2:
        t = kw2["r2_transforms"]
        over.update(transforms=t[0], esp_encr=t[1], esp_integ=t[2], ah_integ=t[3])
    kw.update(over)
    kw.pop("aggressive", None)
    c2 = make_config(R2_OUT, R1_OUT, LAN2, LAN1, **kw)
    return c1, c2


@dataclass
class Wire:
    """Two engines connected in memory; ``drop`` filters datagrams to lose."""

    a: IkeEngine
    b: IkeEngine
    now: float = 0.0
    events_a: list[Event] = field(default_factory=list)
    events_b: list[Event] = field(default_factory=list)
    log: list[tuple[str, bytes, tuple, tuple]] = field(default_factory=list)
    drop: object = None  # callable(direction, data) -> bool

    def _pump_once(self) -> int:
        moved = 0
        for name, src, dst in (("a", self.a, self.b), ("b", self.b, self.a)):
            for d in src.datagrams_to_send(self.now):
                self.log.append((name, d.data, d.src, d.dst))
                moved += 1
                if self.drop is not None and self.drop(name, d.data):
                    continue
                dst.receive_datagram(d.data, d.src, d.dst, self.now)
        for eng, out in ((self.a, self.events_a), (self.b, self.events_b)):
            while (ev := eng.next_event()) is not None:
                out.append(ev)
        return moved

    def pump(self, limit: int = 100) -> None:
        for _ in range(limit):
            if not self._pump_once():
                return
        raise AssertionError("datagram ping-pong did not settle")

    def advance(self, seconds: float, step: float | None = None) -> None:
        """Run timers until ``now + seconds`` (jumping from timer to timer)."""
        end = self.now + seconds
        while True:
            timers = [t for t in (self.a.get_timer(), self.b.get_timer()) if t is not None]
            nxt = min(timers) if timers else None
            if nxt is None or nxt > end:
                self.now = end
                self.pump()
                return
            self.now = max(self.now, nxt)
            self.a.handle_timer(self.now)
            self.b.handle_timer(self.now)
            self.pump()

    def of(self, side: str, kind: type) -> list:
        evs = self.events_a if side == "a" else self.events_b
        return [e for e in evs if isinstance(e, kind)]


def wire(c1: Config, c2: Config) -> Wire:
    return Wire(IkeEngine(c1, [R1_OUT]), IkeEngine(c2, [R2_OUT]))


def ping(w: Wire) -> bool:
    return w.a.acquire(PacketSelector(H1, H2, 1), w.now)
