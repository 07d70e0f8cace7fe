"""Allied Telesis AR570S command set (seed 002) → ``engine.config.model.Config``.

The AR CLI (seed 002 L522-524, spec/seed002-b-ar-commands.md "Parser / general"):

* one command per line, ``VERB MODULE [OBJECT[=value]] NAME=VALUE ...``;
  case-insensitive; every keyword, parameter name and enumerated value may be
  abbreviated to a unique prefix (``ena ipsec``, ``KEYMAN=``, ``MODE=AGGR``);
* values with spaces are double-quoted (``VALUE="jogefoge"``, L102).

The manual prints commands wrapped over several lines and marks the end of
each typed command with ``↵``.  A file containing ``↵`` is read that way (the
seed's example text verbatim): lines are joined until one ends in ``↵``.
Lines starting with ``#`` are comments (AR script files).

Commands outside the engine's scope (users, login, config files, firewall,
system security mode, ...) are recorded in ``Config.ignored``.  A bad line in
scope becomes a ``ConfigError`` whose message is the device's
``Error (code): text`` line; the line changes nothing and the rest loads.
The seed gives no error texts (only ``Info (181057)`` / ``Info (182057)``,
L1943-1945, L1984-1986), so codes and wording follow the AlliedWare pattern
(module number × 1000 + message number; 181 = IPSEC, 182 = ISAKMP) and are
inferred — see ``ERRORS``.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.config.ar_model import ArState
from engine.config.model import Config, ConfigError, ConfigLine

#: Message numbers (inferred, see module docstring).
ERRORS: dict[str, int] = {
    "unknown_command": 3001001,
    "unknown_parameter": 3001003,
    "ambiguous": 3001004,
    "bad_value": 3001006,
    "missing": 3001010,
    "duplicate_parameter": 3001011,
    "missing_value": 3001012,
    "ipsec": 181000,
    "isakmp": 182000,
    "enco": 73000,
    "ip": 5000,
}


class ArError(Exception):
    """A rejected command: ``Error (code): text`` and the column of the bad token."""

    def __init__(self, code: int, text: str, column: int | None = None) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.column = column

    @property
    def message(self) -> str:
        return f"Error ({self.code}): {self.text}"


def fail(kind: str, number: int, text: str, column: int | None = None) -> ArError:
    """A semantic error of a module (``kind`` in ipsec/isakmp/enco/ip)."""
    return ArError(ERRORS[kind] + number, text, column)


# --------------------------------------------------------------------------- tokens


@dataclass
class Token:
    text: str
    column: int
    name: str  # upper-case word, or the part before '='
    value: str | None  # after '=' (quotes removed), None for a bare word


_TOKEN = re.compile(r'(?:[^\s"“”=]+)(?:=(?:"[^"]*"|“[^”]*”|”[^”]*”|\S*))?|"[^"]*"|\S+')


def tokenize(line: str) -> list[Token]:
    """Split an AR command line; ``NAME="a b"`` stays one token."""
    out: list[Token] = []
    for m in _TOKEN.finditer(line):
        text = m.group(0)
        name, sep, value = text.partition("=")
        val: str | None = None
        if sep:
            val = value
            if len(val) >= 2 and val[0] in '"“”' and val[-1] in '"“”':
                val = val[1:-1]
        out.append(Token(text, m.start(), name.upper(), val))
    return out


def resolve(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """Unique-prefix match (case-insensitive); an exact match wins.  ``""`` if ambiguous."""
    w = word.upper()
    if w in choices:
        return w
    hits = [c for c in choices if c.startswith(w)]
    if len(hits) == 1:
        return hits[0]
    return "" if hits else None


# --------------------------------------------------------------------------- params

Conv = Callable[[str], Any]


@dataclass(frozen=True)
class Param:
    conv: Conv | None = None  # None: a bare flag (``RANDOM``)
    required: bool = False


def enum(*values: str) -> Conv:
    """Enumerated value, unique prefixes allowed (``MODE=AGGR``)."""

    def conv(s: str) -> str:
        r = resolve(s, values)
        if not r:
            raise ValueError(s)
        return r

    return conv


def boolean(s: str) -> bool:
    """``ON|OFF|TRUE|FALSE`` (ON ≡ TRUE, L2562-2573)."""
    r = resolve(s, ("ON", "OFF", "TRUE", "FALSE", "YES", "NO"))
    if not r:
        raise ValueError(s)
    return r in ("ON", "TRUE", "YES")


def int_range(lo: int, hi: int) -> Conv:
    def conv(s: str) -> int:
        if not re.fullmatch(r"\d+", s):
            raise ValueError(s)
        v = int(s)
        if not lo <= v <= hi:
            raise ValueError(s)
        return v

    return conv


def name_len(lo: int, hi: int) -> Conv:
    def conv(s: str) -> str:
        if not lo <= len(s) <= hi:
            raise ValueError(s)
        return s

    return conv


def ipv4(s: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.IPv4Address(s))
    except ValueError:
        raise ValueError(s) from None


def text(s: str) -> str:
    return s


@dataclass
class Ctx:
    """What a command handler gets: the config being changed and the parameters."""

    cfg: Config
    ar: ArState
    head: str | None  # value of the object parameter (``POLICY=vpn`` → ``vpn``)
    params: dict[str, Any]
    columns: dict[str, int]
    line: str
    head_column: int = 0
    info: list[str] = field(default_factory=list)  # ``Info (...)`` replies

    def col(self, name: str) -> int | None:
        return self.columns.get(name)


Handler = Callable[[Ctx], None]


@dataclass(frozen=True)
class Command:
    """``VERB MODULE [HEAD[=value]] params...``."""

    verb: str
    module: str
    head: str | None  # object keyword carrying the id, None when the params follow
    handler: Handler
    params: dict[str, Param]
    head_conv: Conv | None = None  # converter of the head's value (None: no value)
    head_value_required: bool = True


#: Verbs the AR CLI has; with an unknown (verb, module) the line is out of scope.
VERBS = (
    "ACTIVATE", "ADD", "CREATE", "DEACTIVATE", "DELETE", "DESTROY", "DISABLE", "DUMP",
    "EDIT", "ENABLE", "FLUSH", "LOAD", "LOGIN", "LOGOFF", "LOGOUT", "MAIL", "PING", "PURGE",
    "RENAME", "RESET", "RESTART", "SET", "SHOW", "STOP", "TELNET", "TRACE", "UPLOAD",
)  # fmt: skip

#: Verbs that change configuration (others, e.g. RESET/SHOW, are operational).
CONFIG_VERBS = ("ADD", "CREATE", "DELETE", "DESTROY", "DISABLE", "ENABLE", "PURGE", "SET")

#: Other AR modules (their commands are outside the engine's scope, ignored).
OTHER_MODULES = (
    "ACC", "ALIAS", "APPLETALK", "ASYN", "BGP", "BOOTP", "BRIDGE", "BUFFER", "CLASSIFIER",
    "CONFIG", "DHCP", "DNS", "ETH", "FILE", "FIREWALL", "FLASH", "FRAMERELAY", "GRE", "HTTP",
    "INSTALL", "INTERFACE", "IPV6", "IPX", "L2TP", "LAPD", "LOADBALANCE", "LOG", "LPD", "MAIL",
    "NTP", "OSPF", "PING", "PKI", "PPP", "QOS", "RADIUS", "RIP", "SA", "SCRIPT", "SNMP", "SSH",
    "STP", "SWITCH", "SYSTEM", "TACACS", "TELNET", "TIME", "TRACE", "TRIGGER", "TTY", "USER",
    "VLAN", "VRRP", "IP", "CLOCK",
)  # fmt: skip

#: Modules handled here (other modules are ignored, except the IP commands below).
IN_SCOPE = ("IPSEC", "ISAKMP", "ENCO")


def _commands() -> list[Command]:
    from engine.config import ar_commands

    return ar_commands.COMMANDS


def _find_command(tokens: list[Token]) -> tuple[Command | None, int, str]:
    """(command, index of the first parameter token, status).

    status: ``ok``, ``ignored`` (out of scope) or an error kind.
    """
    verb = resolve(tokens[0].name, VERBS) if tokens[0].value is None else None
    if not verb:
        return None, 0, "unknown_command"
    if verb == "SHOW":
        return None, 1, "ignored"  # show commands in a script do not configure anything
    cmds = [c for c in _commands() if c.verb == verb]
    if len(tokens) < 2 or tokens[1].value is not None:
        return None, 1, "ignored" if verb not in ("ENABLE", "DISABLE") else "unknown_command"
    modules = sorted({c.module for c in _commands()} | set(IN_SCOPE) | set(OTHER_MODULES))
    module = resolve(tokens[1].name, modules)
    if not module:
        return None, 1, "ignored"
    cmds = [c for c in cmds if c.module == module]
    if not cmds:
        config_verb = verb in CONFIG_VERBS
        return None, 1, "unknown_command" if module in IN_SCOPE and config_verb else "ignored"
    heads = [c.head for c in cmds if c.head]
    if len(tokens) > 2:
        h = resolve(tokens[2].name, heads) if heads else None
        if h:
            return next(c for c in cmds if c.head == h), 3, "ok"
    plain = next((c for c in cmds if c.head is None), None)
    if plain is not None:
        return plain, 2, "ok"
    if module not in IN_SCOPE and module != "IP":
        return None, 2, "ignored"
    if module == "IP" and (len(tokens) < 3 or resolve(tokens[2].name, heads) is None):
        return None, 2, "ignored"  # ADD IP <other object>: outside the engine's scope
    return None, 2, "unknown_command"


def _bad_command(line: str, tokens: list[Token]) -> ArError:
    word = " ".join(t.text for t in tokens[:3])
    return ArError(ERRORS["unknown_command"], f'Unknown command "{word}".', 0)


def _params(cmd: Command, tokens: list[Token]) -> tuple[dict[str, Any], dict[str, int]]:
    params: dict[str, Any] = {}
    cols: dict[str, int] = {}
    for t in tokens:
        name = resolve(t.name, tuple(cmd.params))
        if name is None:
            raise ArError(
                ERRORS["unknown_parameter"], f'Parameter "{t.name}" not recognised.', t.column
            )
        if name == "":
            raise ArError(ERRORS["ambiguous"], f'Parameter "{t.name}" is ambiguous.', t.column)
        if name in params:
            raise ArError(
                ERRORS["duplicate_parameter"],
                f'Parameter "{name}" specified more than once.',
                t.column,
            )
        spec = cmd.params[name]
        if spec.conv is None:
            if t.value is not None:
                raise ArError(
                    ERRORS["bad_value"], f'Parameter "{name}" does not take a value.', t.column
                )
            params[name] = True
        else:
            if t.value is None or t.value == "":
                raise ArError(
                    ERRORS["missing_value"], f'Parameter "{name}" requires a value.', t.column
                )
            try:
                params[name] = spec.conv(t.value)
            except ValueError:
                raise ArError(
                    ERRORS["bad_value"],
                    f'Value "{t.value}" is not valid for parameter "{name}".',
                    t.column + len(t.name) + 1,
                ) from None
        cols[name] = t.column
    for name, spec in cmd.params.items():
        if spec.required and name not in params:
            raise ArError(ERRORS["missing"], f'Required parameter "{name}" missing.', None)
    return params, cols


@dataclass
class Outcome:
    kind: str  # ok | ignored | error | empty
    error: ArError | None = None
    info: list[str] = field(default_factory=list)


def execute(cfg: Config, line: str) -> Outcome:
    """Run one command on ``cfg`` in place; on error ``cfg`` is unchanged."""
    stripped = line.strip().rstrip("↵").strip()
    if not stripped or stripped.startswith("#"):
        return Outcome("empty")
    tokens = tokenize(stripped)
    cmd, first, status = _find_command(tokens)
    if status == "ignored":
        return Outcome("ignored")
    if cmd is None:
        return Outcome("error", _bad_command(stripped, tokens))
    head_value = None
    head_col = 0
    if cmd.head is not None:
        ht = tokens[first - 1]
        head_col = ht.column
        if ht.value is None or ht.value == "":
            if cmd.head_conv is not None and cmd.head_value_required:
                return Outcome(
                    "error",
                    ArError(
                        ERRORS["missing_value"],
                        f'Parameter "{cmd.head}" requires a value.',
                        ht.column,
                    ),
                )
        elif cmd.head_conv is None:
            return Outcome(
                "error",
                ArError(
                    ERRORS["bad_value"], f'Parameter "{cmd.head}" does not take a value.', ht.column
                ),
            )
        else:
            try:
                head_value = cmd.head_conv(ht.value)
            except ValueError:
                return Outcome(
                    "error",
                    ArError(
                        ERRORS["bad_value"],
                        f'Value "{ht.value}" is not valid for parameter "{cmd.head}".',
                        ht.column + len(ht.name) + 1,
                    ),
                )
    trial = _trial_copy(cfg)
    try:
        params, cols = _params(cmd, tokens[first:])
        ctx = Ctx(trial, trial.ar, head_value, params, cols, stripped, head_col)
        cmd.handler(ctx)
        from engine.config.ar_derive import derive

        derive(trial)
    except ArError as e:
        return Outcome("error", e)
    _commit(cfg, trial)
    return Outcome("ok", info=ctx.info)


def _trial_copy(cfg: Config) -> Config:
    """A deep copy to run a command on (AR configurations are small)."""
    keep_ignored, keep_errors = cfg.ignored, cfg.errors
    cfg.ignored, cfg.errors = [], []
    try:
        trial = copy.deepcopy(cfg)
    finally:
        cfg.ignored, cfg.errors = keep_ignored, keep_errors
    trial.ignored, trial.errors = keep_ignored, keep_errors
    if trial.ar is None:
        trial.ar = ArState()
    return trial


def _commit(cfg: Config, trial: Config) -> None:
    """Copy the trial's fields into ``cfg`` (same object: the runner holds it)."""
    for f in dataclasses.fields(Config):
        setattr(cfg, f.name, getattr(trial, f.name))


def _starts_command(line: str) -> bool:
    """True if ``line`` begins with a CLI verb (not a wrapped parameter)."""
    first = line.split(None, 1)[0] if line.split() else ""
    return "=" not in first and bool(resolve(first, VERBS))


def _commands_of(text: str) -> list[tuple[int, str]]:
    """(first line number, command) pairs.

    In a file that marks command ends with ``↵`` (the seed's text), a line
    without the mark continues into the following lines when they do not start
    with a verb (the PDF wrapped the command) — up to the line with ``↵``.
    """
    lines = text.splitlines()
    marked = any("↵" in ln for ln in lines if not ln.lstrip().startswith("#"))
    if not marked:
        return [(i + 1, ln) for i, ln in enumerate(lines)]
    out: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 0
    for i, ln in enumerate(lines):
        s = ln.strip()
        if not s:
            continue  # PDF blank line
        if s.startswith("#"):
            if parts:
                out.append((start, " ".join(parts)))
                parts = []
            continue  # a comment
        if parts and _starts_command(s):
            out.append((start, " ".join(parts)))  # the previous line stood alone
            parts = []
        if not parts:
            start = i + 1
        parts.append(s)
        if s.endswith("↵"):
            out.append((start, " ".join(parts).rstrip("↵").strip()))
            parts = []
    if parts:
        out.append((start, " ".join(parts)))
    return out


def new_config() -> Config:
    cfg = Config(dialect="ar")
    cfg.ar = ArState()
    cfg.globals.hostname = "SecOff"
    from engine.config.ar_derive import derive

    derive(cfg)
    return cfg


def parse_ar(text: str, file: str = "<string>") -> Config:
    """Parse an AR command script; bad lines land in ``Config.errors``."""
    cfg = new_config()
    for lineno, line in _commands_of(text):
        out = execute(cfg, line)
        if out.kind == "ignored":
            cfg.ignored.append(ConfigLine(file, lineno, line.strip(), "ar"))
        elif out.kind == "error":
            assert out.error is not None
            cfg.errors.append(
                ConfigError(file, lineno, out.error.column, line.strip(), out.error.message)
            )
    return cfg


def apply_line(
    cfg: Config, line: str, file: str = "<cli>", lineno: int = 0, info: list[str] | None = None
) -> ConfigError | None:
    """Configure one command at runtime; returns the error (config unchanged) or None.

    ``info`` (when given) receives the device's ``Info (...)`` replies, e.g.
    ``Info (182057): ISAKMP Debugging has been enabled.`` (L1943-1945).
    """
    if cfg.ar is None:
        cfg.ar = ArState()
    out = execute(cfg, line)
    if info is not None:
        info.extend(out.info)
    if out.kind == "error":
        assert out.error is not None
        return ConfigError(file, lineno, out.error.column, line.strip(), out.error.message)
    if out.kind == "ignored":
        cfg.ignored.append(ConfigLine(file, lineno, line.strip(), "ar"))
    return None


def format_error(err: ConfigError) -> str:
    """Device text of a rejected command (the AR prints the message line only)."""
    return err.message


__all__ = ["ArError", "apply_line", "execute", "format_error", "parse_ar", "tokenize"]
