"""Allied Telesis AR570S objects (seed 002), kept beside the shared model.

The AR command set configures named/numbered objects (ENCO keys, SA specs,
bundle specs, IPsec policies, ISAKMP policies); ``engine.config.ar_derive``
turns them into the shared ``Config`` (ISAKMP policies/keys, transform sets,
ACLs, crypto maps) that IKE and the runner read.  The AR objects themselves
stay in ``Config.ar`` for the AR show commands.

Citations: ``002_377d9b2fb7829bf0.txt`` line numbers (``L``), English notes in
``spec/seed002-*.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EncoKey:
    """``CREATE ENCO KEY=n TYPE=...`` (L102, L264-300)."""

    number: int
    type: str  # GENERAL | DES | 3DESINNER | 3DESOUTER ...
    value: bytes = b""
    text: str | None = None  # the quoted string form (pre-shared keys), else None
    description: str = ""
    random: bool = False

    @property
    def psk(self) -> str:
        """The pre-shared key as IKE uses it (string form, else latin-1 of the bytes)."""
        return self.text if self.text is not None else self.value.decode("latin-1")


@dataclass
class SaSpec:
    """``CREATE IPSEC SASPECIFICATION`` (L2430-2549)."""

    id: int
    keyman: str  # ISAKMP | MANUAL
    protocol: str  # ESP | AH
    mode: str = "TUNNEL"  # default TUNNEL (L2466-2468)
    encalg: str | None = None  # DES, 3DESOUTER, AES128, AES192, AES256, NULL
    hashalg: str | None = None  # MD5, SHA, NULL
    enckey: int | None = None
    hashkey: int | None = None
    inspi: int | None = None
    outspi: int | None = None
    antireplay: bool = False  # ANTIREPLAYENABLED default FALSE (L2501-2503)
    replaywindow: int = 32  # REPLAYWINDOWSIZE default 32 (L2505-2507)


@dataclass
class BundleSpec:
    """``CREATE IPSEC BUNDLESPECIFICATION`` (L2052-2134).

    ``candidates``: comma-separated alternatives, each a list of AND-ed
    protocol groups, each group the OR-ed SA spec numbers (L2083-2103).
    """

    id: int
    keyman: str
    string: str
    candidates: list[list[list[int]]] = field(default_factory=list)
    expiry_kbytes: int | None = None  # default unlimited (L2105-2109)
    expiry_seconds: int = 28800  # default 8 h (L2111-2115)


@dataclass
class ArIpsecPolicy:
    """``CREATE IPSEC POLICY`` (L2135-2429): one SPD entry on an interface."""

    name: str
    interface: str
    action: str  # DENY | IPSEC | PERMIT
    keyman: str | None = None
    bundle: int | None = None
    peer: str | None = None  # address, hostname, ANY or DYNAMIC
    laddress: str = "ANY"  # ANY, a.b.c.d or a.b.c.d-e.f.g.h
    lmask: str | None = None  # default host mask (L2238-2273, L624-626)
    lname: str = "ANY"
    lport: str = "ANY"
    raddress: str = "ANY"
    rmask: str | None = None
    rname: str = "ANY"
    rport: str = "ANY"
    transport: str = "ANY"  # TRANSPORTPROTOCOL name or number
    ipversion: int = 4
    dfbit: str = "CLEAR"  # default CLEAR (L2275-2285)
    group: int = 1  # PFS group, only with USEPFSKEY (L2287-2291)
    usepfskey: bool = False
    udptunnel: bool = False
    udpheartbeat: bool = False
    udpport: int = 2746
    isakmppolicy: str | None = None
    srcinterface: str | None = None
    iproutetemplate: str | None = None
    icmptype: str | None = None
    respondbadspi: bool = False
    debug: set[str] = field(default_factory=set)


@dataclass
class ArIsakmpPolicy:
    """``CREATE ISAKMP POLICY`` (L2550-2864), defaults from L2600-2819."""

    name: str
    peer: str  # address, hostname or ANY
    authtype: str = "PRESHARED"
    key: int | None = None
    encalg: str = "DES"
    hashalg: str = "SHA"
    group: int = 1
    mode: str = "MAIN"
    expiry_seconds: int = 86400
    expiry_kbytes: int | None = None
    natt: bool = False
    dpdmode: str = "NONE"
    dpdidletimeout: int = 20
    msgtimeout: int = 4
    msgretrylimit: int = 8
    msgbackoff: str = "INCREMENTAL"
    localid: str | None = None
    remoteid: str | None = None
    sendnotify: bool = False
    senddeletes: bool = False
    xauth: str = "NONE"
    xauthname: str | None = None
    xauthpassword: str | None = None
    rekey: bool = False
    #: every other parameter as given (name -> value text), for show/detail.
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class ArState:
    """Everything AR-specific, in creation order."""

    enco_keys: dict[int, EncoKey] = field(default_factory=dict)
    saspecs: dict[int, SaSpec] = field(default_factory=dict)
    bundles: dict[int, BundleSpec] = field(default_factory=dict)
    policies: list[ArIpsecPolicy] = field(default_factory=list)
    isakmp_policies: list[ArIsakmpPolicy] = field(default_factory=list)
    ipsec_enabled: bool = False
    isakmp_enabled: bool = False
    ipsec_udpport: int = 2746  # SET IPSEC UDPPORT (L4413-4431)
    isakmp_udpport: int = 500
    isakmp_debug: set[str] = field(default_factory=set)

    def policy(self, name: str) -> ArIpsecPolicy | None:
        low = name.lower()
        return next((p for p in self.policies if p.name.lower() == low), None)

    def isakmp_policy(self, name: str) -> ArIsakmpPolicy | None:
        low = name.lower()
        return next((p for p in self.isakmp_policies if p.name.lower() == low), None)

    def interface_policies(self, interface: str) -> list[ArIpsecPolicy]:
        """Policies of one interface in lookup order (creation/POSITION order)."""
        low = interface.lower()
        return [p for p in self.policies if p.interface.lower() == low]

    def interfaces(self) -> list[str]:
        """Interfaces with policies, in order of their first policy."""
        out: list[str] = []
        for p in self.policies:
            if p.interface.lower() not in (i.lower() for i in out):
                out.append(p.interface)
        return out
