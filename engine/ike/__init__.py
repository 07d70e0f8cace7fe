"""Sans-I/O IKEv1 (RFC 2407/2408/2409, RFC 3706 DPD, RFC 3947 NAT-T).

    engine = IkeEngine(config, ["10.0.0.1"])       # config: engine.config.model.Config
    engine.acquire(PacketSelector(src, dst, proto), now)        # traffic needs an SA
    for d in engine.datagrams_to_send(now): ...     # Datagram(data, src, dst); dst port
                                                    # 4500 = prefix the non-ESP marker
    engine.receive_datagram(data, src, dst, now)    # never raises
    engine.handle_timer(now)                        # when now >= engine.get_timer()
    while (ev := engine.next_event()) is not None: ...   # events.py

Also: ``clear_isakmp()``, ``clear_sa()``, ``delete_child(spi)``, ``idle_expired(spi, now)``,
``send_invalid_spi(peer, spi, proto, now)``, ``note_traffic(peer, now, inbound)``,
``isakmp_sas()`` (live ``IsakmpSa``, ``.ios_state``), ``child_sas()``, ``counters``,
``peers`` (crypto map peer lists), ``debug`` (emit ``Debug`` events).

Modules: registry (IANA numbers), payloads (codec), keys (RFC 2409 §5 derivations),
sa (ISAKMP SA state, Phase 1 proposals), phase1 (MM/AM), quickmode, informational,
natt, policy (crypto maps, keys), peers (failover), liveness (notifies, DELETE, DPD),
engine (dispatch, timers).
"""

from .engine import EngineTiming, IkeEngine
from .events import (
    ChildSaDown,
    ChildSaUp,
    Datagram,
    Debug,
    IkeSaDown,
    IkeSaUp,
    IpsecSaPair,
    Log,
    NegotiationFailed,
    PacketSelector,
    SaKeys,
    TrafficSelector,
)

__all__ = [
    "ChildSaDown",
    "ChildSaUp",
    "Datagram",
    "Debug",
    "EngineTiming",
    "IkeEngine",
    "IkeSaDown",
    "IkeSaUp",
    "IpsecSaPair",
    "Log",
    "NegotiationFailed",
    "PacketSelector",
    "SaKeys",
    "TrafficSelector",
]
