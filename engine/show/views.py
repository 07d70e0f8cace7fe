"""Dataclass views of the engine's runtime state, filled by the runner.

The formatters in ``engine/show/ios.py`` print these in the device's format;
``dataclasses.asdict`` of the same objects is the JSON form.  All times are
protocol seconds (the scaled clock); ``remaining_*`` values are computed by
whoever fills the view.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class IsakmpSaView:
    """One ISAKMP (IKE phase 1) SA, a row of ``show crypto isakmp sa``."""

    dst: str  # responder address (the peer when we initiated)
    src: str
    state: str = "QM_IDLE"  # MM_NO_STATE, MM_SA_SETUP, MM_KEY_EXCH, AG_INIT_EXCH, QM_IDLE ...
    conn_id: int = 0
    slot: int = 0
    status: str = "ACTIVE"  # ACTIVE | DELETED (``(deleted)`` in the short form)
    f_vrf: str = ""
    i_vrf: str = ""
    local: str = ""  # our address (detail form "Local")
    remote: str = ""  # the peer's address (detail form "Remote")
    local_port: int = 500
    remote_port: int = 500
    encryption: str = "des"  # IOS word: des, 3des, aes, aes192, aes256
    hash: str = "sha"  # sha, md5, sha256 ...
    auth: str = "psk"  # psk, rsig, renc
    group: int = 1
    lifetime_remaining: float = 0.0  # seconds
    capabilities: str = ""  # D (DPD), N (NAT-T), K (keepalive), X (XAUTH), C (mode config)
    mode: str = "main"  # main | aggressive
    initiator: bool = True
    peer_id: str = ""
    engine_id: str = "SW"

    @property
    def deleted(self) -> bool:
        return self.status.upper() == "DELETED"


@dataclass
class IpsecCounters:
    """Per flow counters (``show crypto ipsec sa``; detail adds the error split)."""

    encaps: int = 0
    encrypt: int = 0
    digest: int = 0
    decaps: int = 0
    decrypt: int = 0
    verify: int = 0
    compressed: int = 0
    decompressed: int = 0
    not_compressed: int = 0
    compr_failed: int = 0
    not_decompressed: int = 0
    decompress_failed: int = 0
    send_errors: int = 0
    recv_errors: int = 0
    no_sa_send: int = 0
    invalid_sa_recv: int = 0
    encaps_failed_send: int = 0
    decaps_failed_recv: int = 0
    invalid_prot_recv: int = 0
    verify_failed: int = 0
    invalid_identity_recv: int = 0
    invalid_len_recv: int = 0
    replay_rollover_send: int = 0
    replay_rollover_recv: int = 0
    replay_failed_recv: int = 0
    internal_err_send: int = 0
    internal_err_recv: int = 0


@dataclass
class IpsecSaEntryView:
    """One SA of a flow (``spi: 0x...`` block)."""

    spi: int
    proto: str = "esp"  # esp | ah | pcp
    direction: str = "in"  # in | out
    transform: str = ""  # IOS words, e.g. "esp-des esp-sha-hmac"
    mode: str = "tunnel"  # tunnel | transport
    udp_encap: bool = False
    conn_id: int = 0
    flow_id: int = 0
    slot: int = 0
    crypto_map: str = ""
    engine_type: str = "Software"
    remaining_kb: int = 0
    remaining_sec: int = 0
    iv_size: int | None = None  # ESP only
    replay_detection: bool = True
    replay_window: int = 64
    status: str = "ACTIVE"

    @property
    def settings(self) -> str:
        """``in use settings ={Tunnel, }`` contents."""
        s = "Tunnel" if self.mode == "tunnel" else "Transport"
        if self.udp_encap:
            s += " UDP-Encaps"
        return s + ", "


@dataclass
class Ident:
    """Proxy identity (addr/mask/prot/port) of ``local ident`` / ``remote ident``."""

    addr: str
    mask: str
    prot: int = 0
    port: int = 0

    def __str__(self) -> str:
        return f"({self.addr}/{self.mask}/{self.prot}/{self.port})"


@dataclass
class IpsecFlowView:
    """One ``show crypto ipsec sa`` block: a crypto map entry's flow on an interface."""

    interface: str
    crypto_map: str
    local_addr: str
    local_ident: Ident
    remote_ident: Ident
    current_peer: str
    peer_port: int = 500
    seq: int = 0
    protected_vrf: str = ""
    flags: str = "origin_is_acl,"
    counters: IpsecCounters = field(default_factory=IpsecCounters)
    local_endpoint: str = ""
    remote_endpoint: str = ""
    path_mtu: int = 1500
    media_mtu: int = 1500
    ip_mtu: int | None = None
    nat_t_ports: tuple[int, int] | None = None  # (local, remote) when UDP-encapsulated
    inbound_esp: list[IpsecSaEntryView] = field(default_factory=list)
    inbound_ah: list[IpsecSaEntryView] = field(default_factory=list)
    inbound_pcp: list[IpsecSaEntryView] = field(default_factory=list)
    outbound_esp: list[IpsecSaEntryView] = field(default_factory=list)
    outbound_ah: list[IpsecSaEntryView] = field(default_factory=list)
    outbound_pcp: list[IpsecSaEntryView] = field(default_factory=list)

    @property
    def current_outbound_spi(self) -> int:
        """SPI of the outbound ESP SA (AH when there is no ESP), 0 without SA."""
        for sas in (self.outbound_esp, self.outbound_ah):
            for sa in sas:
                if sa.status == "ACTIVE":
                    return sa.spi
        return 0

    @property
    def active_sas(self) -> int:
        return sum(
            1
            for sas in (self.inbound_esp, self.inbound_ah, self.outbound_esp, self.outbound_ah)
            for sa in sas
            if sa.status == "ACTIVE"
        )


@dataclass
class IsakmpPeerView:
    """``show crypto isakmp peer`` entry."""

    address: str
    port: int = 500
    description: str | None = None
    flags: str = "PEER_POLICY"


@dataclass
class ShowState:
    """Everything the show commands read besides the configuration."""

    isakmp_sas: list[IsakmpSaView] = field(default_factory=list)
    ipsec_flows: list[IpsecFlowView] = field(default_factory=list)
    #: Current peer per crypto map entry: ``{"map/seq": "10.0.0.2"}`` (DPD failover,
    #: default peer); missing = the entry's first peer.
    current_peers: dict[str, str] = field(default_factory=dict)
    #: Interfaces' current peers for ``show crypto session`` when a flow has no SA yet.
    now: float = 0.0
    hostname: str = "Router"
