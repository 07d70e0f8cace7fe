"""engine.dataplane.dplog: syslog texts of seed 000 (known answers from the document)."""

from __future__ import annotations

from engine.dataplane import dplog


def test_recvd_pkt_inv_spi_matches_seed_sample() -> None:
    # seed 000 L1397-1399 (the extraction wrapped the line after "for")
    log = dplog.invalid_spi("10.2.2.2", "ah", 0x1214F0D, "10.1.1.1")
    assert str(log) == (
        "%CRYPTO-4-RECVD_PKT_INV_SPI: decaps: rec'd IPSEC packet has invalid "
        "spi for destaddr=10.2.2.2, prot=51, spi=0x1214F0D(18960141), "
        "srcaddr=10.1.1.1"
    )
    assert (log.facility, log.severity, log.mnemonic) == ("CRYPTO", 4, "RECVD_PKT_INV_SPI")
    assert "prot=50," in str(dplog.invalid_spi("1.1.1.1", "esp", 1, "2.2.2.2"))
    assert "prot=50," in str(dplog.invalid_spi("1.1.1.1", 50, 1, "2.2.2.2"))


def test_pkt_replay_err_matches_seed_sample() -> None:
    # seed 000 L295-296
    assert str(dplog.replay_error(1)) == (
        "%CRYPTO-4-PKT_REPLAY_ERR: decrypt: replay check failed connection id=1"
    )
