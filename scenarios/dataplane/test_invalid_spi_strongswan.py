"""Invalid SPI recovery with strongSwan as Router A (the data's originator).

Seed 000 chapter 4 (L944–1926) with the engine as Router B (``crypto isakmp
invalid-spi-recovery``) and strongSwan 5.9.8 as Router A. After B's engine is
killed and restarted, A keeps sending on the old SPI; B logs
``%CRYPTO-4-RECVD_PKT_INV_SPI``, opens an IKE SA to A and sends the INVALID
SPI notify (L1014–1016); A drops the stale SA (L1016–1017). strongSwan's
libipsec raises no acquire, so A's next traffic cannot start the new Quick
Mode (L1017–1018) by itself: the scenario initiates it with swanctl, then
traffic flows on new SPIs. With ``clear crypto isakmp`` on B instead, B's
ISAKMP DELETE already makes strongSwan drop the CHILD_SA with its IKE_SA, so
no stale SPI is left to recover from.
"""

from __future__ import annotations

import re
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.isakmp import ISAKMP

from lab import Lab, strongswan
from reports.scenario import Scenario

HERE = Path(__file__).resolve().parent / "invalidspi"
TOPOLOGY = HERE / "strongswan.yaml"
SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt",
    lines=(944, 1926),
    section="Invalid Security Parameter Index Recovery",
    chapter="Chapter 4",
    claim="After router B loses its SAs, A's packets with the old SPI are dropped and logged; "
    "with crypto isakmp invalid-spi-recovery B opens an IKE SA to A and sends INVALID-SPI, A "
    "deletes the stale SA and new SAs restore traffic.",
    feature="invalid-spi-recovery",
    topology="scenarios/dataplane/invalidspi/strongswan.yaml",
    peers=("strongswan",),
    notes=(
        "Router A is strongSwan 5.9.8 (s1, owns 10.0.0.1 = the ACL's host); transform set "
        "auth2 without ah-sha-hmac and ESP in UDP 4500 (libipsec). Router B is the engine with "
        "the document's configuration otherwise (r2-esp.cfg).",
        "libipsec raises no acquire: the new CHILD_SA is started with 'swanctl --initiate' "
        "where the document has A's next packet start Quick Mode.",
    ),
)

A_OUT, B_OUT = "10.1.1.1", "10.2.2.2"
A_IN, B_HOST = "10.0.0.1", "10.0.2.2"
INV_SPI = "%CRYPTO-4-RECVD_PKT_INV_SPI: decaps: rec'd IPSEC packet has invalid spi for "


def _b_keys(lab) -> list[dict]:
    try:
        return lab.node("r2").cli("lab keys", json=True) or []
    except Exception:
        return []


def _a_pings(lab, count: int) -> str:
    script = (
        f"for i in $(seq {count}); do ping -n -c1 -W2 -s 100 -I {A_IN} {B_HOST} >/dev/null 2>&1 "
        "&& printf '!' || printf '.'; done"
    )
    r = lab.node("s1").exec(["sh", "-c", script], check=False, timeout=count * 2.5 + 10)
    return r.stdout.strip()


def _ike_from_b(cap) -> list[tuple[int, bytes, bytes]]:
    out = []
    for p in cap.packets:
        if IP in p and UDP in p and p[IP].src == B_OUT and p[UDP].sport in (500, 4500):
            data = bytes(p[UDP].payload)
            if p[UDP].sport == 4500:
                if data[:4] != b"\0\0\0\0":
                    continue
                data = data[4:]
            try:
                k = ISAKMP(data)
            except Exception:
                continue
            out.append((int(k.exch_type), bytes(k.init_cookie), bytes(k.resp_cookie)))
    return out


@pytest.mark.parametrize("how", ["restart", "clear"])
def test_recovery_with_strongswan_originator(ev, peer: str, how: str) -> None:
    ev.topology(TOPOLOGY)
    ev.config("r2", HERE / "r2-esp.cfg", label="Router B (engine), seed L1630-1812, ESP only")
    ev.config("s1", HERE / "s1.swanctl.conf", label="Router A (strongSwan)")
    with ExitStack() as stack:
        with ev.step("bring up Router A (strongSwan) - isp - Router B (engine) - h2"):
            lab = stack.enter_context(Lab.up(TOPOLOGY))
        with ev.collecting(lab, nodes=("r2",)):
            try:
                _run(ev, lab, how)
            finally:
                ev.show(lab.node("s1"), "--list-sas", label="Router A final state")
                ev.log(lab.node("s1"), lab.node("s1").dir / "charon.log")


def _run(ev, lab, how: str) -> None:
    r2, s1 = lab.node("r2"), lab.node("s1")
    with ev.step("h2 pings Router A's 10.0.0.1: Router B negotiates the SAs"):
        up = lab.node("h2").ping(A_IN, count=3, interval=0.3, wait=2)
    ev.check("tunnel up", up.received, ">= 2", ok=up.received >= 2)
    old = {k["spi"] for k in _b_keys(lab)}
    b_in = next((k["spi"] for k in _b_keys(lab) if k["direction"] == "in"), None)
    log_path = s1.dir / "charon.log"
    mark = len(log_path.read_text()) if log_path.exists() else 0
    if how == "restart":
        with ev.step("Router B's engine is killed (SIGKILL) and started again"):
            r2.restart_daemon(kill=True)
    else:
        with ev.step("Router B: clear crypto isakmp, clear crypto sa"):
            r2.cli("clear crypto isakmp")
            r2.cli("clear crypto sa")
    with ev.capture(lab, "isp:eth1", keys_from=("r2", "s1")) as cap:
        with ev.step("Router A pings h2's 10.0.2.2 five times, one at a time, 2 s timeout"):
            marks = _a_pings(lab, 5)
        ev.note(f"success string: {marks}")
    charon = log_path.read_text()[mark:] if log_path.exists() else ""
    ike = _ike_from_b(cap)
    logs = [x for x in r2.cli("lab syslog", json=True) or [] if INV_SPI in x]
    if how == "clear":
        ev.check(
            "strongSwan deletes the IKE_SA and its CHILD_SA on B's ISAKMP DELETE (no stale SPI)",
            "deleting IKE_SA" in charon
            or "CHILD_SA acl150{1} state change: INSTALLED => DESTROYING" in charon,
            True,
        )
        ev.check("no packet with a stale SPI reaches B (no RECVD_PKT_INV_SPI)", len(logs), 0)
        return
    want = (
        f"{INV_SPI}destaddr={B_OUT}, prot=50, spi=0x{b_in:X}({b_in}), srcaddr={A_OUT}"
        if b_in
        else None
    )
    ev.check(
        "Router B logs RECVD_PKT_INV_SPI for the old ESP SPI",
        [x[x.index("%CRYPTO") :] for x in logs][:1],
        [want],
    )
    mm1 = [m for m in ike if m[0] == 2 and m[2] == bytes(8)]
    ev.check("Router B starts Main Mode towards Router A", len(mm1), 1)
    info = [m for m in ike if m[0] == 5 and mm1 and m[1] == mm1[0][1]]
    ev.check("Router B sends an Informational under it", len(info) >= 1, True)
    ev.check(
        "strongSwan receives the INVALID-SPI notify ('parsed INFORMATIONAL_V1 ... N(INVAL_SPI)')",
        bool(re.search(r"INFORMATIONAL_V1 request \d+ \[ HASH N\(INVAL_SPI\) \]", charon)),
        True,
    )
    ev.check(
        "strongSwan drops the stale CHILD_SA (INITIAL_CONTACT of B's new IKE SA)",
        "received INITIAL_CONTACT" in charon and "INSTALLED => DESTROYING" in charon,
        True,
    )
    with ev.step("Router A starts the new CHILD_SA (swanctl --initiate; libipsec has no acquire)"):
        lines = strongswan.initiate(s1, "acl150", timeout=15)
        ev.note("charon: " + " | ".join(lines[-3:]))
    t0 = time.monotonic()
    with ev.step("Router A pings h2 again"):
        after = _a_pings(lab, 5)
    ev.note(f"success string after the new Quick Mode: {after} ({time.monotonic() - t0:.1f} s)")
    ev.check("traffic flows again", after, "!!!!!")
    new = {k["spi"] for k in _b_keys(lab)}
    ev.check(
        "Router B holds new SPIs only",
        (bool(new), bool(new & old)),
        (True, False),
    )
