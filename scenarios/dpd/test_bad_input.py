"""Bad DPD / preferred-peer / idle-timer lines on a running router (seed 003 L88-97,
seed 004 L26-38, seed 000 L2087-2144 and L3730-3798).

Out-of-range ``crypto isakmp keepalive`` and idle-time values, a second
``default`` peer, and a ``default`` peer that is not the first one are refused
with IOS-style messages; the running configuration and the tunnel are
unchanged.
"""

from __future__ import annotations

from pathlib import Path

from lab import Lab
from reports.scenario import Scenario
from scenarios.dpd import _dpd

HERE = Path(__file__).resolve().parent / "hubs"
TOPO = HERE / "tohub.yaml"
SCENARIO = Scenario(
    seed="004_c89671c59f5b09b7.txt", lines=(26, 146),
    section="IPsec Preferred Peer: restrictions (one default peer, first in the list; idle "
            "timer) with the keepalive and idle-time ranges of seeds 003 and 000",
    claim="Invalid keepalive/idle-time values and misplaced default peers are rejected with "
          "an IOS error; the running state does not change.",
    feature="dpd-bad-input", topology="scenarios/dpd/hubs/tohub.yaml", peers=("engine",),
    chapter="DPD",
    notes=("Lines are entered with `lab config` (configure terminal semantics) on the spoke "
           "of the preferred-peer example; the error text is the engine's IOS-style one "
           "(the seeds give no error text).",))

BAD_GLOBAL = (
    "crypto isakmp keepalive 9 periodic",  # seconds 10-3600 (seed 003 L97)
    "crypto isakmp keepalive 3601",
    "crypto isakmp keepalive 10 1 periodic",  # retry 2-60
    "crypto isakmp keepalive 10 61",
    "crypto isakmp keepalive",  # seconds mandatory (L97)
    "crypto ipsec security-association idle-time 59",  # 60-86400 (seed 000 L3733)
    "crypto ipsec security-association idle-time 86401",
)
BAD_MAP = (
    "set security-association idletime 59 default",  # 60-86400 (seed 000 L3798)
    "set peer 10.3.3.3 default",  # a second default peer (seed 004 L32)
)


def _running(r1) -> str:
    return r1.cli("show running-config")


def test_bad_lines_rejected_state_unchanged(ev, peer: str) -> None:
    ev.topology(TOPO)
    ev.config("r1", HERE / "r1-tohub.cfg", label="spoke: seed 004 L165-168 + completions")
    with Lab.up(TOPO) as lab, ev.collecting(lab, nodes=("r1",)):
        r1 = lab.node("r1")
        _dpd.add_service_address(lab, ("hh1", "hh2"))
        with ev.step("tunnel up"):
            lab.node("h1").ping(_dpd.SERVICE, count=3, interval=0.2, wait=2)
        before, peers0 = _running(r1), _dpd.ipsec_peers(r1)
        for line in BAD_GLOBAL:
            r = _config(r1, line)
            ev.check(f"rejected: {line}", (r["ok"], "%" in r.get("error", "")), (False, True),
                     how=r.get("error", "").replace("\n", " | ")[:200])
        for line in BAD_MAP:
            _config(r1, "crypto map tohub 1 ipsec-isakmp")
            r = _config(r1, line)
            ev.check(f"rejected in crypto map tohub 1: {line}",
                     (r["ok"], "%" in r.get("error", "")), (False, True),
                     how=r.get("error", "").replace("\n", " | ")[:200])
        _config(r1, "crypto map tohub 2 ipsec-isakmp")
        _config(r1, "set peer 10.2.2.2")
        r = _config(r1, "set peer 10.1.1.1 default")
        ev.check("rejected: default peer that is not the first (seed 004 L33)",
                 (r["ok"], "%" in r.get("error", "")), (False, True),
                 how=r.get("error", "").replace("\n", " | ")[:200])
        _config(r1, "no crypto map tohub 2")
        after = _running(r1)
        ev.check("running configuration unchanged", _diff(before, after), [])
        ev.check("tunnel unchanged", _dpd.ipsec_peers(r1), peers0)


def _config(r1, line: str) -> dict:
    """``lab config LINE`` → the control socket's reply (ok / error)."""
    from engine.control import request

    return request(str(r1.dir / "engine.sock"), f"lab config {line}", timeout=5.0)


def _diff(a: str, b: str) -> list[str]:
    import difflib

    return [d for d in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
            if d[:1] in "+-" and not d.startswith(("---", "+++"))]
