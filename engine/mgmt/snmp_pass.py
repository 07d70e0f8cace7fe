"""net-snmp ``pass_persist`` handler serving the engine's MIB snapshot (snmpd.conf(5)).

``pass_persist .1.3.6.1.4.1.9.9.171 <this program> SNAPSHOT``: snmpd writes
``PING`` / ``get``+OID / ``getnext``+OID / ``set``+OID+value lines on stdin;
we answer ``PONG`` / OID, type, value (three lines) / ``NONE`` /
``not-writable``. The snapshot is the JSON file the engine's management plane
rewrites (``engine/mgmt/snmp.py``); it is re-read when its mtime changes.
"""

from __future__ import annotations

import bisect
import json
import os
import sys
from typing import IO


def _key(oid: str) -> tuple[int, ...]:
    return tuple(int(x) for x in oid.strip().strip(".").split(".") if x != "")


class Snapshot:
    def __init__(self, path: str) -> None:
        self.path = path
        self.mtime = -1.0
        self.keys: list[tuple[int, ...]] = []
        self.values: dict[tuple[int, ...], tuple[str, object]] = {}

    def load(self) -> None:
        try:
            mtime = os.stat(self.path).st_mtime
        except OSError:
            self.keys, self.values, self.mtime = [], {}, -1.0
            return
        if mtime == self.mtime:
            return
        try:
            with open(self.path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            return  # being replaced: keep the previous view
        self.values = {_key(k): (v[0], v[1]) for k, v in data.get("objects", {}).items()}
        self.keys = sorted(self.values)
        self.mtime = mtime

    def get(self, oid: tuple[int, ...]) -> tuple[tuple[int, ...], str, object] | None:
        v = self.values.get(oid)
        return (oid, *v) if v is not None else None

    def getnext(self, oid: tuple[int, ...]) -> tuple[tuple[int, ...], str, object] | None:
        i = bisect.bisect_right(self.keys, oid)
        if i >= len(self.keys):
            return None
        k = self.keys[i]
        return (k, *self.values[k])


def serve(snapshot: Snapshot, inp: IO[str], out: IO[str]) -> None:
    while True:
        line = inp.readline()
        if not line:
            return
        cmd = line.strip().lower()
        if cmd == "ping":
            out.write("PONG\n")
        elif cmd in ("get", "getnext"):
            oid = _key(inp.readline())
            snapshot.load()
            hit = snapshot.get(oid) if cmd == "get" else snapshot.getnext(oid)
            if hit is None:
                out.write("NONE\n")
            else:
                k, typ, val = hit
                out.write("." + ".".join(map(str, k)) + f"\n{typ}\n{val}\n")
        elif cmd == "set":
            inp.readline()
            inp.readline()
            out.write("not-writable\n")
        elif cmd == "":
            continue
        else:
            out.write("NONE\n")
        out.flush()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m engine.mgmt.snmp_pass SNAPSHOT.json\n")
        return 2
    serve(Snapshot(args[0]), sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
