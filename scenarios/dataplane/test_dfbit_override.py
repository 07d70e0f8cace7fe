"""DF bit override functionality with IPsec tunnels: interface setting beats global.

Seed 000 chapter 7: ``crypto ipsec df-bit clear|set|copy`` sets the DF bit of
the encapsulating header in tunnel mode, globally or per interface, the
interface setting overriding the global one (L3352–3372, L3409–3427). The
example (L3438–3489, transform set ``ah-md5-hmac esp-des``) clears DF
globally and copies it on FastEthernet: "on all interfaces other than
FastEthernet the router can send packets larger than the usable MTU size"
(L3439–3442). h1 sends with DF 0 and 1 through both crypto maps; the outer
DF bit on FastEthernet follows the inner one, on FastEthernet1 it is always 0;
an oversize DF packet passes FastEthernet1 (df-bit clear: fragmented, Table 2
row 2) but not FastEthernet (copy: dropped, row 10).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.ipsec import AH

from lab import Lab, replay
from reports.scenario import Scenario

HERE = Path(__file__).resolve().parent / "dfbit"
TOPOLOGY = HERE / "engine.yaml"
SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt",
    lines=(3278, 3605),
    section="DF Bit Override Functionality with IPsec Tunnels: configuration example",
    chapter="Chapter 7",
    claim="The DF bit of the encapsulating header is cleared, set or copied as configured; the "
    "interface's crypto ipsec df-bit overrides the global one, so with global clear and "
    "copy on FastEthernet the outer DF follows the inner packet only on FastEthernet.",
    feature="df-bit-override",
    topology="scenarios/dataplane/dfbit/engine.yaml",
    peers=("engine", "strongswan"),
    notes=(
        "Configuration verbatim from L3444-3489; the document gives no inside interface and "
        "no ACLs 101/102, so r1.cfg adds them after '! lab:' lines. The peers 192.168.10.66 "
        "and 192.168.11.19 are lab-made mirror images.",
        "strongSwan variant: both peers are strongSwan 5.9.8 and exampleset is esp-des "
        "esp-md5-hmac (libipsec has no AH; ESP always in UDP 4500), r1-esp.cfg.",
        "The interface named 'FastEthernet' (no number) is kept as the document spells it.",
    ),
)

H1 = "10.10.0.10"
PATHS = {  # interface -> (far host, peer node suffix, peer address, effective df-bit)
    "FastEthernet": ("10.66.0.10", "a", "192.168.10.66", "copy"),
    "FastEthernet1": ("10.19.0.10", "b", "192.168.11.19", "clear"),
}


def _outer(cap, dst: str) -> list:
    """r1's protected packets to ``dst``: AH (engine peers) or ESP in UDP 4500 (strongSwan)."""
    return [
        p
        for p in cap.packets
        if IP in p
        and p[IP].dst == dst
        and (p[IP].proto == 51 or (p[IP].proto == 17 and replay.ipsec_seq(bytes(p[IP]))))
    ]


@pytest.mark.parametrize("interface", list(PATHS))
def test_df_bit_follows_interface_setting(ev, peer: str, interface: str) -> None:
    host, suffix, peer_addr, mode = PATHS[interface]
    engine = peer == "engine"
    topo = TOPOLOGY if engine else HERE / "strongswan.yaml"
    where = f"{'p' if engine else 's'}{suffix}:eth0"
    ev.topology(topo)
    if engine:
        for n in ("r1", "pa", "pb"):
            ev.config(n, HERE / f"{n}.cfg", label="seed 000 L3444-3489" if n == "r1" else "lab")
    else:
        ev.config("r1", HERE / "r1-esp.cfg", label="seed 000 L3444-3489, ESP-only transform")
        for n in ("sa", "sb"):
            ev.config(n, HERE / f"{n}.swanctl.conf", label="strongSwan peer")
    with ExitStack() as stack:
        with ev.step(f"bring up h1 - r1 - two {peer} peers - ha, hb"):
            lab = stack.enter_context(Lab.up(topo))
        with ev.collecting(lab, nodes=("r1",)):
            _check_path(ev, lab, interface, host, where, peer_addr, mode, engine)


def _ping(lab, host: str, size: int, df: bool, count: int = 2):
    return lab.node("h1").exec(
        [
            "ping",
            "-n",
            "-c",
            str(count),
            "-i",
            "0.3",
            "-W",
            "2",
            "-s",
            str(size),
            "-M",
            "do" if df else "dont",
            host,
        ],
        check=False,
        timeout=15,
    )


def _check_path(
    ev, lab, interface: str, host: str, where: str, peer_addr: str, mode: str, engine: bool
) -> None:
    r1 = lab.node("r1")
    run = ev.show(r1, "show running-config", label="df-bit lines")
    ev.check(
        "running-config: global 'crypto ipsec df-bit clear'",
        "crypto ipsec df-bit clear" in run.splitlines(),
        True,
    )
    with ev.step(f"h1 -> {host}: tunnel up through crypto map on {interface}"):
        up = lab.node("h1").ping(host, count=3, interval=0.3, wait=2)
    ev.check("tunnel carries traffic", up.received, ">= 2", ok=up.received >= 2)
    with ev.capture(lab, where, keys_from=("r1",)) as cap:
        for df in (False, True):
            with ev.step(f"h1 pings {host} with 200 data bytes, inner DF {int(df)}"):
                r = _ping(lab, host, 200, df)
                ev.check(f"echo replies (inner DF {int(df)})", r.stdout.count("bytes from"), 2)
                cap.wait_count(4 * (2 if df else 1), timeout=3)
    pkts = _outer(cap, peer_addr)
    ev.check(
        "AH outer header (transform set ah-md5-hmac esp-des) on the wire"
        if engine
        else "ESP in UDP 4500 on the wire",
        len(pkts),
        ">= 4",
        ok=len(pkts) >= 4 and all((AH in p) is engine for p in pkts),
    )
    by_inner = {
        0: sorted({int(bool(p[IP].flags.DF)) for p in pkts[:2]}),
        1: sorted({int(bool(p[IP].flags.DF)) for p in pkts[2:4]}),
    }
    want = {0: [0], 1: [1 if mode == "copy" else 0]}
    ev.check(
        f"outer DF on {interface} follows df-bit {mode} "
        f"({'interface' if mode == 'copy' else 'global'} setting)",
        by_inner,
        want,
        how="inner DF 0 packets first, then inner DF 1",
    )
    with ExitStack() as stack:
        big_cap = stack.enter_context(ev.capture(lab, where, keys_from=("r1",)))
        inside = stack.enter_context(ev.capture(lab, "r1:eth2"))
        with ev.step(f"h1 pings {host} with 1400 data bytes, DF 1 (over the 1400 MTU)"):
            r = _ping(lab, host, 1400, True)
            ev.note(r.stdout.strip()[-300:] + r.stderr.strip()[-200:])
    icmp = [
        p
        for p in inside.packets
        if ICMP in p and p[IP].dst == H1 and (p[ICMP].type, p[ICMP].code) == (3, 4)
    ]
    replies = r.stdout.count("bytes from")
    if mode == "clear":
        ev.check(
            "FastEthernet1 (clear): oversize DF packet still sent (fragmented, Table 2 row 2)",
            replies,
            2,
        )
        outs = _outer(big_cap, peer_addr)
        ev.check(
            "... with outer DF 0 and within the MTU",
            sorted({(int(bool(p[IP].flags.DF)), len(p[IP]) <= 1400) for p in outs}),
            [(0, True)],
        )
        ev.check("no ICMP fragmentation-needed to h1", len(icmp), 0)
    else:
        ev.check("FastEthernet (copy): oversize DF packet dropped (Table 2 row 10)", replies, 0)
        ev.check("... and nothing sent towards the peer", len(_outer(big_cap, peer_addr)), 0)
        ev.check(
            "... h1 told by ICMP fragmentation-needed (inferred, RFC 1191)",
            len(icmp) >= 1,
            True,
        )
