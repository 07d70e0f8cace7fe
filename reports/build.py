"""Build the HTML conformance report and results.json from a run's evidence.

Inputs (all under the output directory, default ``reports/out``):
``evidence/*.json`` (one per test, :mod:`reports.evidence`), ``collected/*.json``
(what each worker collected), ``collect-errors/*.json``, ``junit.xml``, and
``run.json`` (run metadata written by :mod:`reports.run`). Any of them may be
missing: a partial run still yields a valid report that lists what did not run.

Usage: ``python -m reports.build [OUT_DIR]``.
"""

from __future__ import annotations

import json
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

import jinja2
import yaml

from reports.evidence import out_dir, slug
from reports.scenario import PEER_TITLES, PEERS, ROOT, Scenario
from reports.svg import ladder_svg, topology_svg

TEMPLATES = Path(__file__).parent / "templates"
OUTCOMES = ("passed", "failed", "error", "skipped")


def _load_json_dir(d: Path) -> list[Any]:
    out = []
    for p in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            out.append(json.loads(p.read_text()))
        except (OSError, ValueError) as exc:
            out.append({"_bad_file": str(p), "_error": str(exc)})
    return out


def _junit(path: Path) -> dict[str, dict[str, str]]:
    """nodeid-ish → {outcome, message} from a JUnit XML file (best effort)."""
    res: dict[str, dict[str, str]] = {}
    if not path.is_file():
        return res
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return res
    for tc in root.iter("testcase"):
        cls, name = tc.get("classname", ""), tc.get("name", "")
        outcome, msg = "passed", ""
        for tag, oc in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            el = tc.find(tag)
            if el is not None:
                outcome, msg = oc, el.get("message", "") or (el.text or "")[:500]
                break
        parts = cls.split(".")
        for i in range(len(parts), 0, -1):  # module path, then class names
            mod = "/".join(parts[:i]) + ".py"
            if (ROOT / mod).is_file():
                nodeid = "::".join([mod, *parts[i:], name])
                res[nodeid] = {"outcome": outcome, "message": msg}
                break
    return res


def _result(ev: dict[str, Any]) -> dict[str, Any]:
    scn = ev.get("scenario") or {}
    checks = [{"name": i["name"], "outcome": i["outcome"], "observed": i["observed"],
               "expected": i["expected"]} for i in ev.get("items", []) if i["kind"] == "check"]
    reason = ev.get("reason", "")
    failed = [c["name"] for c in checks if c["outcome"] == "failed"]
    if failed and "ChecksFailed" in reason:
        reason = "failed checks: " + "; ".join(failed)
    return {"id": ev["nodeid"], "slug": ev.get("slug") or slug(ev["nodeid"]),
            "seed": scn.get("seed"), "lines": scn.get("lines"), "section": scn.get("section"),
            "claim": scn.get("claim"), "feature": scn.get("feature"),
            "chapter": scn.get("chapter", ""), "peer": ev.get("peer") or "engine",
            "outcome": ev.get("outcome", "error"), "reason": reason,
            "duration_s": ev.get("duration_s"), "ran": True, "checks": checks}


def collect(out: Path) -> dict[str, Any]:
    """Merge every input into one model (results, errors, planned-but-missing)."""
    meta = {}
    if (out / "run.json").is_file():
        meta = json.loads((out / "run.json").read_text())
    run_id = meta.get("run_id")

    def ours(d: Any) -> bool:  # skip files a concurrent run left in the same directory
        return not run_id or not isinstance(d, dict) or d.get("run_id") == run_id

    evidence = [e for e in _load_json_dir(out / "evidence") if "nodeid" in e and ours(e)]
    by_id = {e["nodeid"]: e for e in evidence}
    planned: dict[str, dict[str, Any]] = {}
    for rows in _load_json_dir(out / "collected"):
        for row in rows if isinstance(rows, list) else []:
            if ours(row):
                planned.setdefault(row["nodeid"], row)
    junit = _junit(out / "junit.xml")
    results = [_result(e) for e in evidence]
    for nodeid, row in planned.items():
        if nodeid in by_id:
            continue
        jr = junit.get(nodeid)
        why = (f"no evidence recorded; JUnit says {jr['outcome']}: {jr['message']}" if jr
               else "did not run: no result recorded (run interrupted, worker crashed, "
                    "or deselected)")
        stub = {"nodeid": nodeid, "slug": row["slug"], "scenario": row["scenario"],
                "peer": row["peer"], "outcome": (jr or {}).get("outcome", "error"),
                "reason": why, "items": []}
        evidence.append(stub)
        r = _result(stub)
        r["ran"] = False
        results.append(r)
    for err in _load_json_dir(out / "collect-errors"):
        if "nodeid" not in err or not ours(err):
            continue
        results.append({"id": err["nodeid"], "slug": slug(err["nodeid"]), "seed": None,
                        "lines": None, "section": None, "claim": None, "feature": None,
                        "chapter": "", "peer": None, "outcome": "error",
                        "reason": "collection failed: " + err["error"].strip().splitlines()[-1],
                        "duration_s": None, "ran": False, "checks": [],
                        "collect_error": err["error"]})
    results.sort(key=lambda r: (r["seed"] or "~", r["lines"] or "", r["id"]))
    return {"results": results, "evidence": {e["nodeid"]: e for e in evidence}, "meta": meta}


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts overall, per seed → section, and the feature × peer matrix."""
    total = {o: 0 for o in OUTCOMES}
    per: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {o: 0 for o in OUTCOMES})
    matrix: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        total[r["outcome"]] = total.get(r["outcome"], 0) + 1
        key = (r["seed"] or "(collection errors)", r["section"] or "")
        per[key][r["outcome"]] += 1
        if r["feature"]:
            matrix[r["feature"]][r["peer"] or "engine"].append(r)
    cells = {}
    for feat, cols in matrix.items():
        cells[feat] = {}
        for peer in PEERS:
            rs = cols.get(peer, [])
            if not rs:
                cells[feat][peer] = {"outcome": "n/a", "results": []}
                continue
            outs = {x["outcome"] for x in rs}
            agg = next((o for o in ("error", "failed", "passed", "skipped") if o in outs),
                       "skipped")
            if agg == "passed" and "failed" not in outs and "error" not in outs:
                agg = "passed"
            cells[feat][peer] = {"outcome": agg, "results": rs,
                                 "passed": sum(x["outcome"] == "passed" for x in rs)}
    return {"total": total, "count": len(results),
            "per_section": [{"seed": k[0], "section": k[1], **v} for k, v in sorted(per.items())],
            "matrix": dict(sorted(cells.items())), "peers": PEERS, "peer_titles": PEER_TITLES}


def _topology_for(ev: dict[str, Any]) -> tuple[str, str]:
    """(path, svg) of the topology the scenario recorded, else its metadata's."""
    path = ""
    for item in ev.get("items", []):
        if item["kind"] == "topology":
            path = item["path"]
    if not path:
        path = (ev.get("scenario") or {}).get("topology") or ""
    if not path:
        return "", ""
    try:
        topo = yaml.safe_load((ROOT / path).read_text()) or {}
        return path, topology_svg(topo)
    except Exception as exc:
        return path, f'<p class="bad">topology {path} not drawable: {exc}</p>'


def _excerpt(scn: dict[str, Any]) -> list[tuple[int, str]]:
    try:
        first, last = (int(x) for x in str(scn["lines"]).split("-"))
        s = Scenario(seed=scn["seed"], lines=(first, last), section=scn["section"],
                     claim=scn["claim"], feature=scn["feature"])
        return s.excerpt(limit=120)
    except Exception:
        return []


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["ladder_svg"] = ladder_svg
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=1, ensure_ascii=False,
                                                        default=repr)
    return env


def _group_steps(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [{"title": "(before the first step)", "items": [],
                                    "outcome": "done", "index": -1}]
    for it in items:
        if it["kind"] == "step":
            steps.append({**it, "items": []})
        elif it["kind"] not in ("topology", "config"):
            steps[-1]["items"].append(it)
    return [s for s in steps if s["index"] >= 0 or s["items"]]


def build(out: Path | None = None) -> dict[str, Any]:
    """Write index.html, one page per scenario run, and results.json; return stats."""
    t0 = time.monotonic()
    out = out or out_dir()
    out.mkdir(parents=True, exist_ok=True)
    model = collect(out)
    results, meta = model["results"], model["meta"]
    summary = summarize(results)
    env = _env()
    (out / "scenarios").mkdir(exist_ok=True)
    page = env.get_template("scenario.html.j2")
    for r in results:
        ev = model["evidence"].get(r["id"], {"items": [], "scenario": None})
        topo_path, topo_svg = _topology_for(ev)
        items = ev.get("items", [])
        html = page.render(
            r=r, ev=ev, scn=ev.get("scenario") or {}, excerpt=_excerpt(ev.get("scenario") or {}),
            topo_path=topo_path, topo_svg=topo_svg, steps=_group_steps(items),
            checks=[i for i in items if i["kind"] == "check"],
            configs=[i for i in items if i["kind"] == "config"],
            attachments=[i for i in items if i["kind"] == "attach"],
            longrepr=ev.get("longrepr", "") or r.get("collect_error", ""),
            peer_titles=PEER_TITLES, up="../")
        (out / "scenarios" / f"{r['slug']}.html").write_text(html)
    public = [{k: v for k, v in r.items() if k not in ("collect_error",)} for r in results]
    (out / "results.json").write_text(json.dumps(
        {"meta": meta, "summary": {"count": summary["count"], **summary["total"]},
         "results": public}, indent=1, ensure_ascii=False, default=repr))
    build_s = round(time.monotonic() - t0, 3)
    (out / "index.html").write_text(env.get_template("index.html.j2").render(
        results=results, summary=summary, meta=meta, build_s=build_s, up=""))
    return {"count": summary["count"], **summary["total"],
            "build_s": round(time.monotonic() - t0, 3)}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else None
    stats = build(out)
    print(f"report: {(out or out_dir()) / 'index.html'} ({stats})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
