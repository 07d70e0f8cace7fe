"""Benchmark: bring-up + teardown of topologies/ten-nodes.yaml (aim: < 2 s together)."""

from __future__ import annotations

import time
from pathlib import Path

from lab import Lab
from lab.schema import load_topology

TEN = Path(__file__).resolve().parents[2] / "topologies" / "ten-nodes.yaml"


def test_ten_nodes_up_down(benchmark, tmp_path: Path) -> None:
    topo = load_topology(TEN)
    phases: dict[str, list[float]] = {"up": [], "down": []}

    def cycle() -> None:
        t0 = time.perf_counter()
        lab = Lab.start(topo, workdir=tmp_path / f"r{len(phases['up'])}")
        t1 = time.perf_counter()
        lab.down()
        phases["up"].append(t1 - t0)
        phases["down"].append(time.perf_counter() - t1)

    benchmark.pedantic(cycle, rounds=5, iterations=1, warmup_rounds=1)
    up = sorted(phases["up"])[len(phases["up"]) // 2]
    down = sorted(phases["down"])[len(phases["down"]) // 2]
    print(f"\nten-nodes.yaml: bring-up {up * 1000:.0f} ms + teardown {down * 1000:.0f} ms "
          f"(median of {len(phases['up'])})")
