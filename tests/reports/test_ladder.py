"""Packet ladder decoding (known packets) and SVG pictures."""

from __future__ import annotations

from reports.ladder import decode_pcap, ike_summary
from reports.svg import ladder_svg, topology_svg
from tests.reports.fixtures import SPI, ike, keys, write_pcap


def test_ike_summary_known_answer() -> None:
    s = ike_summary(ike(2, 0, [(1, b"\0" * 8), (13, b"v"), (20, b"d" * 20)]))
    assert (s["exch"], s["payloads"], s["encrypted"]) == ("Main Mode", ["SA", "VID", "NAT-D"],
                                                         False)
    enc = ike_summary(ike(32, 7, [(8, b"h")], flags=1))
    assert enc["encrypted"] and enc["payloads"] == [] and enc["msgid"] == 7
    bad = ike_summary(ike(2, 0, [(1, b"")])[:-1] + b"\x00\x00")  # lenient: no exception
    assert bad["cls"] == "ike"
    assert ike_summary(b"short")["label"] == "IKE (truncated)"


def test_decode_pcap_with_keys(tmp_path) -> None:
    lad = decode_pcap(write_pcap(tmp_path / "k.pcap"), keys=keys(),
                      names={"10.1.1.1": "r1", "10.2.2.2": "r2"})
    labels = [e["label"] for e in lad["events"]]
    assert lad["error"] == "" and lad["total"] == 10
    assert labels[0] == "Main Mode #1 [SA, VID]"
    assert labels[1] == "Main Mode #2 [SA]"
    assert labels[2] == "Quick Mode #1 [encrypted] msgid=0x00000042 (4500)"
    assert labels[3] == "Informational #1 [N(INVALID-SPI)] msgid=0x00000099"
    assert labels[4] == f"ESP spi=0x{SPI:08x} seq=1"
    assert lad["events"][4]["inner"] == "decrypted: 10.0.0.1 → 10.0.2.2 ICMP echo-request seq=1"
    assert labels[5] == f"ESP spi=0x{SPI:08x} seq=1 (UDP-encap)"
    assert lad["events"][5]["inner"].startswith("decrypted: 10.0.0.1")
    assert labels[6] == f"AH spi=0x00000abc seq=1 + ESP spi=0x{SPI:08x} seq=1"
    assert lad["events"][6]["inner"].startswith("decrypted:")
    assert labels[7] == "NAT-keepalive"
    assert labels[8] == "ICMP echo-request id=7 seq=1"
    assert labels[9].startswith("IKE (truncated)") or "truncated" in labels[9]
    assert lad["lanes"][:2] == ["10.1.1.1", "10.2.2.2"] and lad["names"]["10.1.1.1"] == "r1"
    svg = ladder_svg(lad)
    assert svg.count('class="pkt ') == 10 and "Main Mode #1 [SA, VID]" in svg


def test_decode_without_keys_and_bad_file(tmp_path) -> None:
    lad = decode_pcap(write_pcap(tmp_path / "n.pcap"))
    assert "inner" not in lad["events"][4] or lad["events"][4]["inner"] == ""
    (tmp_path / "bad.pcap").write_bytes(b"not a pcap")
    bad = decode_pcap(tmp_path / "bad.pcap")
    assert bad["events"] == [] and bad["error"]


def test_topology_svg_marks_nat_and_addresses() -> None:
    topo = {"nodes": {"h1": {"kind": "host"}, "nat1": {"kind": "nat"}, "srv": {"kind": "host"}},
            "segments": [{"name": "lan", "members": [{"iface": "h1:eth0",
                                                      "addr": "192.168.10.11/24"},
                                                     {"iface": "nat1:eth0"}]}],
            "links": [{"a": "nat1:eth1", "b": "srv:eth0", "a_addr": "203.0.113.1/24",
                       "b_addr": ["203.0.113.100/24", "fd00::1/64"]}]}
    svg = topology_svg(topo)
    assert svg.startswith("<svg") and "NAT/PAT" in svg and "stroke-dasharray" in svg
    assert "203.0.113.100/24, fd00::1/64" in svg and ">lan<" in svg


def test_decode_in_fresh_interpreter(tmp_path) -> None:
    """Regression: without scapy's l2 bindings loaded, pcaps decoded as Raw (0 events)."""
    import os
    import subprocess
    import sys

    from reports.scenario import ROOT

    pcap = write_pcap(tmp_path / "f.pcap")
    code = ("import sys; from reports.ladder import decode_pcap; "
            "print(len(decode_pcap(sys.argv[1])['events']))")
    res = subprocess.run([sys.executable, "-c", code, str(pcap)], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert res.stdout.strip() == "10", res.stderr
