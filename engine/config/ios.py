"""Cisco IOS / IOS XE crypto configuration → ``engine.config.model.Config``.

Table-driven: each parser mode (``global``, ``config-isakmp``, ``cfg-crypto-trans``,
``config-crypto-map``, ``config-if``, ...) has a list of ``(pattern, handler)``
commands (grammar in ``engine.config.grammar``).  A line is tried in the
current mode, then in global configuration mode (IOS falls back to the
parent mode, which also ends the sub-mode).  Lines outside the engine's scope
(``hostname`` aside: ``version``, ``service``, ``line vty``, routing
protocols, SNMP ...) are recorded in ``Config.ignored``.  A malformed line in
the engine's scope becomes a ``ConfigError`` with the IOS message and caret
column, changes nothing, and the rest of the file still loads.

PDF-extraction artefacts (seed notes: several running-config lines joined into
one, e.g. ``crypto isakmp key cisco123 address 192.165.201.2 !``, or one command
wrapped over two lines).  A real device fed that text would reject those lines
(``% Invalid input detected``).  The documents however print configurations
that were valid on the device, so by default ``parse_ios`` *repairs* them: when
a line is rejected it looks for a split of that line (plus up to four
following lines) into commands that are each valid, accepts the split and
records a ``Config.warnings`` entry naming the lines.  ``parse_ios(...,
repair=False)`` gives the device's literal behaviour.  Runtime ``apply_line``
(``configure terminal``) never repairs.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.config import ios_commands
from engine.config.grammar import (
    INCOMPLETE,
    INVALID,
    Match,
    MatchFailure,
    Token,
    compile_pattern,
    first_keywords,
    match_patterns,
    resolve_keyword,
    tokenize,
)
from engine.config.model import Config, ConfigError, ConfigLine

#: Prompt suffix per mode, as IOS shows it (``Router(config-crypto-map)#``).
PROMPTS: dict[str, str] = {
    "exec": "",
    "global": "config",
    "isakmp": "config-isakmp",
    "trans": "cfg-crypto-trans",
    "map": "config-crypto-map",
    "peer": "config-isakmp-peer",
    "profile": "ipsec-profile",
    "keyring": "conf-keyring",
    "if": "config-if",
    "acl": "config-ext-nacl",
    "acl-std": "config-std-nacl",
    "acl6": "config-ipv6-acl",
    "block": "config",
    "isa-prof": "conf-isa-prof",
}

#: Modes whose unknown lines are ignored (not errors) without leaving the mode.
LENIENT_MODES = {"if", "block", "keyring", "isa-prof"}

#: First words of crypto-map sub-commands that no global command starts with.
SUBMODE_ONLY_WORDS = {"set", "match"}

#: Global commands that open a block of sub-commands outside the engine's scope.
BLOCK_OPENERS = {
    "line",
    "router",
    "control-plane",
    "class-map",
    "policy-map",
    "controller",
    "mgcp",
    "dial-peer",
    "gatekeeper",
    "key",
    "vrf",
    "voice",
    "call",
    "banner",
    "redundancy",
    "ip vrf",
    "ip dhcp",
    "ipv6 dhcp",
    "ipv6 router",
    "ip sla",
    "track",
    "archive",
    "crypto pki",
    "crypto ca",
    "crypto ipsec client",
    "crypto isakmp profile",
    "crypto ikev2",
    "crypto gdoi",
    "crypto dynamic-map",
    "aaa group",
    "ip access-list standard",
}

#: First words that usually start an (ignored) IOS line: extra split points when
#: repairing joined lines (see module doc).
WEAK_WORDS = {
    "serial",
    "duplex",
    "speed",
    "half-duplex",
    "full-duplex",
    "clockrate",
    "clock",
    "media-type",
    "no",
    "negotiation",
    "cdp",
    "service-policy",
    "bandwidth",
    "encapsulation",
    "keepalive",
    "load-interval",
    "dialer-list",
    "control-plane",
    "line",
    "end",
    "version",
    "service",
    "boot-start-marker",
    "boot-end-marker",
    "logging",
    "enable",
    "mpls",
    "mta",
    "snmp-server",
    "aaa",
    "username",
    "memory-size",
    "resource",
    "frame-relay",
    "ip",
    "ipv6",
}


#: Other global configuration words seen in the documents (IOS has many more).
GLOBAL_WORDS = {
    "hostname",
    "cns",
    "ntp",
    "radius-server",
    "tacacs-server",
    "aaa",
    "platform",
    "class-map",
    "policy-map",
    "webvpn",
    "ip",
    "ipv6",
    "spanning-tree",
    "alias",
    "archive",
    "scheduler",
    "exception",
    "privilege",
    "username",
    "login",
    "logging",
    "snmp",
    "snmp-server",
    "clock",
    "boot",
    "service",
    "version",
    "end",
    "exit",
    "default",
    "do",
    "license",
    "multilink",
    "password",
    "transport",
    "exec-timeout",
    "stopbits",
    "connect",
    "group",
    "mode",
    "peer",
    "memory-size",
    "resource",
    "no",
    "dialer-list",
    "access-list",
    "interface",
}


@dataclass
class ModeState:
    """Where the parser is: mode name plus the object being configured."""

    mode: str = "global"
    target: Any = None
    file: str = "<cli>"
    line: int = 0
    ended: bool = False  # ``end`` seen (file parsing stops)
    repairing: bool = False  # trying splits of a PDF-artefact line (stricter checks)


@dataclass
class Ctx:
    """What a command handler gets."""

    cfg: Config
    state: ModeState
    m: Match
    line: str
    tokens: list[Token]

    def col(self, index: int) -> int:
        return self.tokens[index].column


class Reject(Exception):
    """A handler refuses a line that the grammar accepted (e.g. bad combination)."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


Handler = Callable[[Ctx], None]


@dataclass
class Command:
    pattern: str
    handler: Handler
    ast: Any = None


@dataclass
class ModeTable:
    name: str
    commands: list[Command]
    strict: list[Any] = field(default_factory=list)  # ASTs: lines that must parse
    first_words: set[str] = field(default_factory=set)

    @property
    def asts(self) -> list[Any]:
        return [c.ast for c in self.commands]


def _build_tables() -> dict[str, ModeTable]:
    tables: dict[str, ModeTable] = {}
    for mode, (commands, strict) in ios_commands.TABLES.items():
        cmds = [Command(p, h, compile_pattern(p)) for p, h in commands]
        words: set[str] = set()
        for c in cmds:
            words |= first_keywords(c.ast)
        tables[mode] = ModeTable(
            mode, cmds, [compile_pattern(s + " [<_rest:LINE>]") for s in strict], words
        )
    return tables


TABLES = _build_tables()
ALL_FIRST_WORDS: set[str] = set().union(*(t.first_words for t in TABLES.values()))

#: ``RouterA(config-crypto-map)# set peer ...``: a CLI transcript line.
_PROMPT = re.compile(r"^(?P<host>[A-Za-z0-9._-]+)(\((?P<mode>[A-Za-z0-9-]+)\))?#\s?(?P<cmd>.*)$")

_NOISE = re.compile(
    r"^(Building configuration\.\.\.|Current configuration\s*:.*|"
    r"[A-Za-z0-9._-]+(\([a-z0-9-]+\))?#.*|Last configuration change.*|NVRAM config last.*)$"
)


# -- executing one command ---------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str  # "applied" | "ignored" | "comment" | "error"
    error: ConfigError | None = None
    mode: str = "global"  # mode the line was read in (for ignored records)


def _is_strict(table: ModeTable, line: str, tokens: list[Token]) -> bool:
    return bool(table.strict) and not isinstance(
        match_patterns(table.strict, line, tokens), MatchFailure
    )


def _known_global_word(word: str) -> bool:
    """A first word that starts some global configuration command (handled or not)."""
    w = word.lower()
    return (
        w in WEAK_WORDS
        or w in TABLES["global"].first_words
        or w in GLOBAL_WORDS
        or any(o.split()[0] == w for o in BLOCK_OPENERS)
    )


def _block_opener(tokens: list[Token]) -> bool:
    words = [t.text.lower() for t in tokens[:3]]
    for n in (3, 2, 1):
        if " ".join(words[:n]) in BLOCK_OPENERS:
            return True
    return False


def _run(table: ModeTable, cfg: Config, state: ModeState, line: str, tokens: list[Token]):
    res = match_patterns(table.asts, line, tokens)
    if isinstance(res, MatchFailure):
        return res
    idx, m = res
    try:
        table.commands[idx].handler(Ctx(cfg, state, m, line, tokens))
    except Reject as r:
        return MatchFailure(r.message, r.column, len(tokens))
    except ValueError:
        # A value the grammar let through but the model refuses (e.g. a
        # non-contiguous mask): IOS rejects the line at its last token.
        return MatchFailure(INVALID, tokens[-1].column, len(tokens))
    return None


def execute(cfg: Config, state: ModeState, line: str) -> Outcome:
    """Run one configuration line; the config is unchanged on error.

    Handlers validate everything before changing the model, so a rejected
    line leaves no trace (IOS: "the bad line changes nothing").
    """
    text = line.rstrip("\r\n")
    tokens = tokenize(text)
    mode = state.mode
    if not tokens or tokens[0].text.startswith("!") or tokens[0].text.startswith("#"):
        return Outcome("comment", mode=mode)
    if mode == "exec":
        mode = state.mode = "global"
    cur = TABLES[mode]
    glob = TABLES["global"]

    fail_cur = _run(cur, cfg, state, text, tokens)
    if fail_cur is None:
        return Outcome("applied", mode=mode)
    fail_glob: MatchFailure | None = None
    if mode != "global":
        saved = (state.mode, state.target)
        state.mode, state.target = "global", None
        fail_glob = _run(glob, cfg, state, text, tokens)
        if fail_glob is None:
            return Outcome("applied", mode="global")
        state.mode, state.target = saved

    cur_strict = mode != "global" and (
        _is_strict(cur, text, tokens)
        or (mode not in LENIENT_MODES and resolve_keyword(tokens[0].text, cur.first_words))
    )
    glob_strict = _is_strict(glob, text, tokens)
    if (
        not cur_strict
        and not glob_strict
        and mode not in LENIENT_MODES
        and mode != "global"
        and not _known_global_word(tokens[0].text)
    ):
        # In a crypto sub-mode, a word that is neither a sub-mode command nor a global
        # command is a typo (seed 000 L5058 "set-transform-set"): IOS rejects it.
        err = ConfigError(state.file, state.line, tokens[0].column, text, INVALID)
        return Outcome("error", err, mode=mode)
    if (
        not cur_strict
        and not glob_strict
        and mode == "global"
        and tokens[0].text.lower() in SUBMODE_ONLY_WORDS
    ):
        # A crypto-map sub-command typed at (config)#: global mode has no such command
        # (IOS rejects it with the caret under the word), so it is not silently ignored.
        err = ConfigError(state.file, state.line, tokens[0].column, text, INVALID)
        return Outcome("error", err, mode=mode)
    if not cur_strict and not glob_strict:
        if mode in LENIENT_MODES and not _block_opener(tokens) and mode != "global":
            return Outcome("ignored", mode=mode)
        state.mode, state.target = ("block" if _block_opener(tokens) else "global"), None
        return Outcome("ignored", mode=mode)

    if cur_strict and (fail_glob is None or not glob_strict or fail_cur.depth >= fail_glob.depth):
        fail = fail_cur
    else:
        fail = fail_glob if fail_glob is not None else fail_cur
    err = ConfigError(state.file, state.line, fail.column, text, fail.message)
    return Outcome("error", err, mode=mode)


# -- files ---------------------------------------------------------------------------------------


def _copy(cfg: Config, state: ModeState) -> tuple[Config, ModeState]:
    """Deep copy of the model and mode (for trials), without the bookkeeping lists."""
    books = (cfg.ignored, cfg.errors, cfg.warnings)
    cfg.ignored, cfg.errors, cfg.warnings = [], [], []
    try:
        c2, s2 = copy.deepcopy((cfg, state))
    finally:
        cfg.ignored, cfg.errors, cfg.warnings = books
    c2.ignored, c2.errors, c2.warnings = list(books[0]), list(books[1]), list(books[2])
    return c2, s2


def _record(cfg: Config, state: ModeState, text: str, out: Outcome, lineno: int) -> None:
    if out.kind == "ignored":
        cfg.ignored.append(ConfigLine(state.file, lineno, text, out.mode))
    elif out.kind == "error" and out.error is not None:
        cfg.errors.append(out.error)


_BANNER = re.compile(r"^\s*banner\s+\S+\s+(\^C|\S)(.*)$")


def _banner_end(lines: list[str], i: int) -> int | None:
    """Index of the last line of a ``banner TYPE <d>...<d>`` block starting at ``i``.

    The text between the delimiters is free text (it may contain words like
    ``crypto``), so it is skipped whole; ``show running-config`` prints the
    delimiter as ``^C``.
    """
    m = _BANNER.match(lines[i])
    if m is None:
        return None
    delim, rest = m.group(1), m.group(2)
    if delim in rest:
        return i
    for k in range(i + 1, len(lines)):
        if delim in lines[k]:
            return k
    return len(lines) - 1


def _is_transcript(lines: list[str]) -> bool:
    """True if the text is a CLI session (``Router(config)# ...`` lines), not a config file."""
    for ln in lines:
        m = _PROMPT.match(ln.strip())
        if m and m.group("mode") and ("config" in m.group("mode") or "cfg" in m.group("mode")):
            return True
    return False


def _transcript_lines(lines: list[str], host: str | None) -> list[str | None]:
    """Config commands of a transcript, by line; None for output/exec/other hosts' lines."""
    out: list[str | None] = []
    for ln in lines:
        m = _PROMPT.match(ln.strip())
        if m is None or not m.group("mode") or (host is not None and m.group("host") != host):
            out.append(None)
        else:
            out.append(m.group("cmd"))
    return out


def parse_ios(
    text: str,
    file: str = "<config>",
    repair: bool = True,
    cfg: Config | None = None,
    transcript_host: str | None = None,
) -> Config:
    """Parse an IOS configuration (``show running-config`` text or a file).

    A CLI transcript (``RouterA(config)# crypto map ...`` lines, as in seed
    001 L3219-3308) is accepted too: only the configuration-mode prompt lines
    are commands (of ``transcript_host`` if given), device output and exec
    commands are recorded as ignored.

    Args:
        text: the configuration.
        file: name used in errors.
        repair: undo PDF-extraction artefacts (joined/wrapped lines), see module doc.
        cfg: configuration to add to (default: a new one).
        transcript_host: with a transcript, the prompt host name to take.
    """
    cfg = cfg if cfg is not None else Config(dialect="ios")
    state = ModeState(file=file)
    lines = text.splitlines()
    if _is_transcript(lines):
        commands = _transcript_lines(lines, transcript_host)
        for i, (raw, cmd) in enumerate(zip(lines, commands)):
            if cmd is None:
                if raw.strip() and not raw.strip().startswith("!"):
                    cfg.ignored.append(ConfigLine(file, i + 1, raw, "transcript-output"))
                continue
            state.line, state.ended = i + 1, False
            if state.mode == "exec":
                state.mode = "global"
            # Handlers check everything before changing the model: no copy needed.
            out = execute(cfg, state, cmd)
            _record(cfg, state, cmd, out, i + 1)
        return cfg
    i = 0
    while i < len(lines):
        raw = lines[i].rstrip()
        lineno = i + 1
        if state.ended:
            if raw.strip():
                cfg.ignored.append(ConfigLine(file, lineno, raw, "after-end"))
            i += 1
            continue
        if _NOISE.match(raw.strip()):
            cfg.ignored.append(ConfigLine(file, lineno, raw, "noise"))
            i += 1
            continue
        end_banner = _banner_end(lines, i)
        if end_banner is not None:
            for k in range(i, end_banner + 1):
                cfg.ignored.append(ConfigLine(file, k + 1, lines[k], "banner"))
            i = end_banner + 1
            continue
        state.line = lineno
        out = execute(cfg, state, raw)
        if out.kind != "error":
            _record(cfg, state, raw, out, lineno)
            i += 1
            continue
        if repair:
            fixed = _repair(cfg, state, lines, i)
            if fixed is not None:
                cfg, state, used = fixed
                i += used
                continue
        _record(cfg, state, raw, out, lineno)
        i += 1
    return cfg


# -- PDF-artefact repair -----------------------------------------------------------------------

_MAX_JOIN = 4


@dataclass(frozen=True)
class _Tok:
    text: str
    line: int  # index into lines


def _repair(cfg: Config, state: ModeState, lines: list[str], start: int):
    """Split/join lines ``start..start+m`` into valid commands, see module doc."""
    for m in range(0, _MAX_JOIN + 1):
        if start + m >= len(lines):
            break
        if m > 0 and _NOISE.match(lines[start + m].strip()):
            break
        toks = [_Tok(t.text, start + k) for k in range(m + 1) for t in tokenize(lines[start + k])]
        segs = _segment(toks, 0, cfg, state, {})
        if segs is None or (m == 0 and len(segs) < 2):
            continue
        # Re-run for real, recording ignored lines at their first token's line.
        for seg in segs:
            text = " ".join(t.text for t in seg)
            state.line = seg[0].line + 1
            out = execute(cfg, state, text)
            if out.kind == "ignored":
                cfg.ignored.append(ConfigLine(state.file, seg[0].line + 1, text, out.mode))
        shown = " | ".join(" ".join(t.text for t in s) for s in segs)
        span = f"{start + 1}" if m == 0 else f"{start + 1}-{start + m + 1}"
        cfg.warnings.append(
            ConfigError(
                state.file,
                start + 1,
                None,
                "\n".join(lines[start : start + m + 1]),
                f"line {span}: PDF extraction artefact, read as {len(segs)} commands: {shown}",
            )
        )
        return cfg, state, m + 1
    return None


_NOT_STRONG = {"ip", "ipv6", "no"}  # also start ignored lines (``no ip http server``)


def _strong(word: str) -> bool:
    w = word.lower()
    return w.startswith("!") or (w in ALL_FIRST_WORDS and w not in _NOT_STRONG)


def _boundary(word: str) -> bool:
    return _strong(word) or word.lower() in WEAK_WORDS


def _segment(toks: list[_Tok], p: int, cfg: Config, state: ModeState, memo: dict):
    """Longest-first split of toks[p:] into lines that each execute without error."""
    if p == len(toks):
        return []
    key = (p, state.mode)
    if key in memo:
        return None
    if toks[p].text.startswith("!"):
        rest = _segment(toks, p + 1, cfg, state, memo)
        return None if rest is None else [[toks[p]]] + rest
    ends = [q for q in range(p + 1, len(toks)) if _boundary(toks[q].text)] + [len(toks)]
    for q in sorted(ends, reverse=True):
        seg = toks[p:q]
        text = " ".join(t.text for t in seg)
        c2, s2 = _copy(cfg, state)
        s2.repairing = True
        out = execute(c2, s2, text)
        s2.repairing = False
        if out.kind == "error":
            continue
        if out.kind == "ignored" and any(_strong(t.text) for t in seg[1:]):
            continue  # an ignored line must not swallow a command we handle
        rest = _segment(toks, q, c2, s2, memo)
        if rest is not None:
            return [seg] + rest
    memo[key] = True
    return None


# -- runtime (configure terminal) --------------------------------------------------------------


def prompt(cfg: Config, state: ModeState) -> str:
    """IOS prompt for a mode, e.g. ``Router(config-crypto-map)#``."""
    suffix = PROMPTS.get(state.mode, "config")
    host = cfg.globals.hostname
    return f"{host}({suffix})#" if suffix else f"{host}#"


def apply_line(cfg: Config, line: str, state: ModeState | None = None) -> ConfigError | None:
    """Configure one line at runtime (IOS ``configure terminal`` semantics).

    ``state`` carries the mode between calls (a new one starts in global
    configuration mode).  Returns the error (not added to ``cfg.errors``,
    which lists the startup file's errors) or None.  On error the
    configuration is unchanged.
    """
    state = state if state is not None else ModeState(file="<cli>")
    if line.strip().lower() in ("end", "exit") and state.mode == "global":
        state.mode = "exec"
        return None
    # Handlers validate before changing anything, so the live objects are
    # updated in place (the runner keeps references to them).
    out = execute(cfg, state, line)
    if out.kind == "error":
        return out.error
    if out.kind == "ignored":
        cfg.ignored.append(ConfigLine(state.file, state.line, line, out.mode))
    return None


def format_error(err: ConfigError, prompt_text: str = "") -> str:
    """Device text for a rejected line: echo, caret, message (IOS terminal layout)."""
    if err.column is None:
        return err.message
    return f"{prompt_text}{err.text}\n{' ' * (len(prompt_text) + err.column)}^\n{err.message}"


__all__ = [
    "INCOMPLETE",
    "INVALID",
    "ModeState",
    "apply_line",
    "execute",
    "format_error",
    "parse_ios",
    "prompt",
]
