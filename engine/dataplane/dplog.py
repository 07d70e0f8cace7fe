"""Data-plane syslog messages of seed 000 as ``engine.ike.events.Log`` events.

``%CRYPTO-4-PKT_REPLAY_ERR`` (anti-replay chapter, L292–300) and
``%CRYPTO-4-RECVD_PKT_INV_SPI`` (invalid SPI recovery chapter, L1397–1399).
"""

from __future__ import annotations

from engine.ike.events import Log

PROTO_NUMBERS = {"esp": 50, "ah": 51}


def replay_error(conn_id: int) -> Log:
    """``%CRYPTO-4-PKT_REPLAY_ERR: decrypt: replay check failed connection id=1`` (L295–296)."""
    return Log(
        "CRYPTO", 4, "PKT_REPLAY_ERR", f"decrypt: replay check failed connection id={conn_id}"
    )


def invalid_spi(destaddr: str, proto: str | int, spi: int, srcaddr: str) -> Log:
    """``%CRYPTO-4-RECVD_PKT_INV_SPI`` as in seed 000 L1397–1399.

    ``decaps: rec'd IPSEC packet has invalid spi for destaddr=10.2.2.2, prot=51,
    spi=0x1214F0D(18959117), srcaddr=10.1.1.1``
    """
    prot = PROTO_NUMBERS.get(proto, proto) if isinstance(proto, str) else proto
    return Log(
        "CRYPTO",
        4,
        "RECVD_PKT_INV_SPI",
        f"decaps: rec'd IPSEC packet has invalid spi for destaddr={destaddr}, "
        f"prot={prot}, spi=0x{spi:X}({spi}), srcaddr={srcaddr}",
    )
