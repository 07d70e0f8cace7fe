"""seed 001 ch. 4 exec commands: IPsec flow MIB table sizes, version, debug crypto mib."""

from __future__ import annotations

from engine.config.ios import ModeState, apply_line
from engine.config.model import Config
from engine.show.commands import dispatch
from engine.show.views import ShowState


def _out(cmd: str, *lines: str) -> str:
    cfg, st = Config(), ModeState()
    for ln in lines:
        assert apply_line(cfg, ln, st) is None, ln
    reply = dispatch(cmd, ShowState(), config=cfg)
    assert reply["ok"], reply
    return reply["output"]


def test_default_sizes() -> None:
    """TB-35: defaults 200 (L1481, L1498) in the L1521/L1528 formats."""
    assert _out("show crypto mib ipsec flowmib history failure size") == \
        "IPSec Failure Window Size: 200\n"
    assert _out("show crypto mib ipsec flowmib history tunnel size") == \
        "IPSec History Window Size: 200\n"


def test_configured_sizes() -> None:
    """TB-36/37/38: L1586 (140), L1592 (130), L1494 (220 accepted)."""
    assert _out("sh cry mib ipsec flowmib hist failure size",
                "crypto mib ipsec flowmib history failure size 140") == \
        "IPSec Failure Window Size: 140\n"
    assert _out("show crypto mib ipsec flowmib history tunnel size",
                "crypto mib ipsec flowmib history tunnel size 130") == \
        "IPSec History Window Size: 130\n"
    assert _out("show crypto mib ipsec flowmib history failure size",
                "crypto mib ipsec flowmib history failure size 220") == \
        "IPSec Failure Window Size: 220\n"


def test_version_and_debug() -> None:
    """TB-39 (L1533-1536), TB-40 (L1540-1543), TB-33 (L508-509)."""
    assert _out("show crypto mib ipsec flowmib version") == "IPSec Flow MIB version: 1\n"
    assert _out("debug crypto mib") == "Crypto IPsec Mgmt Entity debugging is on\n"
    assert _out("debug crypto mib detail").startswith("Crypto IPsec Mgmt Entity")
    assert _out("debug crypto mib error").startswith("Crypto IPsec Mgmt Entity")
    assert _out("no debug crypto mib") == "Crypto IPsec Mgmt Entity debugging is off\n"


def test_bad_keyword_has_caret() -> None:
    reply = dispatch("show crypto mib ipsec flowmib sizes", ShowState(), config=Config())
    assert not reply["ok"] and reply["error"].endswith("% Invalid input detected at '^' marker.")
