"""AR570S SPD enforcement: nftables rendering and loading in a namespace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.config.ar_derive import spd_rules
from engine.dataplane.spd import TABLE, Spd, render
from engine.runner import load_config
from lab import nsexec

ROOT = Path(__file__).resolve().parents[2]
CFG = ROOT / "tests" / "engine" / "configs" / "ar" / "e1_isakmp_router_a.cfg"


def _config():
    config, errors = load_config(CFG, "ar", {"ppp0": "eth0"})
    assert not errors
    return config


def test_render_order_and_verdicts() -> None:
    config = _config()
    text = render(spd_rules(config), {"ppp0": "eth0"}, 0x1F5EC)
    out = text.split("chain output")[1].split("}")[0].splitlines()
    body = [line.strip() for line in out if "oifname" in line]
    assert body[0].startswith('oifname "eth0" meta l4proto 17 th sport 500 th dport 500 accept')
    assert body[-1] == 'oifname "eth0" drop comment "implicit deny"'
    assert "meta mark 0x1f5ec accept" in text  # the engine's own IKE/ESP pass
    assert 'iifname "eth0" ip saddr 2.2.2.2/32 meta l4proto 50 accept' in text


def test_ios_config_loads_nothing() -> None:
    from engine.config.model import Config

    assert Spd(1).apply(Config(dialect="ios")) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_load_and_remove_in_namespace(scratch_netns: str) -> None:
    name = scratch_netns
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from pathlib import Path\n"
        "from engine.runner import load_config\n"
        "from engine.dataplane.spd import Spd\n"
        "c, _ = load_config(Path(%r), 'ar', {'ppp0': 'eth0'})\n"
        "s = Spd(0x1F5EC)\n"
        "assert s.apply(c) is None, 'nft failed'\n"
        "import subprocess\n"
        "print(subprocess.run(['nft', 'list', 'table', 'ip', %r], capture_output=True,"
        " text=True).stdout)\n"
        "s.remove()\n"
        "r = subprocess.run(['nft', 'list', 'table', 'ip', %r], capture_output=True)\n"
        "print('GONE' if r.returncode else 'STILL')\n"
    ) % (str(ROOT), str(CFG), TABLE, TABLE)
    r = nsexec.run_in(name, [__import__("sys").executable, "-c", script], node="spd",
                      timeout=30)
    assert 'implicit deny' in r.stdout and r.stdout.strip().endswith("GONE"), r.stdout

