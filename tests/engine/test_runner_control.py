"""Control socket server/client and the scaled clock (no namespaces needed)."""

from __future__ import annotations

import selectors
import threading
import time
from pathlib import Path

import pytest

from engine.clock import Clock
from engine.control import ControlError, ControlServer, request


def _serve(path: Path, handler, stop: threading.Event) -> threading.Thread:
    sel = selectors.DefaultSelector()
    server = ControlServer(path, handler, sel)

    def loop() -> None:
        try:
            while not stop.is_set():
                for key, mask in sel.select(0.05):
                    key.data(mask)
        finally:
            server.close()
            sel.close()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


def test_request_roundtrip(tmp_path: Path) -> None:
    seen = []

    def handler(cmd: str, want_json: bool) -> dict:
        seen.append((cmd, want_json))
        if cmd == "boom":
            raise RuntimeError("kaputt")
        return {"ok": True, "output": f"echo {cmd}", "data": {"j": want_json}}

    stop = threading.Event()
    sock = tmp_path / "ctl.sock"
    t = _serve(sock, handler, stop)
    try:
        assert request(sock, "show crypto map") == {
            "ok": True, "output": "echo show crypto map", "data": {"j": False}}
        assert request(sock, "lab keys", json=True)["data"] == {"j": True}
        bad = request(sock, "boom")
        assert bad["ok"] is False and "kaputt" in bad["error"]
        # engine survives a bad request and keeps answering
        assert request(sock, "x")["ok"]
    finally:
        stop.set()
        t.join(2)
    assert not sock.exists()
    assert seen[0] == ("show crypto map", False)


def test_request_missing_socket(tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="nope.sock"):
        request(tmp_path / "nope.sock", "show crypto map", timeout=0.5)


def test_clock_scale() -> None:
    c = Clock(scale=100.0)
    r0 = time.monotonic()
    t0 = c.now()
    time.sleep(0.05)
    t1 = c.now()
    real = time.monotonic() - r0  # bounds t1 - t0 from above, however loaded the box is
    assert 100.0 * 0.05 - 1e-6 <= t1 - t0 <= 100.0 * real + 1e-6
    assert c.to_real_delay(100.0) == pytest.approx(1.0)
    deadline = c.now() + 5.0  # 5 protocol s = 50 ms real
    start = time.monotonic()
    c.sleep_until(deadline)
    assert c.now() >= deadline
    assert time.monotonic() - start < 2.0  # at scale 1 it would take 5 s
    with pytest.raises(ValueError):
        Clock(scale=0)


def test_long_socket_path(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    sock = deep / "engine.sock"
    assert len(str(sock)) > 108
    stop = threading.Event()
    t = _serve(sock, lambda c, j: {"ok": True, "output": c, "data": None}, stop)
    try:
        assert request(sock, "lab clock")["output"] == "lab clock"
    finally:
        stop.set()
        t.join(2)
