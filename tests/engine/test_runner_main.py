"""``python -m engine``: command line, config errors on stderr, clean SIGTERM exit."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.__main__ import build_parser, parse_hostport, parse_interfaces
from engine.control import request
from lab import nsexec

ROOT = Path(__file__).resolve().parents[2]


def test_parse_arguments() -> None:
    a = build_parser().parse_args([
        "--config", "r1.cfg", "--dialect", "ios", "--control", "/tmp/x.sock",
        "--interfaces", "GigabitEthernet0/0/0=eth0, GigabitEthernet0/0/1=eth1",
        "--log", "e.log", "--syslog", "10.0.0.9:514", "--clock-scale", "60", "--name", "r1"])
    assert a.interfaces == {"GigabitEthernet0/0/0": "eth0", "GigabitEthernet0/0/1": "eth1"}
    assert a.syslog == ("10.0.0.9", 514) and a.clock_scale == 60.0 and a.name == "r1"
    assert parse_hostport("[fd00::1]:514") == ("fd00::1", 514)
    with pytest.raises(argparse.ArgumentTypeError, match="DEVICE=IFNAME"):
        parse_interfaces("Gi0/0")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--config", "x", "--control", "y", "--clock-scale", "0"])


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_bad_config_line_reported_and_engine_runs(tmp_path: Path, scratch_netns: str) -> None:
    cfg = tmp_path / "r1.cfg"
    cfg.write_text("hostname r1\ncrypto isakmp policy 10\n encr aes\n hash shaX\n"
                   "crypto ipsec transform-set TS esp-aes esp-sha-hmac\nend\n")
    name = scratch_netns
    proc = None
    try:
        sock = tmp_path / "e.sock"
        proc = nsexec.popen_in(name, [
            sys.executable, "-m", "engine", "--config", str(cfg), "--control", str(sock),
            "--log", str(tmp_path / "engine.log"), "--name", "r1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(ROOT),
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "engine did not open its control socket"
            time.sleep(0.05)
        assert request(sock, "lab clock")["ok"]
        assert "TS" in request(sock, "show crypto ipsec transform-set")["output"]
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0
        text = err.decode()
        assert f"{cfg}:4:" in text and "% Invalid input detected at '^' marker." in text, text
        assert "^" in text.splitlines()[2] if len(text.splitlines()) > 2 else False
        assert not sock.exists()
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
