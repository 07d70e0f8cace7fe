"""SA idle timers (engine/dataplane/idle.py; seed 000 L3606-3968, seed 004 L38, L80-92)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.config.ios import parse_ios
from engine.dataplane.idle import IdleSetting, IdleTimers, idle_setting

BASE = """crypto ipsec transform-set txfm esp-aes esp-sha-hmac
crypto map test 1 ipsec-isakmp
 set peer 10.0.0.2
 set transform-set txfm
 match address 101
"""


def cfg(extra_global: str = "", extra_map: str = ""):
    c = parse_ios(extra_global + BASE + extra_map)
    assert not c.errors, c.errors
    return c


@dataclass
class FakePair:
    crypto_map: str = "test"
    crypto_map_seq: int = 1


@dataclass
class FakeEntry:
    installed: float = 0.0
    encaps: int = 0
    decaps: int = 0
    pair: FakePair = field(default_factory=FakePair)

    def counters(self):
        return {"encaps": self.encaps, "decaps": self.decaps}


def test_settings_global_map_and_equal_rule():
    c = cfg("crypto ipsec security-association idle-time 600\n")  # seed 000 L3806 verbatim
    e = c.crypto_maps["test"].entries[1]
    assert idle_setting(c, e) == IdleSetting(600, False, "global")
    c = cfg(extra_map="set security-association idle-time 600\n")  # seed 000 L3812-3813
    assert idle_setting(c, c.crypto_maps["test"].entries[1]) == IdleSetting(600, False, "map")
    c = cfg(
        "crypto ipsec security-association idle-time 600\n",
        " set security-association idletime 120 default\n",
    )
    assert idle_setting(c, c.crypto_maps["test"].entries[1]) == IdleSetting(120, True, "map")
    # seed 004 L38: a map value equal to the global one is not added to the map
    e = c.crypto_maps["test"].entries[1]
    e.idletime, e.idletime_default = 600, True
    assert idle_setting(c, e) == IdleSetting(600, False, "global")
    assert idle_setting(cfg(), cfg().crypto_maps["test"].entries[1]) is None


def test_idle_pair_expires_after_its_time_and_traffic_rearms():
    c = cfg(extra_map=" set security-association idletime 120 default\n")
    t, e = IdleTimers(), FakeEntry(installed=0.0)
    assert t.poll(0.0, [e], c) == []
    assert t.next_deadline() == 120.0
    e.encaps += 1
    assert t.poll(100.0, [e], c) == []  # traffic at 100: idle again from there
    assert t.next_deadline() == 220.0
    assert t.poll(219.5, [e], c) == []
    e.decaps += 1  # inbound counts too
    assert t.poll(219.5, [e], c) == []
    assert t.poll(339.4, [e], c) == []
    ((hit, setting),) = t.poll(339.5, [e], c)
    assert hit is e and setting.default and setting.seconds == 120
    assert t.next_deadline() is None  # expired pairs are forgotten


def test_no_idle_timer_no_expiry():
    c = cfg()
    t, e = IdleTimers(), FakeEntry()
    assert t.poll(1e6, [e], c) == []
    assert t.next_deadline() is None


def test_removed_pairs_are_forgotten():
    c = cfg("crypto ipsec security-association idle-time 60\n")
    t, a, b = IdleTimers(), FakeEntry(), FakeEntry()
    t.poll(0.0, [a, b], c)
    t.poll(10.0, [b], c)
    assert t.idle_for(a, 10.0) is None and t.idle_for(b, 10.0) == 10.0
