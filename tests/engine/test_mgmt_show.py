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


class _Entry:
    def __init__(self, pair, c: dict) -> None:
        self.pair, self.c = pair, c

    def counters(self) -> dict:
        return self.c


class _Sadb:
    entries: list = []


def _live_mgmt():
    """A Management that saw one IKE SA and one AH+ESP pair with traffic (seed L1209-1224)."""
    import ipaddress

    from engine.ike.events import ChildSaUp, IkeSaUp, IpsecSaPair, SaKeys, TrafficSelector
    from engine.mgmt import Management

    def k(spi: int, proto: str, encr: str | None) -> SaKeys:
        return SaKeys(spi, proto, encr, b"k" * 8, "hmac-sha1-96", b"k" * 20)

    p = IpsecSaPair(
        "10.1.1.1", "10.1.1.2", "tunnel",
        (k(3891970674, "ah", None), k(3691920464, "esp", "des")),
        (k(1963217493, "ah", None), k(3458912974, "esp", "des")),
        TrafficSelector(ipaddress.ip_network("10.22.1.1/32")),
        TrafficSelector(ipaddress.ip_network("10.20.1.1/32")), 5000, 99000, 0.0)
    up = IkeSaUp(("10.1.1.1", 500), ("10.1.1.2", 500), b"i" * 8, b"r" * 8, "main", False,
                 "des", "sha1", "psk", 1, 86400, False, 1, "10.1.1.1")
    Entry, Sadb = _Entry, _Sadb
    sadb = Sadb()
    cfg = Config()
    m = Management(cfg, sadb=sadb)
    m.on_event(up, 0.0)
    m.on_event(ChildSaUp(p), 1.0)
    sadb.entries = [Entry(p, {"decaps": 4, "decrypt": 4, "verify": 4, "bytes_in": 400,
                              "encaps": 4, "encrypt": 4, "digest": 4, "bytes_out": 704,
                              "send_errors": 1})]
    return m, cfg


def _show(cmd: str, cfg: Config, now: float = 347.0) -> str:
    reply = dispatch(cmd, ShowState(now=now), config=cfg)
    assert reply["ok"], reply
    return reply["output"]


def test_flowmib_spi_endpoint_global_tunnel() -> None:
    """L2891-3125 layouts from the engine's flow MIB."""
    _, cfg = _live_mgmt()
    spi = _show("show crypto mib ipsec flowmib spi", cfg).splitlines()
    assert spi[:3] == ["vrf Global", "Tunnel Index:      1", "SPI Index:         1"]
    assert "SPI Value:         0xE7FAC272" in spi  # 3891970674 (L1221) in hex
    assert [ln.split()[-1] for ln in spi if ln.startswith("SPI Protocol")] == [
        "AH", "AH", "ESP", "ESP"]
    assert [ln.split()[-1] for ln in spi if ln.startswith("SPI Direction")] == [
        "In", "Out", "In", "Out"]
    ep = _show("show crypto mib ipsec flowmib endpoint", cfg).splitlines()
    assert ep[1:6] == ["  Index: 1", "  Local type: Single IP address",
                       "  Local address: 10.22.1.1", "  Protocol: 0", "  Local port: 0"]
    g = _show("show crypto mib ipsec flowmib global", cfg)
    assert "  Active Tunnels:                1\n" in g
    assert "  In octets:                     400\n" in g
    assert "  Out packets drops:             1\n" in g
    tun = _show("show crypto mib ipsec flowmib tunnel", cfg)
    for line in ("Index:             1", "IPSEC keying:      IKE", "Lifetime (KB):     99000",
                 "Lifetime (Sec):    5000", "Active time:       00:05:46",
                 "Current SA instances: 4", "In octets:         400", "Out drops:         1"):
        assert line in tun.splitlines(), (line, tun)
    assert _show("show crypto mib ipsec flowmib tunnel vrf vrf1", cfg) == "vrf vrf1\n"


def test_isakmp_flowmib_and_history_failure() -> None:
    """L2639-2874 (isakmp) and L2918-3030 (ipsec history/failure) layouts."""
    from engine.ike.events import ChildSaDown, IkeSaDown, NegotiationFailed

    m, cfg = _live_mgmt()
    for ln in ("crypto isakmp policy 1", "authentication pre-share"):
        apply_line(cfg, ln, ModeState(mode="isakmp" if ln.startswith("auth") else "global",
                                      target=cfg.policy(1)))
    peer = _show("show crypto mib isakmp flowmib peer", cfg).splitlines()
    assert peer == ["vrf Global", "  Index: 1", "  Local type: ID_IPV4_ADDR",
                    "  Local address: 10.1.1.2", "  Remote type: ID_IPV4_ADDR",
                    "  Remote address: 10.1.1.1"]
    tun = _show("show crypto mib isakmp flowmib tunnel", cfg).splitlines()
    for line in ("  Negotiation mode: Main Mode", "  Diffie Hellman Grp: 1",
                 "  Encryption algo: des", "  Hash algo: sha", "  Auth method: psk",
                 "  Lifetime: 86400", "  Active time: 00:05:47", "  Policy priority: 1",
                 "  Keepalive enabled: No"):
        assert line in tun, (line, tun)
    (p,) = [t.pair for t in m.flowmib.ipsec.values()]
    m.on_event(ChildSaDown(p.peer, p.inbound_spis, p.outbound_spis, "cleared"), 30.0)
    m.on_event(IkeSaDown(("10.1.1.1", 500), ("10.1.1.2", 500), b"i" * 8, b"r" * 8,
                         "peers alive"), 31.0)
    m.on_event(NegotiationFailed("Quick Mode timed out", "10.1.1.1", 2), 40.0)
    hist = _show("show crypto mib ipsec flowmib history", cfg)
    assert "  Reason:                        Operation request\n" in hist
    assert "  In octets:                     400\n" in hist
    ih = _show("show crypto mib isakmp flowmib history", cfg).splitlines()
    assert ih[1:3] == ["Reason: peer lost", "Index: 1"]
    fail = _show("show crypto mib ipsec flowmib failure", cfg).splitlines()
    assert fail[1:4] == ["  Index: 1", "  Reason: Quick Mode timed out",
                         "  Failure time since reset: 00:00:40"]
    assert _show("show crypto mib isakmp flowmib failure", cfg) == "vrf Global\n"
    assert _show("show crypto mib ipsec flowmib history tunnel size", cfg) == \
        "IPSec History Window Size: 200\n"


def test_peer_description_of_80_characters() -> None:
    """TB-2 (seed 001 L222): an 80-character description is accepted and shown unchanged."""
    text = "x" * 70 + " site A 01"
    assert len(text) == 80
    out = _out("show crypto isakmp peer", "crypto isakmp peer address 10.2.2.9",
               f"description {text}")
    assert f"Description: {text}" in out and "Peer: 10.2.2.9 Port: 500" in out
