"""Management-plane configuration (seed 001 ch. 4-5): AAA accounting, RADIUS, ISAKMP profiles, SNMP.

Filled by the IOS dialect (``engine/config/ios_mgmt.py``), read by ``engine/mgmt``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass
class AccountingList:
    """``aaa accounting network NAME {start-stop|stop-only} [broadcast] group G...``
    (seed 001 L1899, L2001)."""

    name: str
    record: str = "start-stop"  # start-stop | stop-only
    broadcast: bool = False
    groups: list[str] = field(default_factory=list)  # "radius" or server-group names


@dataclass
class RadiusServer:
    """``radius-server host A [auth-port P] [acct-port P] [key K]`` (seed 001 L1901, L2094).
    IOS's legacy defaults are 1645/1646 (the ports the seed's examples use)."""

    address: IpAddress
    auth_port: int = 1645
    acct_port: int = 1646
    key: str | None = None  # None: the global ``radius-server key``


@dataclass
class IsakmpProfile:
    """``crypto isakmp profile NAME`` (seed 001 L1915-1927, L2027-2033)."""

    name: str
    vrf: str | None = None
    match_groups: list[str] = field(default_factory=list)  # ``match identity group G``
    match_addresses: list[ipaddress.IPv4Network] = field(default_factory=list)
    match_hosts: list[str] = field(default_factory=list)  # ``match identity host FQDN``
    accounting: str | None = None  # ``accounting LIST``
    client_authentication: str | None = None
    isakmp_authorization: str | None = None
    client_configuration: str | None = None  # initiate | respond
    keyring: str | None = None
    description: str | None = None


@dataclass
class SnmpHost:
    """``snmp-server host A [informs|traps] [version {1|2c|3 ...}] COMMUNITY
    [udp-port P] [types]``."""

    address: IpAddress
    community: str
    version: str = "1"
    informs: bool = False
    udp_port: int = 162
    types: list[str] = field(default_factory=list)


@dataclass
class MgmtConfig:
    aaa_new_model: bool = False
    accounting_lists: dict[str, AccountingList] = field(default_factory=dict)
    #: ``aaa accounting update periodic N`` (minutes, IOS; seed 001 L1965 range 1-2147483647)
    update_periodic: int | None = None
    update_newinfo: bool = False
    session_id_common: bool = False
    radius_servers: list[RadiusServer] = field(default_factory=list)
    radius_key: str | None = None
    radius_retransmit: int = 3
    radius_timeout: int = 5  # seconds
    radius_vsa_accounting: bool = False  # ``radius-server vsa send accounting``
    isakmp_profiles: dict[str, IsakmpProfile] = field(default_factory=dict)
    #: ``crypto map NAME client accounting list L`` (seed 001 L2160)
    crypto_map_accounting: dict[str, str] = field(default_factory=dict)
    snmp_communities: dict[str, str] = field(default_factory=dict)  # name -> RO|RW
    #: ``snmp-server enable traps ipsec|isakmp [...]`` (seed 001 L1463-1468): feature -> keywords
    snmp_traps: dict[str, list[str]] = field(default_factory=dict)
    snmp_hosts: list[SnmpHost] = field(default_factory=list)
    #: ``crypto mib ipsec flowmib history failure size`` / ``... tunnel size``
    ipsec_history_failure_size: int | None = None
    ipsec_history_tunnel_size: int | None = None

    def radius_key_for(self, server: RadiusServer) -> str | None:
        return server.key if server.key is not None else self.radius_key
