"""Shared helpers of the engine integration tests."""

from __future__ import annotations

import json
import os
import time
from typing import Any

TOPO = os.path.join(os.path.dirname(__file__), "topologies")


def topo(name: str) -> str:
    """Absolute path of a topology under tests/integration/topologies."""
    return os.path.join(TOPO, name)


def static_pair(spi_in: int, spi_out: int, local: str, peer: str, local_ts: str,
                remote_ts: str, *, encr: str = "aes128", integ: str = "hmac-sha1-96",
                key_seed: int = 1, ah: bool = False, mode: str = "tunnel",
                udp_encap: list[int] | None = None) -> dict[str, Any]:
    """JSON for ``lab sa-add`` (one side); the peer gets in/out swapped keys."""
    def k(spi: int, seed: int, proto: str = "esp") -> dict[str, Any]:
        if proto == "ah":
            return {"spi": spi + 1, "proto": "ah", "encr": None, "encr_key": "",
                    "integ": "hmac-md5-96", "integ_key": bytes([seed + 7] * 16).hex()}
        klen = {"aes128": 16, "aes256": 32, "3des": 24, "des": 8, "null": 0,
                "aes128gcm16": 20}[encr]
        ilen = {"hmac-sha1-96": 20, "hmac-md5-96": 16, "null": 0}[integ]
        return {"spi": spi, "proto": "esp", "encr": encr, "encr_key": bytes([seed] * klen).hex(),
                "integ": integ, "integ_key": bytes([seed + 1] * ilen).hex()}

    seed_in, seed_out = (key_seed, key_seed + 2) if spi_in < spi_out else (key_seed + 2, key_seed)
    inbound = [k(spi_in, seed_in)] + ([k(spi_in, seed_in, "ah")] if ah else [])
    outbound = [k(spi_out, seed_out)] + ([k(spi_out, seed_out, "ah")] if ah else [])
    return {"peer": peer, "local": local, "mode": mode, "local_ts": local_ts,
            "remote_ts": remote_ts, "inbound": inbound, "outbound": outbound,
            "crypto_map": "VPN", "crypto_map_seq": 10, "udp_encap": udp_encap}


def sa_add(lab: Any, node: str, pair: dict[str, Any]) -> None:
    lab.node(node).cli("lab sa-add " + json.dumps(pair))


def wait_for(pred, timeout: float, what: str, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll ``pred`` until truthy; AssertionError naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def iperf_server(node: Any, port: int, timeout: float = 5.0) -> Any:
    """Start a one-shot ``iperf3 -s`` on ``node`` and return it once it listens on ``port``."""
    srv = node.popen(["iperf3", "-s", "-1", "-p", str(port)])
    try:
        wait_for(lambda: node.exec(["ss", "-Hltn", f"sport = :{port}"]).stdout.strip(),
                 timeout, f"iperf3 listening on {node.name}:{port}", interval=0.05)
    except BaseException:
        srv.kill()
        srv.wait()
        raise
    return srv
