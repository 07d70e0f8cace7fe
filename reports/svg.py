"""Inline SVG pictures for the report: topology diagram and packet ladder.

Plain string building with escaping; no layout engine. The topology is laid
out in columns by hop distance from the first node; the ladder is a sequence
diagram with one lane per address.
"""

from __future__ import annotations

from collections import deque
from html import escape
from typing import Any

KIND_FILL = {"host": "#e8f1fb", "router": "#eeeeee", "nat": "#fff3d6", "engine": "#e3f6e6",
             "strongswan": "#f3e6f8", "segment": "#ffffff"}
CLS_COLOR = {"ike": "#1f6feb", "esp": "#1a7f37", "ah": "#8250df", "icmp": "#9a6700",
             "natt": "#6e7781", "other": "#57606a", "raw": "#cf222e"}


def _t(x: float, y: float, text: str, size: int = 12, anchor: str = "middle",
       cls: str = "", fill: str = "#1f2328") -> str:
    c = f' class="{cls}"' if cls else ""
    return (f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{fill}"{c}>{escape(text)}</text>')


def topology_svg(topo: dict[str, Any]) -> str:
    """SVG of a topology YAML mapping (nodes, links, segments)."""
    nodes: dict[str, dict] = dict(topo.get("nodes") or {})
    links: list[dict] = list(topo.get("links") or [])
    segments = topo.get("segments") or {}
    edges: list[tuple[str, str, str, str]] = []  # (a, b, a label, b label)
    for link in links:
        a, b = str(link.get("a", "?:")), str(link.get("b", "?:"))
        an, ai = (a.split(":", 1) + [""])[:2]
        bn, bi = (b.split(":", 1) + [""])[:2]
        edges.append((an, bn, f"{ai} {_addr(link.get('a_addr'))}".strip(),
                      f"{bi} {_addr(link.get('b_addr'))}".strip()))
    seg_items = segments.items() if isinstance(segments, dict) else (
        (s.get("name", f"seg{i}"), s) for i, s in enumerate(segments))
    for name, seg in seg_items:
        nodes.setdefault(str(name), {"kind": "segment"})
        for member in (seg or {}).get("members", seg.get("ports", []) if seg else []) or []:
            m = member if isinstance(member, str) else str(
                member.get("iface") or member.get("port") or "?:")
            mn, mi = (m.split(":", 1) + [""])[:2]
            addr = member.get("addr", "") if isinstance(member, dict) else ""
            edges.append((mn, str(name), f"{mi} {_addr(addr)}".strip(), ""))
    for a, b, _, _ in edges:
        for n in (a, b):
            nodes.setdefault(n, {"kind": "?"})
    if not nodes:
        return ""
    # columns by BFS distance from the first node of each component
    adj: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b, _, _ in edges:
        adj[a].append(b)
        adj[b].append(a)
    col: dict[str, int] = {}
    for start in nodes:
        if start in col:
            continue
        base = max(col.values(), default=-1) + 1
        col[start] = base
        q = deque([start])
        while q:
            n = q.popleft()
            for m in adj[n]:
                if m not in col:
                    col[m] = col[n] + 1
                    q.append(m)
    rows: dict[int, list[str]] = {}
    for n in nodes:
        rows.setdefault(col[n], []).append(n)
    bw, bh, gx, gy = 120, 46, 260, 110
    pos: dict[str, tuple[float, float]] = {}
    maxrows = max(len(v) for v in rows.values())
    for c, names in rows.items():
        off = (maxrows - len(names)) * gy / 2
        for r, n in enumerate(names):
            pos[n] = (70 + c * gx + bw / 2, 40 + off + r * gy + bh / 2)
    width = 140 + (max(rows) + 1) * gx - (gx - bw)
    height = 80 + maxrows * gy - (gy - bh)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="topology" role="img" '
           f'aria-label="topology diagram" viewBox="0 0 {width:.0f} {height:.0f}" '
           f'width="{width:.0f}" height="{height:.0f}" font-family="sans-serif">']
    for a, b, la, lb in edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        out.append(f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" '
                   'stroke="#57606a" stroke-width="2"/>')
        for (sx, sy), (tx, ty), lab in (((x1, y1), (x2, y2), la), ((x2, y2), (x1, y1), lb)):
            if lab:
                lx, ly = sx + (tx - sx) * 0.3, sy + (ty - sy) * 0.3 - 6
                out.append(_t(lx, ly, lab, 10, cls="addr", fill="#0b3d91"))
    for n, (x, y) in pos.items():
        kind = str((nodes.get(n) or {}).get("kind", "?"))
        fill = KIND_FILL.get(kind, "#ffffff")
        dash = ' stroke-dasharray="6 3"' if kind == "nat" else ""
        if kind == "segment":
            out.append(f'<ellipse cx="{x:.0f}" cy="{y:.0f}" rx="{bw / 2 - 10}" ry="{bh / 2 - 8}" '
                       'fill="#fff" stroke="#57606a"/>')
        else:
            out.append(f'<rect x="{x - bw / 2:.0f}" y="{y - bh / 2:.0f}" width="{bw}" '
                       f'height="{bh}" rx="6" fill="{fill}" stroke="#1f2328"{dash}/>')
        out.append(_t(x, y - 3, n, 13, cls="node"))
        out.append(_t(x, y + 13, "NAT/PAT" if kind == "nat" else kind, 10, fill="#57606a"))
    out.append("</svg>")
    return "\n".join(out)


def _addr(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value or "")


def ladder_svg(ladder: dict[str, Any]) -> str:
    """Sequence diagram of decoded packets (see :func:`reports.ladder.decode_pcap`)."""
    lanes: list[str] = ladder.get("lanes") or []
    events: list[dict[str, Any]] = ladder.get("events") or []
    if not lanes or not events:
        return ""
    names = ladder.get("names") or {}
    lw, left, top, rowh = 340, 90, 56, 34
    x = {a: left + i * lw + lw / 2 for i, a in enumerate(lanes)}
    width = left + len(lanes) * lw + 10
    height = top + len(events) * rowh + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="ladder" role="img" '
           f'aria-label="packet ladder" viewBox="0 0 {width:.0f} {height:.0f}" '
           f'width="{width:.0f}" height="{height:.0f}" font-family="sans-serif">',
           '<defs>' + "".join(
               f'<marker id="ah-{c}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
               f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" '
               f'fill="{col}"/></marker>' for c, col in CLS_COLOR.items()) + '</defs>']
    for a in lanes:
        out.append(_t(x[a], 18, names.get(a, ""), 13, cls="lane-name"))
        out.append(_t(x[a], 34, a, 11, fill="#57606a", cls="lane-addr"))
        out.append(f'<line x1="{x[a]:.0f}" y1="{top - 14}" x2="{x[a]:.0f}" y2="{height - 10}" '
                   'stroke="#d0d7de" stroke-width="2"/>')
    out.append(_t(8, 34, "t (ms)", 11, anchor="start", fill="#57606a"))
    for i, ev in enumerate(events):
        y = top + i * rowh + 18
        cls = ev.get("cls", "other")
        color = CLS_COLOR.get(cls, "#57606a")
        x1, x2 = x.get(ev["src"], left), x.get(ev["dst"], left)
        out.append(f'<g class="pkt pkt-{escape(cls)}">')
        out.append(_t(8, y + 4, f"{ev.get('t_ms', 0):.1f}", 10, anchor="start", fill="#57606a"))
        if x1 == x2:
            x2 = x1 + 40
        out.append(f'<line x1="{x1:.0f}" y1="{y:.0f}" x2="{x2:.0f}" y2="{y:.0f}" '
                   f'stroke="{color}" stroke-width="2" marker-end="url(#ah-{cls})"/>')
        label = ev.get("label", "")
        sub = ev.get("inner") or ev.get("detail") or ""
        mid = (x1 + x2) / 2
        out.append(_t(mid, y - 5, label[:70], 11, fill=color))
        if sub:
            out.append(_t(mid, y + 13, sub[:90], 9, fill="#57606a"))
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
