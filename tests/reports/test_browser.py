"""Render the report in a real headless Chromium (Debian's) and check the DOM.

Screenshots (desktop and phone width) are kept in the test's tmp dir and
copied to ``reports/out/test-artifacts/`` for people to look at.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from reports.build import build
from reports.evidence import Evidence
from reports.ladder import decode_pcap
from reports.scenario import ROOT, Scenario
from tests.reports.fixtures import keys, write_pcap

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")


def chromium(*args: str, timeout: float = 60) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        res = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=timeout)
    return res.stdout


def fixture_report(out: Path, tmp: Path) -> dict[str, str]:
    """Two scenario runs (engine passed, strongSwan failed) with a real capture."""
    scn = Scenario(seed="000_c6e6876e9d817ea1.txt", lines=(1114, 1812),
                   section="Invalid SPI Recovery: example", claim="Tunnel comes up.",
                   feature="ios-site-to-site", topology="topologies/nat-pat.yaml",
                   peers=("engine", "strongswan"))
    pcap = write_pcap(tmp / "fixture.pcap")
    slugs = {}
    for peer, ok in (("engine", True), ("strongswan", False)):
        ev = Evidence(f"scenarios/ios/test_x.py::test_up[{peer}]", scenario=scn.to_dict(),
                      peer=peer, root=out)
        with ev.step("h1 pings h2"):
            ev.show(type("N", (), {"name": "r1", "cli": lambda self, c: "ipseca-71a QM_IDLE"})(),
                    "show crypto isakmp sa")
            rel = ev.attach(pcap, label="capture isp:eth0", kind="pcap")
            ev._add("capture", where="isp:eth0", href=rel, keys=1, packets=10,
                    ladder=decode_pcap(out / rel, keys=keys(), names={"10.1.1.1": "r1"}))
        ev.counters("r1", {"encaps": 0}, {"encaps": 5})
        ev.check("QM_IDLE", "QM_IDLE" if ok else "MM_NO_STATE", "QM_IDLE")
        ev.save(outcome="passed" if ok else "failed", reason="" if ok else "1 check failed",
                duration_s=1.5)
        slugs[peer] = ev.slug
    build(out)
    return slugs


def test_report_renders_in_chromium(tmp_path: Path) -> None:
    out = tmp_path / "out"
    slugs = fixture_report(out, tmp_path)
    index = (out / "index.html").resolve().as_uri()
    dom = chromium("--dump-dom", index)
    assert '<table id="matrix"' in dom, dom[:2000]
    row = dom[dom.index("ios-site-to-site"):]
    assert row.index("cell-passed") < row.index("cell-failed")  # engine column, strongSwan
    page = (out / "scenarios" / f"{slugs['engine']}.html").resolve().as_uri()
    sdom = chromium("--dump-dom", page)
    assert 'class="ladder"' in sdom and sdom.count('class="pkt pkt-') == 10
    assert "Main Mode #1 [SA, VID]" in sdom and "decrypted: 10.0.0.1" in sdom
    assert 'class="topology"' in sdom and "Tunnel comes up." in sdom
    keep = ROOT / "reports" / "out" / "test-artifacts"
    keep.mkdir(parents=True, exist_ok=True)
    for name, url, size in (("index-desktop.png", index, "1280,1600"),
                            ("scenario-desktop.png", page, "1280,2400"),
                            ("scenario-phone.png", page, "390,1600")):
        shot = tmp_path / name
        chromium(f"--screenshot={shot}", f"--window-size={size}", url)
        assert shot.is_file() and shot.stat().st_size > 10_000, name
        shutil.copyfile(shot, keep / name)
