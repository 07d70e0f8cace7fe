"""Pre-fragmentation for IPsec VPNs: the DF-bit × df-bit × pre-fragmentation table.

Seed 000 Table 2 (L583–734) says what happens to a packet that no longer fits
the egress MTU once encrypted, from the incoming packet's DF bit, the output
interface's ``crypto ipsec df-bit clear|set|copy`` and the pre-fragmentation
state: fragment before encryption (inner fragments, each in its own ESP
packet, L747–760), fragment after encryption (one ESP packet, its outer IP
header fragmented, the peer reassembling before decryption, L738–745), or
drop. One test per table row; each asserts what r1 puts on the wire towards
the ISP (MTU 1400), the outer DF bit, the ICMP h1 gets for drops, and whether
h2 got the whole datagram (it answers the echo request).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP

from engine.dataplane.fragpolicy import TABLE2, Table2Row, outer_df
from lab import Lab, replay
from reports.scenario import Scenario

HERE = Path(__file__).resolve().parent / "prefrag"
TOPOLOGY = HERE / "engine.yaml"
SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt",
    lines=(534, 943),
    section="Pre-Fragmentation for IPsec VPNs (Table 2: DF bit, crypto ipsec df-bit, "
    "pre-fragmentation)",
    chapter="Chapter 3",
    claim="An oversize packet is fragmented before encryption when pre-fragmentation is on, "
    "after encryption (reassembled before decryption) when it is off, and dropped when its "
    "DF bit is set and the output interface's df-bit is set or copy.",
    feature="prefragmentation-df-table",
    topology="scenarios/dataplane/prefrag/engine.yaml",
    peers=("engine", "strongswan"),
    notes=(
        "The chapter has no configuration example: the routers carry seed 000's "
        "example-1 crypto configuration (L305-366), r1's link to the ISP has MTU 1400, and "
        "each row sets 'crypto ipsec df-bit' on r1's crypto-map interface and 'crypto ipsec "
        "fragmentation' globally (IOS commands; the chapter names only the df-bit one).",
        "Drops: r1 also sends ICMP fragmentation-needed with the tunnel's usable MTU to the "
        "sender (inferred; the table says only 'dropped').",
        "strongSwan variant: s2 (libipsec) decrypts; ESP is UDP-encapsulated (port 4500) "
        "because libipsec always encapsulates, so the outer packets are UDP.",
        "Row 7 (df-bit set, pre-fragmentation off, inner DF 0) is reproduced as written: r1 "
        "fragments the encrypted packet itself, the fragments carrying DF=1.",
    ),
)

R1_OUT, R2_OUT = "192.165.200.2", "192.165.201.2"
H1, H2 = "192.168.1.10", "172.16.2.10"
SIZE = 1400  # ICMP data bytes: a 1428-byte inner packet, > the 1400-byte egress MTU
COUNT = 2


def _esp_from_r1(cap) -> list:
    """r1's ESP (or ESP-in-UDP) packets and outer fragments towards the peer."""
    out = []
    for p in cap.packets:
        if IP not in p or p[IP].src != R1_OUT or p[IP].dst != R2_OUT:
            continue
        if p[IP].flags.MF or p[IP].frag or replay.ipsec_seq(bytes(p[IP])) is not None:
            out.append(p)
    return out


def _decrypt(lab, packets: list) -> list[bytes | None]:
    """Decrypt r1 -> r2 ESP packets (non-fragments) with r1's exported keys."""
    from engine.esp import InboundSa, SaParams

    keys = [
        k
        for k in lab.node("r1").cli("lab keys", json=True) or []
        if k["direction"] == "out" and k["proto"] == "esp" and k["dst"] == R2_OUT
    ]
    sas = {
        k["spi"]: InboundSa(
            SaParams.from_export({**k, "direction": "in", "src": k["dst"], "dst": k["src"]})
        )
        for k in keys
    }
    out: list[bytes | None] = []
    for p in packets:
        raw = bytes(p[IP])
        info = replay.ipsec_seq(raw)
        spi = info[1] if info else 0
        try:
            out.append(sas[spi].unprotect(raw) if spi in sas else None)
        except Exception:
            out.append(None)
    return out


@pytest.mark.parametrize(
    "row",
    TABLE2,
    ids=[
        f"row{r.row}-{'pre' if r.prefrag else 'post'}-{r.df_mode}-df{int(r.inner_df)}"
        for r in TABLE2
    ],
)
def test_table2_row(ev, peer: str, row: Table2Row) -> None:
    topo = TOPOLOGY if peer == "engine" else HERE / "strongswan.yaml"
    far = "r2" if peer == "engine" else "s2"
    ev.topology(topo)
    ev.config("r1", HERE / "r1.cfg", label="seed 000 example-1 crypto configuration")
    if peer != "engine":
        ev.config("s2", HERE / "s2.swanctl.conf", label="strongSwan peer")
    ev.note(
        f"document, Table 2 row {row.row} ({row.lines}): pre-fragmentation "
        f"{'enabled' if row.prefrag else 'disabled'}, df-bit {row.df_mode}, incoming DF "
        f"{int(row.inner_df)} -> {row.text}"
    )
    with ExitStack() as stack:
        with ev.step(f"bring up h1 - r1 - isp (MTU 1400) - {far} ({peer}) - h2"):
            lab = stack.enter_context(Lab.up(topo))
        with ev.collecting(lab, nodes=("r1",) + (("r2",) if peer == "engine" else ())):
            _row(ev, lab, row, far)


@pytest.mark.parametrize("inner_df", [False, True], ids=["df0", "df1"])
def test_defaults(ev, peer: str, inner_df: bool) -> None:
    """No df-bit / fragmentation configured: copy and before-encryption (rows 9, 10)."""
    row = next(r for r in TABLE2 if (r.prefrag, r.df_mode, r.inner_df) == (True, "copy", inner_df))
    ev.note(
        "defaults: crypto ipsec df-bit copy (inferred, DF-bit chapter L3386), fragmentation "
        "before-encryption (IOS default for crypto maps; the chapter's 'off by default', "
        f"L762, is about tunnel interfaces) -> Table 2 row {row.row}: {row.text}"
    )
    topo = TOPOLOGY if peer == "engine" else HERE / "strongswan.yaml"
    far = "r2" if peer == "engine" else "s2"
    ev.topology(topo)
    with ExitStack() as stack:
        with ev.step(f"bring up h1 - r1 - isp (MTU 1400) - {far} ({peer}) - h2"):
            lab = stack.enter_context(Lab.up(topo))
        with ev.collecting(lab, nodes=("r1",)):
            _row(ev, lab, row, far, lines=[])


@pytest.mark.parametrize("interface_mode", ["before-encryption", "after-encryption"])
def test_interface_fragmentation_overrides_global(ev, peer: str, interface_mode: str) -> None:
    """``crypto ipsec fragmentation`` on the interface beats the global one (as df-bit does)."""
    global_mode = (
        "after-encryption" if interface_mode == "before-encryption" else "before-encryption"
    )
    prefrag = interface_mode == "before-encryption"
    row = next(r for r in TABLE2 if (r.prefrag, r.df_mode, r.inner_df) == (prefrag, "copy", False))
    lines = [
        f"crypto ipsec fragmentation {global_mode}",
        "interface Serial1/0",
        f"crypto ipsec fragmentation {interface_mode}",
    ]
    topo = TOPOLOGY if peer == "engine" else HERE / "strongswan.yaml"
    far = "r2" if peer == "engine" else "s2"
    ev.topology(topo)
    ev.note(f"global {global_mode}, interface {interface_mode}: expect row {row.row}")
    with ExitStack() as stack:
        with ev.step(f"bring up h1 - r1 - isp (MTU 1400) - {far} ({peer}) - h2"):
            lab = stack.enter_context(Lab.up(topo))
        with ev.collecting(lab, nodes=("r1",)):
            _row(ev, lab, row, far, lines=lines)


def _row(ev, lab, row: Table2Row, far: str, lines: list[str] | None = None) -> None:
    r1 = lab.node("r1")
    frag = "before-encryption" if row.prefrag else "after-encryption"
    if lines is None:
        lines = [
            f"crypto ipsec fragmentation {frag}",
            "interface Serial1/0",
            f"crypto ipsec df-bit {row.df_mode}",
        ]
    with ev.step("configure r1: " + (" / ".join(lines) or "nothing (defaults)")):
        for line in lines:
            r1.cli(f"lab config {line}")
    ev.show(r1, "show running-config", label="r1 with the row's settings")
    with ev.step("small pings h1 -> h2 bring the SAs up"):
        ok = lab.node("h1").ping(H2, count=3, interval=0.3, wait=2)
    ev.check("tunnel up (small packets pass)", ok.received, ">= 2", ok=ok.received >= 2)
    with ExitStack() as stack:
        wire = stack.enter_context(ev.capture(lab, "isp:eth0", keys_from=("r1", far)))
        inside = stack.enter_context(ev.capture(lab, "r1:eth1"))
        host = stack.enter_context(ev.capture(lab, "h2:eth0"))
        df_opt = "do" if row.inner_df else "dont"
        with ev.step(
            f"h1 pings h2 with {SIZE} data bytes ({SIZE + 28}-byte packets), "
            f"DF {int(row.inner_df)} (ping -M {df_opt})"
        ):
            r = lab.node("h1").exec(
                [
                    "ping",
                    "-n",
                    "-c",
                    str(COUNT),
                    "-i",
                    "0.5",
                    "-W",
                    "2",
                    "-s",
                    str(SIZE),
                    "-M",
                    df_opt,
                    H2,
                ],
                check=False,
                timeout=15,
            )
            ev.note(r.stdout.strip()[-400:] + r.stderr.strip()[-200:])
    replies = r.stdout.count("bytes from")
    answered = len(
        [
            p
            for p in host.packets
            if IP in p
            and ICMP in p
            and p[IP].src == H2
            and p[ICMP].type == 0
            and len(p[IP]) == SIZE + 28
        ]
    )
    esp = _esp_from_r1(wire)
    whole = [p for p in esp if not (p[IP].flags.MF or p[IP].frag)]
    frags = [p for p in esp if p[IP].flags.MF or p[IP].frag]
    big = esp  # the SAs are up before the capture: every r1 ESP packet is an oversize ping
    icmp = [
        p
        for p in inside.packets
        if ICMP in p and p[IP].dst == H1 and p[ICMP].type == 3 and p[ICMP].code == 4
    ]
    want_df = outer_df(row.df_mode, row.inner_df)
    observed = "drop" if not big else ("post-fragment" if frags else "pre-fragment")
    ok = ev.check(
        f"Table 2 row {row.row}: {row.text}",
        observed,
        row.result,
        how=f"seed {row.lines}; ESP from r1 on the r1-isp link",
    )
    if hasattr(ev, "table_row"):  # reproduced table in the report (requests/reports.md)
        ev.table_row(
            table="seed 000 Table 2 (L587-734)",
            key=row.row,
            columns={
                "pre-fragmentation": "enabled" if row.prefrag else "disabled",
                "df-bit": row.df_mode,
                "incoming DF": int(row.inner_df),
            },
            document=row.text,
            observed=observed,
            ok=ok,
        )
    if row.result == "drop":
        ev.check("no ESP packet for the oversize datagrams", len(big), 0)
        ev.check("ICMP fragmentation-needed to h1 (inferred)", len(icmp), ">= 1", ok=len(icmp) >= 1)
        if icmp:
            ev.check(
                "ICMP reports the tunnel's usable MTU (< 1400)",
                icmp[0][ICMP].nexthopmtu,
                "< 1400",
                ok=0 < icmp[0][ICMP].nexthopmtu < 1400,
            )
        ev.check("h2 answers none", answered, 0)
        return
    ev.check(
        "h2 got every whole datagram (it answers each echo request)",
        answered,
        COUNT,
        how=f"echo replies leaving h2; replies back at h1 (other direction): {replies}",
    )
    ev.check(
        "every packet on the wire fits the MTU",
        max(len(p[IP]) for p in esp),
        "<= 1400",
        ok=max(len(p[IP]) for p in esp) <= 1400,
    )
    ev.check(
        f"outer DF bit = {int(want_df)} (df-bit {row.df_mode}, inner DF {int(row.inner_df)})",
        sorted({int(bool(p[IP].flags.DF)) for p in big}),
        [int(want_df)],
    )
    if row.result == "pre-fragment":
        ev.check("no outer IP fragments", len(frags), 0)
        big_whole = whole
        ev.check(
            "each datagram split into >= 2 ESP packets",
            len(big_whole),
            f">= {2 * COUNT}",
            ok=len(big_whole) >= 2 * COUNT,
        )
        inner = _decrypt(lab, big_whole)
        inner_frag = [i for i in inner if i and (int.from_bytes(i[6:8], "big") & 0x3FFF)]
        ev.check(
            "each ESP packet decrypts to an inner IP fragment", len(inner_frag), len(big_whole)
        )
        sizes = sorted({len(i) for i in inner if i})
        ev.note(f"inner fragment sizes: {sizes} (seed L540: equal-size units)")
    else:
        firsts = [p for p in frags if p[IP].flags.MF and p[IP].frag == 0]
        ev.check(
            "one ESP packet per datagram, its outer header fragmented",
            len(firsts),
            f">= {COUNT}",
            ok=len(firsts) >= COUNT,
        )
