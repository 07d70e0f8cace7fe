"""Management-plane configuration lines (seed 001 ch. 4-5) parsed into ``Config.mgmt``."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from engine.config import load_config
from engine.config.ios import ModeState, apply_line, prompt
from engine.config.model import Config

CONFIGS = Path(__file__).parent / "configs"


def _apply(lines: str) -> Config:
    cfg, st = Config(), ModeState()
    for ln in lines.strip().splitlines():
        assert apply_line(cfg, ln, st) is None, ln
    return cfg


def test_accounting_example_with_profile() -> None:
    """seed 001 L1997-2001, L2094-2097: AAA list, periodic update, RADIUS host, ports, key."""
    g = load_config(CONFIGS / "s001_accounting_isakmp_profile.cfg").mgmt
    assert g.aaa_new_model and g.session_id_common and g.update_periodic == 1
    acc = g.accounting_lists["ipsecaaa"]
    assert (acc.record, acc.broadcast, acc.groups) == ("start-stop", False, ["radius"])
    (srv,) = g.radius_servers
    assert (str(srv.address), srv.auth_port, srv.acct_port, srv.key) == (
        "172.27.162.206", 1645, 1646, "cisco123")
    assert g.radius_retransmit == 3 and g.radius_vsa_accounting


def test_accounting_example_without_profile() -> None:
    """seed 001 L2160: ``crypto map test client accounting list ipsecaaa``."""
    cfg = load_config(CONFIGS / "s001_accounting_no_profile.cfg")
    assert cfg.mgmt.crypto_map_accounting == {"test": "ipsecaaa"}


def test_isakmp_profile_mode() -> None:
    """seed 001 L1915-1927: the profile sub-mode (``conf-isa-prof``) and its commands."""
    cfg, st = Config(), ModeState()
    assert apply_line(cfg, "crypto isakmp profile cisco", st) is None
    assert prompt(cfg, st) == "Router(conf-isa-prof)#"
    for ln in ("vrf cisco", "match identity group cisco", "client authentication list cisco",
               "isakmp authorization list cisco-client", "client configuration address respond",
               "accounting acc", "match identity address 10.1.1.0 255.255.255.0", "exit"):
        assert apply_line(cfg, ln, st) is None, ln
    p = cfg.mgmt.isakmp_profiles["cisco"]
    assert (p.vrf, p.match_groups, p.accounting, p.client_configuration) == (
        "cisco", ["cisco"], "acc", "respond")
    assert p.match_addresses == [ipaddress.IPv4Network("10.1.1.0/24")]
    assert st.mode == "global"


def test_radius_defaults_and_global_key() -> None:
    cfg = _apply("""
radius-server host 10.9.0.2
radius-server key nsite
radius-server timeout 2
aaa accounting network acc stop-only broadcast group radius
aaa accounting update periodic 2147483647
""")
    g = cfg.mgmt
    (srv,) = g.radius_servers
    assert (srv.auth_port, srv.acct_port, srv.key) == (1645, 1646, None)
    assert g.radius_key_for(srv) == "nsite" and g.radius_timeout == 2
    assert g.accounting_lists["acc"].record == "stop-only" and g.accounting_lists["acc"].broadcast
    assert g.update_periodic == 2147483647  # seed 001 L1965: 1-2147483647


def test_update_periodic_range() -> None:
    """seed 001 L1965: 0 is outside 1-2147483647 (not applied)."""
    cfg, st = Config(), ModeState()
    apply_line(cfg, "aaa accounting update periodic 0", st)
    assert cfg.mgmt.update_periodic is None


def test_snmp_traps_and_hosts() -> None:
    """seed 001 L1463-1468, L1571-1577; ch. 3 host form with version/udp-port."""
    cfg = _apply("""
snmp-server enable traps ipsec cryptomap add
snmp-server enable traps isakmp tunnel start
snmp-server enable traps isakmp tunnel stop
snmp-server host 10.9.0.3 version 2c public udp-port 1162 ipsec isakmp
crypto mib ipsec flowmib history tunnel size 130
""")
    g = cfg.mgmt
    assert g.snmp_traps == {"ipsec": ["cryptomap add"], "isakmp": ["tunnel start", "tunnel stop"]}
    (h,) = g.snmp_hosts
    assert (str(h.address), h.version, h.community, h.udp_port, h.types) == (
        "10.9.0.3", "2c", "public", 1162, ["ipsec", "isakmp"])
    assert g.ipsec_history_tunnel_size == 130
