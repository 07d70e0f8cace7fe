"""YAML loading that remembers line numbers (for errors like ``file:14: links[3].b: ...``)."""

from __future__ import annotations

from typing import Any

import yaml

from lab.errors import TopologyError


class PosDict(dict):
    """A mapping that knows the line of itself and of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class PosList(list):
    """A sequence that knows the line of itself and of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader building :class:`PosDict`/:class:`PosList`; duplicate keys are errors."""

    filename = ""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> PosDict:
        self.flatten_mapping(node)
        out = PosDict()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in out:
                raise TopologyError(f"duplicate key {key!r}", file=self.filename,
                                    line=key_node.start_mark.line + 1)
            out[key] = self.construct_object(value_node, deep=True)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> PosList:
        out = PosList(self.construct_object(child, deep=True) for child in node.value)
        out.line = node.start_mark.line + 1
        out.item_lines = [child.start_mark.line + 1 for child in node.value]
        return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
                        _Loader.construct_sequence)


def load(text: str, filename: str = "") -> Any:
    """Parse YAML text; syntax errors become :class:`TopologyError` with the line."""
    loader = type("Loader", (_Loader,), {"filename": filename})
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise TopologyError(f"YAML syntax error: {exc.problem}", file=filename,
                            line=mark.line + 1 if mark else None) from None


def line_of(data: Any, path: tuple[Any, ...]) -> int | None:
    """Best line number for ``path`` inside loaded ``data``."""
    line = getattr(data, "line", None) or None
    cur = data
    for step in path:
        if isinstance(cur, PosDict) and step in cur:
            line = cur.key_lines.get(step, line)
            cur = cur[step]
        elif isinstance(cur, PosList) and isinstance(step, int) and 0 <= step < len(cur):
            line = cur.item_lines[step]
            cur = cur[step]
        else:
            break
    return line


def format_path(path: tuple[Any, ...]) -> str:
    """``('links', 3, 'b')`` -> ``links[3].b``."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += ("." if out else "") + str(step)
    return out
