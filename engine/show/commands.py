"""Exec command dispatcher: command line → formatter, with IOS abbreviations and errors.

``dispatch("sh cry isa sa", state, want_json)`` returns the control-socket
reply ``{"ok": True, "output": text, "data": ...}`` or ``{"ok": False,
"error": "<echo>\\n<caret>\\n% Invalid input detected at '^' marker."}``.
The grammar is the config parser's (``engine.config.grammar``): every keyword
may be abbreviated to a unique prefix (``sh cry ips sa``), an ambiguous one
gives ``% Ambiguous command:  "..."``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from engine.config.grammar import TYPES, Match, MatchFailure, compile_pattern, match_patterns
from engine.config.model import Config
from engine.mgmt import show as mgmt_show
from engine.show import ios, ios_vti
from engine.show.running import running_config
from engine.show.views import ShowState

Formatter = Callable[[Config, ShowState, Match], "ios.Out"]


def _ipsec_sa(c: Config, s: ShowState, m: Match) -> ios.Out:
    if m.has("ipv6"):
        s = ShowState(
            s.isakmp_sas,
            [f for f in s.ipsec_flows if ":" in f.local_addr],
            s.current_peers,
            s.now,
            s.hostname,
        )
    peer = m.get("peer")
    return ios.ipsec_sa(
        s,
        peer=str(peer) if peer is not None else None,
        interface=m.get("intf"),
        map_name=m.get("map"),
        detail=m.has("detail"),
    )


def _ifname(s: str) -> str:
    """An interface name: letters then a number (``Tunnel0``, ``fa0/1``)."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z-]*\d[\d/.:]*", s):
        raise ValueError(s)
    return s


TYPES.setdefault("IFNAME", _ifname)

_SHOW = "show crypto "
#: (pattern, formatter); the first full match wins.
COMMANDS: list[tuple[str, Formatter]] = [
    (_SHOW + "isakmp sa [detail]", lambda c, s, m: ios.isakmp_sa(s, detail=m.has("detail"))),
    (_SHOW + "isakmp sa peer <p:HOST> [detail]", lambda c, s, m: _isakmp_peer_sa(s, m)),
    (_SHOW + "ipsec sa [detail]", _ipsec_sa),
    (_SHOW + "ipsec sa peer <peer:HOST> [detail]", _ipsec_sa),
    (_SHOW + "ipsec sa address [detail]", _ipsec_sa),
    (_SHOW + "ipsec sa identity [detail]", _ipsec_sa),
    (_SHOW + "ipsec sa ipv6 [<intf:IFNAME>] [detail]", _ipsec_sa),
    (_SHOW + "ipsec sa map <map:WORD> [detail]", _ipsec_sa),
    (_SHOW + "ipsec sa interface <intf:IFNAME> [detail]", _ipsec_sa),
    (
        _SHOW + "map [{interface <i:WORD>|tag <t:WORD>}]",
        lambda c, s, m: ios.crypto_map(c, s, interface=m.get("i"), tag=m.get("t")),
    ),
    (_SHOW + "session [detail]", lambda c, s, m: ios.crypto_session(c, s, detail=m.has("detail"))),
    (_SHOW + "session {remote|local} <a:HOST> [detail]", lambda c, s, m: _session_filter(c, s, m)),
    (_SHOW + "isakmp policy", lambda c, s, m: ios.isakmp_policy(c)),
    (_SHOW + "isakmp default policy", lambda c, s, m: ios.isakmp_default_policy(c)),
    (_SHOW + "isakmp {peer|peers} [{config|detail}]", lambda c, s, m: ios.isakmp_peer(c, s)),
    (
        _SHOW + "ipsec transform-set [tag <t:WORD>]",
        lambda c, s, m: ios.transform_sets(c, m.get("t")),
    ),
    (_SHOW + "ipsec default transform-set", lambda c, s, m: ios.default_transform_sets(c)),
    (_SHOW + "ipsec security-association [lifetime]", lambda c, s, m: ios.sa_globals(c)),
    ("show running-config", lambda c, s, m: running_config(c)),
    # seed 000 ch. 10.3 (IPv6 VTI verification, L5316-5487)
    ("show interfaces [<i:IFNAME>]", lambda c, s, m: ios_vti.show_interfaces(c, s, m.get("i"))),
    (
        "show interfaces tunnel <n:INT(0-2147483647)>",
        lambda c, s, m: ios_vti.show_interfaces(c, s, f"Tunnel{m.get('n')}"),
    ),
    (
        _SHOW + "engine {connection|connections} [active]",
        lambda c, s, m: ios_vti.crypto_engine_connections(c, s),
    ),
    (_SHOW + "socket", lambda c, s, m: ios_vti.crypto_socket(c, s)),
    ("show ipv6 access-list [<n:WORD>]", lambda c, s, m: ios_vti.ipv6_access_lists(c, m.get("n"))),
    *[
        (
            f"{verb} crypto {what}",
            lambda c, s, m, w=what, on=verb == "debug": ios_vti.debug_ack(w, on),
        )
        for what in ios_vti.DEBUG_TEXT
        for verb in ("debug", "no debug", "undebug")
    ],
    *mgmt_show.COMMANDS,  # seed 001 ch. 4: IPsec flow MIB sizes/version, debug crypto mib
]
_ASTS = [compile_pattern(p) for p, _ in COMMANDS]


def _isakmp_peer_sa(s: ShowState, m: Match) -> ios.Out:
    peer = str(m.get("p"))
    sub = ShowState(
        [sa for sa in s.isakmp_sas if peer in (sa.dst, sa.src)],
        s.ipsec_flows,
        s.current_peers,
        s.now,
        s.hostname,
    )
    return ios.isakmp_sa(sub, detail=m.has("detail"))


def _session_filter(c: Config, s: ShowState, m: Match) -> ios.Out:
    addr = str(m.get("a"))
    if m.has("remote"):
        flows = [f for f in s.ipsec_flows if f.current_peer == addr]
        sas = [sa for sa in s.isakmp_sas if addr in (sa.remote, sa.dst, sa.src)]
    else:
        flows = [f for f in s.ipsec_flows if f.local_addr == addr]
        sas = [sa for sa in s.isakmp_sas if addr in (sa.local, sa.dst, sa.src)]
    return ios.crypto_session(
        c, ShowState(sas, flows, s.current_peers, s.now, s.hostname), detail=m.has("detail")
    )


@dataclass
class ExecError(Exception):
    """A command the device refuses; ``text`` is what the device prints."""

    text: str


def error_text(prompt: str, line: str, fail: MatchFailure) -> str:
    """Device text of a refused exec command (echo, caret, message)."""
    if fail.column is None:
        return fail.message
    return f"{prompt}{line}\n{' ' * (len(prompt) + fail.column)}^\n{fail.message}"


def run_show(cmd: str, config: Config, state: ShowState) -> tuple[str, Any]:
    """Run a show command; raises ``ExecError`` with the device's message."""
    line, _, pipe = cmd.rstrip().partition(" | ")
    # seed 000 L5372-5382 writes the keyword as "detailed"; IOS's is "detail".
    line = re.sub(r"(?i)\bdetailed\b", "detail", line)
    res = match_patterns(_ASTS, line)
    if isinstance(res, MatchFailure):
        raise ExecError(error_text(f"{state.hostname}#", line, res))
    idx, m = res
    text, data = COMMANDS[idx][1](config, state, m)
    if pipe:
        text = _output_filter(text, pipe, f"{state.hostname}#", cmd.rstrip())
    return text, data


def _output_filter(text: str, pipe: str, prompt: str, full: str) -> str:
    """IOS output modifiers: ``| include RE``, ``| exclude RE``, ``| begin RE``."""
    words = pipe.split(None, 1)
    kinds = ("include", "exclude", "begin")
    kind = next((k for k in kinds if words and k.startswith(words[0].lower())), None)
    if kind is None or len(words) < 2:
        col = len(full) - len(pipe)
        msg = "% Invalid input detected at '^' marker." if kind is None else "% Incomplete command."
        raise ExecError(
            f"{prompt}{full}\n{' ' * (len(prompt) + col)}^\n{msg}" if kind is None else msg
        )
    try:
        rx = re.compile(words[1])
    except re.error:
        raise ExecError(f"% Invalid regular expression: {words[1]}") from None
    lines = text.splitlines()
    if kind == "include":
        lines = [ln for ln in lines if rx.search(ln)]
    elif kind == "exclude":
        lines = [ln for ln in lines if not rx.search(ln)]
    else:
        start = next((i for i, ln in enumerate(lines) if rx.search(ln)), len(lines))
        lines = lines[start:]
    return "\n".join(lines) + ("\n" if lines else "")


def dispatch(
    cmd: str, state: Any, want_json: bool = False, config: Config | None = None
) -> dict[str, Any]:
    """Control-socket reply for a device command.

    Args:
        cmd: the command line (``show crypto ipsec sa``; abbreviations allowed).
        state: a ``ShowState``, or the runner's dict (``config``, ``sadb``,
            ``ike_sas``, ``now``) which is converted by ``engine.show.adapter``.
        want_json: include the structured data (always included; kept for the
            control protocol's signature).
        config: the configuration when ``state`` is a ``ShowState``.
    """
    raw = state if isinstance(state, dict) else None
    if isinstance(state, dict):
        from engine.show.adapter import views_from_runner

        config = state.get("config", config)
        state = views_from_runner(state)
    if config is None:
        config = Config()
    state.hostname = config.globals.hostname
    if config.dialect == "ar":  # Allied Telesis AR570S command set (seed 002)
        from engine.show.ar import dispatch_ar, runtime_extras

        return dispatch_ar(cmd, config, state, runtime_extras(raw) if raw else None)
    try:
        text, data = run_show(cmd, config, state)
    except ExecError as e:
        return {"ok": False, "error": e.text}
    return {"ok": True, "output": text, "data": data}
