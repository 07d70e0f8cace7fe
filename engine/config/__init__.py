"""Device configuration: one model (``model.py``) filled by every dialect.

``load_config(path, dialect)`` parses a file; ``ios.parse_ios(text, file)``
parses IOS text; ``ios.apply_line`` configures one line at runtime.
"""

from __future__ import annotations

from pathlib import Path

from engine.config.model import (
    AccessList,
    Ace,
    Config,
    ConfigError,
    ConfigLine,
    CryptoMap,
    CryptoMapEntry,
    CryptoPeer,
    Globals,
    Interface,
    IsakmpKey,
    IsakmpPeer,
    IsakmpPolicy,
    Keepalive,
    PortMatch,
    ProtectedSelector,
    Route,
    TransformSet,
)

__all__ = [
    "Ace",
    "AccessList",
    "Config",
    "ConfigError",
    "ConfigLine",
    "CryptoMap",
    "CryptoMapEntry",
    "CryptoPeer",
    "Globals",
    "Interface",
    "IsakmpKey",
    "IsakmpPeer",
    "IsakmpPolicy",
    "Keepalive",
    "PortMatch",
    "ProtectedSelector",
    "Route",
    "TransformSet",
    "load_config",
]


def load_config(path: str | Path, dialect: str = "ios") -> Config:
    """Parse a configuration file of ``dialect`` (``ios`` or ``ar``).

    Never raises for bad lines: they land in ``Config.errors``.  Raises
    ``OSError`` if the file cannot be read and ``ValueError`` for an
    unknown dialect.
    """
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    if dialect == "ios":
        from engine.config.ios import parse_ios

        return parse_ios(text, str(path))
    if dialect == "ar":
        from engine.config.ar import parse_ar

        return parse_ar(text, str(path))
    raise ValueError(f"unknown config dialect {dialect!r} (known: ios, ar)")
