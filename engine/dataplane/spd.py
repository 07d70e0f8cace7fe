"""AR570S security policy database enforcement with nftables (seed 002 L413-761).

``engine.config.ar_derive.spd_rules`` gives each interface's SPD as ordered
filter rules; this module renders them as one nftables table in the
engine's namespace: ``accept`` (ACTION=PERMIT, the peer's ESP/AH), ``drop``
(ACTION=DENY and the implicit deny-all once an interface has a policy,
L736-741), and ``ipsec`` — traffic the policy sends through the tunnel —
dropped when met in clear on the interface (the protected copy travels via
the TUN). The engine's own packets (IKE, ESP/AH it sends; fwmark) pass.
"""

from __future__ import annotations

import logging
import subprocess
from typing import Any

log = logging.getLogger("engine.spd")

TABLE = "engine_spd"


def _match(rule: Any) -> str:
    parts = []
    if rule.src is not None:
        parts.append(f"ip saddr {rule.src}")
    if rule.dst is not None:
        parts.append(f"ip daddr {rule.dst}")
    if rule.protocol is not None:
        parts.append(f"meta l4proto {rule.protocol}")
        if rule.protocol in (6, 17):
            if rule.sport is not None:
                parts.append(f"th sport {rule.sport}")
            if rule.dport is not None:
                parts.append(f"th dport {rule.dport}")
    return " ".join(parts)


def render(rules: list[Any], ifnames: dict[str, str], mark: int) -> str:
    """nft ruleset for ``rules``; ``ifnames`` maps AR interface names to lab ones."""
    chains: dict[str, list[str]] = {"output": [], "input": [], "forward": []}
    for r in rules:
        ifname = ifnames.get(r.interface, r.interface)
        verdict = "accept" if r.verdict == "accept" else "drop"
        comment = f' comment "{r.policy or "implicit deny"}"'
        if r.direction == "out":
            sel, hooks = f'oifname "{ifname}"', ("output", "forward")
        else:
            sel, hooks = f'iifname "{ifname}"', ("input", "forward")
        line = " ".join(x for x in (sel, _match(r), verdict) if x) + comment
        for h in hooks:
            chains[h].append(line)
    out = [f"table ip {TABLE} {{"]
    for hook, lines in chains.items():
        out.append(f"  chain {hook} {{")
        out.append(f"    type filter hook {hook} priority 0; policy accept;")
        if hook == "output":
            out.append(f"    meta mark {mark:#x} accept")
        out.append('    iifname "lo" accept')
        out += [f"    {x}" for x in lines]
        out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"


class Spd:
    """Loads/removes the SPD table of an AR-dialect engine (no-op for IOS)."""

    def __init__(self, mark: int) -> None:
        self.mark = mark
        self.loaded = False
        self.ruleset = ""

    def apply(self, config: Any) -> str | None:
        """(Re)load the SPD of ``config``; returns an error text or None."""
        if getattr(config, "dialect", "ios") != "ar":
            return None
        from engine.config.ar_derive import spd_rules

        rules = spd_rules(config)
        ifnames = {name: (i.ifname or name) for name, i in config.interfaces.items()}
        self.remove()
        if not rules:
            return None
        self.ruleset = render(rules, ifnames, self.mark)
        return self._nft(self.ruleset)

    def remove(self) -> None:
        if self.loaded:
            self._nft(f"delete table ip {TABLE}\n")
            self.loaded = False

    def _nft(self, text: str) -> str | None:
        try:
            r = subprocess.run(["nft", "-f", "-"], input=text, text=True, capture_output=True,
                               timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.error("nft: %s", exc)
            return str(exc)
        if r.returncode != 0:
            log.error("nft rejected the SPD ruleset: %s\n%s", r.stderr.strip(), text)
            return r.stderr.strip()
        self.loaded = not text.startswith("delete")
        return None
