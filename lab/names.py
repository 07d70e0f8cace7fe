"""Names of everything a run creates (the one place that knows them).

A run is named ``<topology>-<6 hex>``; every namespace of it is
``ilab-<run>-<node>`` (and ``ilab-<run>.br`` for the bridges of segments), so
parallel runs never collide and ``down --all`` finds leftovers by prefix.
"""

from __future__ import annotations

import re
import secrets

NS_PREFIX = "ilab-"
RUN_RE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
NFT_TABLE = "ilab"          # nft table of NAT rules (inet family)
NFT_FAULT_TABLE = "ilab_fault"


def new_run(topology_name: str) -> str:
    """A fresh unique run name for ``topology_name``."""
    return f"{topology_name[:20]}-{secrets.token_hex(3)}"


def node_ns(run: str, node: str) -> str:
    """Network namespace of ``node`` in ``run``."""
    return f"{NS_PREFIX}{run}-{node}"


def bridge_ns(run: str) -> str:
    """Namespace holding the bridges of the run's segments."""
    return f"{NS_PREFIX}{run}.br"


def bridge_name(index: int) -> str:
    """Bridge device of segment number ``index`` (inside :func:`bridge_ns`)."""
    return f"br{index}"


def bridge_port(seg_index: int, member_index: int) -> str:
    """Bridge-side veth of a segment member (inside :func:`bridge_ns`)."""
    return f"s{seg_index}p{member_index}"


def scratch_ns(tag: str) -> str:
    """A unique stand-alone namespace name for a test (``ilab-scratch-<tag><8 hex>``).

    No run owns it; the prefix lets ``python -m lab down --all`` find it if a
    test dies before removing it.
    """
    return f"{NS_PREFIX}scratch-{tag}{secrets.token_hex(4)}"


def is_lab_ns(name: str) -> bool:
    return name.startswith(NS_PREFIX)


def run_of_ns(name: str) -> str | None:
    """Best guess of the run a lab namespace belongs to (None if not a lab's)."""
    if not is_lab_ns(name):
        return None
    rest = name[len(NS_PREFIX):]
    if rest.endswith(".br"):
        return rest[:-3]
    m = re.match(r"^(.*-[0-9a-f]{6})-", rest)
    return m[1] if m else None
