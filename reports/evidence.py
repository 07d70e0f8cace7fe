"""Evidence recorder: what a scenario did and saw, one JSON file per test.

Checks observe, actions abort (topotato): :meth:`Evidence.check` records a
named observation and never raises; the pytest plugin fails the test at the
end if any check failed. An exception inside :meth:`Evidence.step` marks that
step aborted and propagates, so the rest of the scenario does not run.

Files (xdist-safe, one per test id) under ``<out>/evidence/``; artefacts such
as pcaps and logs are copied under ``<out>/artifacts/<slug>/`` at once, since
the lab removes its run directory at teardown.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.scenario import ROOT

OUT_ENV = "LAB_REPORT_OUT"
MAX_TEXT = 200_000  # characters kept of one show output / log


def out_dir() -> Path:
    """Report output directory (``LAB_REPORT_OUT`` or ``reports/out``)."""
    env = os.environ.get(OUT_ENV)
    return Path(env) if env else ROOT / "reports" / "out"


def slug(nodeid: str) -> str:
    """File-system-safe, unique, bounded name for a pytest node id."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.replace("::", "__")).strip("_")
    digest = hashlib.sha1(nodeid.encode()).hexdigest()[:8]
    return f"{base[-80:]}-{digest}"


def _jsonable(value: Any) -> Any:
    """Best-effort conversion of observed values to JSON (repr as last resort)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return {k: _jsonable(getattr(value, k)) for k in value.__dataclass_fields__}
    return repr(value)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "\n[... clipped ...]"


def _node_name(node: Any) -> str:
    return str(getattr(node, "name", node))


@dataclass
class Evidence:
    """Per-test evidence record (the ``ev`` fixture)."""

    nodeid: str
    scenario: dict[str, Any] | None = None
    peer: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    root: Path = field(default_factory=out_dir)
    _step: int = -1

    # -- paths -----------------------------------------------------------
    @property
    def slug(self) -> str:
        return slug(self.nodeid)

    @property
    def artifacts(self) -> Path:
        path = self.root / "artifacts" / self.slug
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _rel(self, path: Path) -> str:
        return os.path.relpath(path, self.root)

    def _add(self, kind: str, **data: Any) -> dict[str, Any]:
        item = {"kind": kind, "t": round(time.time() - self.started, 3), "step": self._step,
                **data}
        self.items.append(item)
        return item

    # -- actions and checks ---------------------------------------------
    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """An action (configure, send traffic, break something); aborts on error."""
        self._step += 1
        item = self._add("step", title=title, outcome="running", index=self._step)
        t0 = time.monotonic()
        try:
            yield
        except BaseException as exc:
            item["outcome"] = "aborted"
            item["error"] = f"{type(exc).__name__}: {exc}"[:4000]
            raise
        else:
            item["outcome"] = "done"
        finally:
            item["duration_s"] = round(time.monotonic() - t0, 3)

    def check(self, name: str, observed: Any, expected: Any, ok: bool | None = None,
              how: str = "") -> bool:
        """Record a named check; ``ok`` defaults to ``observed == expected``. Never raises."""
        passed = bool(observed == expected) if ok is None else bool(ok)
        self._add("check", name=name, observed=_jsonable(observed),
                  expected=_jsonable(expected), outcome="passed" if passed else "failed",
                  how=how)
        return passed

    def wait_for(self, name: str, probe: Callable[[], Any], predicate: Callable[[Any], bool],
                 expected: Any, within: float = 10.0, interval: float = 0.2) -> bool:
        """Poll ``probe`` until ``predicate`` holds or ``within`` seconds pass; record a check."""
        deadline = time.monotonic() + within
        observed: Any = None
        while True:
            try:
                observed = probe()
                if predicate(observed):
                    return self.check(name, observed, expected, ok=True,
                                      how=f"within {within:g} s")
            except Exception as exc:  # an observation that cannot be made is a failed check
                observed = f"{type(exc).__name__}: {exc}"
            if time.monotonic() >= deadline:
                return self.check(name, observed, expected, ok=False,
                                  how=f"not met within {within:g} s")
            time.sleep(interval)

    @property
    def failed_checks(self) -> list[dict[str, Any]]:
        return [i for i in self.items if i["kind"] == "check" and i["outcome"] == "failed"]

    # -- observations ----------------------------------------------------
    def show(self, node: Any, cmd: str, label: str = "") -> str:
        """Run a device command on ``node`` (``node.cli``) and record its output."""
        try:
            out = node.cli(cmd)
            error = ""
        except Exception as exc:
            out, error = "", f"{type(exc).__name__}: {exc}"
        text = out if isinstance(out, str) else json.dumps(out, indent=1, default=repr)
        self._add("show", node=_node_name(node), cmd=cmd, label=label, output=_clip(text),
                  error=error)
        return text

    def exec(self, node: Any, argv: list[str], label: str = "") -> str:
        """Run a shell command inside ``node`` (``node.exec(check=False)``) and record it."""
        try:
            res = node.exec(argv, check=False)
            out = getattr(res, "stdout", None)
            if out is None and isinstance(res, tuple):
                out = "\n".join(str(x) for x in res[1:])
            rc = getattr(res, "returncode", res[0] if isinstance(res, tuple) else 0)
            error = "" if rc == 0 else f"exit status {rc}"
        except Exception as exc:
            out, error = "", f"{type(exc).__name__}: {exc}"
        self._add("show", node=_node_name(node), cmd=" ".join(argv), label=label,
                  output=_clip(str(out or "")), error=error)
        return str(out or "")

    def counters(self, name: str, before: dict[str, Any], after: dict[str, Any]) -> dict:
        """Record counters before/after and their deltas (numeric keys only)."""
        delta = {k: after[k] - before.get(k, 0) for k in after
                 if isinstance(after[k], (int, float)) and not isinstance(after[k], bool)}
        self._add("counters", name=name, before=_jsonable(before), after=_jsonable(after),
                  delta=delta)
        return delta

    def config(self, node: str, path: str | Path, label: str = "") -> None:
        """Record a configuration file as loaded (text inline, file copied)."""
        path = Path(path)
        try:
            text = path.read_text(errors="replace")
        except OSError as exc:
            text = f"[cannot read {path}: {exc}]"
        rel = ROOT in path.resolve().parents and str(path.resolve().relative_to(ROOT)) or str(path)
        self._add("config", node=node, path=rel, label=label, text=_clip(text))

    def attach(self, path: str | Path, label: str = "", kind: str = "file") -> str | None:
        """Copy a file under the artefacts directory; record a link. None if missing."""
        src = Path(path)
        if not src.is_file():
            self._add("note", text=f"{label or src.name}: {src} not found")
            return None
        dst = self.artifacts / src.name
        n = 1
        while dst.exists():
            dst = self.artifacts / f"{src.stem}-{n}{src.suffix}"
            n += 1
        shutil.copyfile(src, dst)
        rel = self._rel(dst)
        self._add("attach", label=label or src.name, href=rel, file_kind=kind,
                  size=dst.stat().st_size)
        return rel

    def log(self, node: Any, path: str | Path | None = None, tail: int = 400) -> None:
        """Attach a node's daemon log (``node.log_path`` unless ``path``) with its tail inline."""
        p = Path(path) if path else getattr(node, "log_path", None)
        if p is None:
            self._add("note", text=f"{_node_name(node)}: no log file known")
            return
        p = Path(p)
        rel = self.attach(p, label=f"{_node_name(node)} log", kind="log")
        if rel is None:
            return
        lines = p.read_text(errors="replace").splitlines()[-tail:]
        self._add("log", node=_node_name(node), href=rel, text=_clip("\n".join(lines)))

    def note(self, text: str) -> None:
        self._add("note", text=text)

    def topology(self, path: str | Path) -> None:
        """Record the topology YAML this run used (drawn on the scenario page)."""
        p = Path(path).resolve()
        self._add("topology", path=str(p.relative_to(ROOT)) if ROOT in p.parents else str(p))

    @contextmanager
    def capture(self, lab: Any, where: str, keys_from: tuple[str, ...] = (),
                names: dict[str, str] | None = None, **kw: Any) -> Iterator[Any]:
        """Wrap ``lab.capture(where)``; store the pcap and its decoded ladder.

        ``keys_from`` names engine nodes whose exported SA keys (``lab keys``)
        decrypt ESP in the ladder. ``names`` maps addresses to node names
        (default: from ``lab.addresses()`` if the lab offers it).
        """
        from reports.ladder import decode_pcap  # scapy import is slow; only when used

        cap = None
        try:
            with lab.capture(where, **kw) as cap:
                try:
                    yield cap
                finally:
                    _settle(cap)
        finally:
            pcap = getattr(cap, "pcap", None) if cap is not None else None
            keys = self._keys(lab, keys_from)
            names = names if names is not None else _lab_names(lab)
            rel = self.attach(pcap, label=f"capture {where}", kind="pcap") if pcap else None
            ladder: dict[str, Any] = {"events": [], "lanes": [], "error": ""}
            if rel:
                try:
                    ladder = decode_pcap(self.root / rel, keys=keys, names=names)
                except Exception as exc:  # decoding never kills the record
                    ladder["error"] = f"{type(exc).__name__}: {exc}"
            self._add("capture", where=where, href=rel, ladder=ladder,
                      keys=len(keys), packets=len(ladder.get("events", [])))

    def last_ladder(self, where: str | None = None) -> dict[str, Any]:
        """Decoded ladder of the latest capture (on ``where`` if given); empty if none."""
        for item in reversed(self.items):
            if item["kind"] == "capture" and (where is None or item["where"] == where):
                return item["ladder"]
        return {"events": [], "lanes": [], "error": "no capture recorded"}

    @staticmethod
    def _keys(lab: Any, nodes: tuple[str, ...]) -> list[dict[str, Any]]:
        """Exported SA keys: ``lab keys`` of engine nodes, ``keys`` of strongSwan nodes."""
        keys: list[dict[str, Any]] = []
        for name in nodes:
            try:
                node = lab.node(name)
                cmd = "keys" if getattr(node, "kind", "") == "strongswan" else "lab keys"
                data = node.cli(cmd, json=True)
            except Exception:
                continue
            if isinstance(data, list):
                keys.extend(d for d in data if isinstance(d, dict))
        return keys

    @contextmanager
    def collecting(self, lab: Any, nodes: tuple[str, ...] = (),
                   shows: tuple[str, ...] = ("show crypto isakmp sa", "show crypto ipsec sa",
                                             "show crypto session")) -> Iterator[Any]:
        """Save final state of ``nodes`` (show output, logs) when the block ends, pass or fail."""
        try:
            yield lab
        finally:
            for name in nodes:
                try:
                    node = lab.node(name)
                except Exception as exc:
                    self.note(f"final state of {name}: {exc}")
                    continue
                for cmd in shows:
                    self.show(node, cmd, label="final state")
                self.log(node)

    # -- persistence -----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"nodeid": self.nodeid, "slug": self.slug, "scenario": self.scenario,
                "peer": self.peer, "started": self.started, "items": self.items}

    def save(self, **extra: Any) -> Path:
        """Write ``<out>/evidence/<slug>.json`` atomically."""
        d = self.root / "evidence"
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"{self.slug}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**self.to_dict(), **extra}, indent=1, default=repr))
        tmp.replace(path)
        return path


def _settle(cap: Any, quiet: float = 0.3, limit: float = 2.0) -> None:
    """Let in-flight packets reach the capture: wait until none arrived for ``quiet`` s."""
    raw = getattr(cap, "raw", None)
    if raw is None:
        return
    deadline = time.monotonic() + limit
    seen, last = len(raw), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if len(raw) != seen:
            seen, last = len(raw), time.monotonic()
        elif time.monotonic() - last >= quiet:
            return


def _lab_names(lab: Any) -> dict[str, str]:
    """Address → node name map from the lab, if it exposes one."""
    for attr in ("address_names", "addresses"):
        fn = getattr(lab, attr, None)
        if callable(fn):
            try:
                res = fn()
                if isinstance(res, dict):
                    return {str(k): str(v) for k, v in res.items()}
            except Exception:
                pass
    names: dict[str, str] = {}
    topo = getattr(lab, "topo", None)
    for node in getattr(topo, "nodes", None) or {}:
        try:
            for a in topo.addresses(node):
                names.setdefault(str(a).split("/")[0], str(node))
        except Exception:
            continue
    return names
