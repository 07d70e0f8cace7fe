"""A small command-grammar matcher for IOS-style CLIs.

A command is written as a pattern string, e.g.::

    "crypto isakmp keepalive <seconds:INT(10-3600)> [<retry:INT(2-60)>] [{periodic|on-demand}]"

* ``word``            keyword; the user may abbreviate it to any unique prefix
* ``<name:TYPE>``     a value captured under ``name`` (types in ``TYPES``)
* ``[ ... ]``         optional part
* ``{ a | b c }``     alternatives (each a sequence)

Matching follows the IOS parser: a token that matches nothing gives
``% Invalid input detected at '^' marker.`` with the caret under that token,
running out of tokens gives ``% Incomplete command.``, and an abbreviation
that fits two keywords gives ``% Ambiguous command:  "..."``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

INVALID = "% Invalid input detected at '^' marker."
INCOMPLETE = "% Incomplete command."


def ambiguous(text: str) -> str:
    """IOS message for an ambiguous abbreviation (two spaces after the colon)."""
    return f'% Ambiguous command:  "{text}"'


@dataclass(frozen=True)
class Token:
    text: str
    column: int  # 0-based column in the source line


def tokenize(line: str) -> list[Token]:
    """Split a line on whitespace, remembering each token's column."""
    return [Token(m.group(0), m.start()) for m in re.finditer(r"\S+", line)]


# -- value types ---------------------------------------------------------------------------------


def _int_range(lo: int, hi: int) -> Callable[[str], Any]:
    def conv(s: str) -> int:
        if not s.isdigit():
            raise ValueError(s)
        v = int(s)
        if not lo <= v <= hi:
            raise ValueError(s)
        return v

    return conv


def _ipv4(s: str) -> ipaddress.IPv4Address:
    if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", s):
        raise ValueError(s)
    return ipaddress.IPv4Address(s)


def _ipv6(s: str) -> ipaddress.IPv6Address:
    if ":" not in s or "/" in s:
        raise ValueError(s)
    return ipaddress.IPv6Address(s)


def _ipv6_prefix(s: str) -> ipaddress.IPv6Interface:
    if ":" not in s or "/" not in s:
        raise ValueError(s)
    return ipaddress.IPv6Interface(s)


def _ipv6_maybe_prefix(s: str) -> ipaddress.IPv6Interface:
    if ":" not in s:
        raise ValueError(s)
    return ipaddress.IPv6Interface(s)


def _word(s: str) -> str:
    return s


def _host(s: str) -> ipaddress.IPv4Address | str:
    """IPv4 address or host name (a name must not look like a number)."""
    if re.fullmatch(r"[\d.]+", s):
        return _ipv4(s)
    return s


def _hostname(s: str) -> str:
    """A DNS name: not something that looks like an address (RFC 1123 §2.1)."""
    if re.fullmatch(r"[\d.]+", s) or ":" in s or not re.fullmatch(r"[A-Za-z0-9._-]+", s):
        raise ValueError(s)
    return s


def _hex(s: str) -> int:
    return int(s, 16)


TYPES: dict[str, Callable[[str], Any]] = {
    "WORD": _word,
    "IPV4": _ipv4,
    "IPV6": _ipv6,
    "IPV6PFX": _ipv6_prefix,
    "IPV6ADDR": _ipv6_maybe_prefix,
    "HOST": _host,
    "HOSTNAME": _hostname,
    "HEX": _hex,
}


# -- pattern AST ---------------------------------------------------------------------------------


@dataclass
class _Kw:
    word: str


@dataclass
class _Param:
    name: str
    conv: Callable[[str], Any]


@dataclass
class _Line:
    name: str


@dataclass
class _Seq:
    items: list[Any]


@dataclass
class _Opt:
    body: _Seq


@dataclass
class _Alt:
    alts: list[_Seq]


def _lex_pattern(pattern: str) -> list[str]:
    return re.findall(r"<[^>]+>|[\[\]{}|]|[^\s\[\]{}|<>]+", pattern)


def compile_pattern(pattern: str) -> _Seq:
    """Compile a pattern string into its AST (raises ValueError if malformed)."""
    toks = _lex_pattern(pattern)
    pos = 0

    def seq(stop: set[str]) -> _Seq:
        nonlocal pos
        items: list[Any] = []
        while pos < len(toks) and toks[pos] not in stop:
            t = toks[pos]
            pos += 1
            if t == "[":
                body = seq({"]"})
                pos += 1
                items.append(_Opt(body))
            elif t == "{":
                alts = [seq({"|", "}"})]
                while toks[pos] == "|":
                    pos += 1
                    alts.append(seq({"|", "}"}))
                pos += 1
                items.append(_Alt(alts))
            elif t.startswith("<"):
                name, _, typ = t[1:-1].partition(":")
                typ = typ or "WORD"
                if typ == "LINE":
                    items.append(_Line(name))
                elif typ.startswith("INT"):
                    m = re.fullmatch(r"INT\((\d+)-(\d+)\)", typ)
                    lo, hi = (int(m.group(1)), int(m.group(2))) if m else (0, 2**32 - 1)
                    items.append(_Param(name, _int_range(lo, hi)))
                else:
                    items.append(_Param(name, TYPES[typ]))
            else:
                items.append(_Kw(t.lower()))
        return _Seq(items)

    ast = seq(set())
    if pos != len(toks):
        raise ValueError(f"malformed pattern {pattern!r}")
    return ast


def first_keywords(ast: _Seq) -> set[str]:
    """Keywords a pattern can start with (for fallback and repair decisions)."""
    out: set[str] = set()

    def walk(s: _Seq) -> bool:  # returns True if s can be empty
        for it in s.items:
            if isinstance(it, _Kw):
                out.add(it.word)
                return False
            if isinstance(it, (_Param, _Line)):
                return False
            if isinstance(it, _Opt):
                walk(it.body)
                continue
            if isinstance(it, _Alt):
                empty = False
                for a in it.alts:
                    empty |= walk(a)
                if not empty:
                    return False
        return True

    walk(ast)
    return out


# -- matching ------------------------------------------------------------------------------------


@dataclass
class Match:
    """A successful match: captured values and the keywords seen."""

    args: dict[str, Any]
    keywords: set[str]

    def has(self, word: str) -> bool:
        return word in self.keywords

    def get(self, name: str, default: Any = None) -> Any:
        return self.args.get(name, default)


@dataclass
class MatchFailure:
    """Why a line did not match: message and 0-based column (None = no caret)."""

    message: str
    column: int | None
    depth: int  # how many tokens were accepted before failing (for choosing errors)


@dataclass
class _State:
    tokens: list[Token]
    line: str
    furthest: int = -1  # furthest token index where something failed
    kw_candidates: dict[int, set[str]] = field(default_factory=dict)


def _match(item: Any, i: int, caps: dict, kws: frozenset, st: _State) -> Iterator[tuple]:
    toks = st.tokens
    if isinstance(item, _Seq):
        yield from _match_seq(item.items, 0, i, caps, kws, st)
    elif isinstance(item, _Kw):
        if i < len(toks):
            t = toks[i].text.lower()
            if item.word.startswith(t):
                st.kw_candidates.setdefault(i, set()).add(item.word)
                yield i + 1, caps, kws | {item.word}
                return
        st.furthest = max(st.furthest, i)
    elif isinstance(item, _Param):
        if i < len(toks):
            try:
                v = item.conv(toks[i].text)
                ok = True
            except ValueError:
                ok = False
            if ok:
                yield i + 1, {**caps, item.name: v}, kws
                return
        st.furthest = max(st.furthest, i)
    elif isinstance(item, _Line):
        if i < len(toks):
            yield len(toks), {**caps, item.name: st.line[toks[i].column :].rstrip()}, kws
            return
        st.furthest = max(st.furthest, i)
    elif isinstance(item, _Opt):
        yield from _match(item.body, i, caps, kws, st)
        yield i, caps, kws
    elif isinstance(item, _Alt):
        for a in item.alts:
            yield from _match(a, i, caps, kws, st)


def _match_seq(items: list, k: int, i: int, caps: dict, kws: frozenset, st: _State) -> Iterator:
    if k == len(items):
        yield i, caps, kws
        return
    for j, c2, k2 in _match(items[k], i, caps, kws, st):
        yield from _match_seq(items, k + 1, j, c2, k2, st)


def match_patterns(
    asts: list[_Seq], line: str, tokens: list[Token] | None = None
) -> tuple[int, Match] | MatchFailure:
    """Match a line against several patterns; first full match wins.

    Returns ``(index of the pattern, Match)`` or a ``MatchFailure`` carrying
    the device's message for the furthest point any pattern reached.
    """
    toks = tokens if tokens is not None else tokenize(line)
    st = _State(toks, line)
    found: tuple[int, Match] | None = None
    for idx, ast in enumerate(asts):
        for end, caps, kws in _match(ast, 0, {}, frozenset(), st):
            if end == len(toks):
                if found is None:
                    found = (idx, Match(dict(caps), set(kws)))
                break
            st.furthest = max(st.furthest, end)
    # Ambiguity: a token that is an abbreviation of two keywords offered at the same
    # place (IOS refuses the whole line, even if one reading would have matched).
    for i, cands in sorted(st.kw_candidates.items()):
        if len(cands) > 1 and toks[i].text.lower() not in cands:
            return MatchFailure(
                ambiguous(line[: toks[i].column + len(toks[i].text)].strip()), None, i
            )
    if found:
        return found
    if not toks:
        return MatchFailure(INCOMPLETE, None, 0)
    if st.furthest >= len(toks):
        return MatchFailure(INCOMPLETE, None, len(toks))
    f = max(st.furthest, 0)
    return MatchFailure(INVALID, toks[f].column, f)


def resolve_keyword(token: str, words: set[str]) -> str | None:
    """Full keyword for an abbreviation if exactly one of ``words`` fits."""
    t = token.lower()
    if t in words:
        return t
    hits = [w for w in words if w.startswith(t)]
    return hits[0] if len(hits) == 1 else None
