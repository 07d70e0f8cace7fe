"""FreeRADIUS in a lab namespace (lab/radius.py) receiving our Accounting-Requests."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lab.radius import RadiusOptions, av_pairs, radius_on, read_detail, write_config

TOPO = str(Path(__file__).parent / "topologies" / "radius-pair.yaml")


def _send(lab, *args: str) -> dict:
    r = lab.node("nas").exec([sys.executable, "-m", "engine.mgmt.radius", *args], check=False,
                             timeout=30)
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.topology(TOPO)
def test_freeradius_accepts_and_logs_records(lab) -> None:
    """Start and Stop reach the detail file; the server's Accounting-Response verifies."""
    with radius_on(lab.node("rad"), secret="nsite") as rad:
        server = f"{lab.addr('rad')}:1646"
        res = _send(lab, "--server", server, "--secret", "nsite", "--status", "start",
                    "--session-id", "0000000A", "--avpair", "vrf-id=cisco")
        assert res["acked"] and res["attempts"] == 1, res
        res = _send(lab, "--server", server, "--secret", "nsite", "--status", "stop",
                    "--session-id", "0000000A")
        assert res["acked"], res
        recs = rad.wait_records(lambda rs: len(rs) >= 2)
    start, stop = recs[:2]
    assert start["Acct-Status-Type"] == ["Start"] and stop["Acct-Status-Type"] == ["Stop"]
    assert start["Acct-Session-Id"] == stop["Acct-Session-Id"] == ["0000000A"]
    assert start["NAS-IP-Address"] == [lab.addr("nas")]
    assert av_pairs(start) == {"vrf-id": "cisco"}


@pytest.mark.topology(TOPO)
def test_wrong_secret_is_dropped(lab) -> None:
    """RFC 2866 §3: a bad Request Authenticator is silently discarded (no record, no reply)."""
    with radius_on(lab.node("rad"), secret="nsite") as rad:
        res = _send(lab, "--server", f"{lab.addr('rad')}:1646", "--secret", "wrong",
                    "--status", "start", "--timeout", "0.5", "--retransmit", "1")
        assert not res["acked"] and res["attempts"] == 2, res
        assert rad.records() == []


@pytest.mark.topology(TOPO)
def test_failover_and_broadcast(lab) -> None:
    """IOS tries the servers in order after ``retransmit`` retries each; ``broadcast`` lists
    (``aaa accounting network acc start-stop broadcast group radius``, seed 001 L1899) send to
    every server."""
    rad = lab.addr("rad")
    with radius_on(lab.node("rad"), secret="nsite") as server:
        res = _send(lab, "--server", f"{rad}:1700", "--server", f"{rad}:1646", "--secret",
                    "nsite", "--status", "start", "--timeout", "0.4", "--retransmit", "1")
        assert [(s["server"], s["acked"], s["attempts"]) for s in res["servers"]] == [
            (f"{rad}:1700", False, 2), (f"{rad}:1646", True, 1)]
        res = _send(lab, "--server", f"{rad}:1646", "--server", f"{rad}:1646", "--broadcast",
                    "--secret", "nsite", "--status", "stop")
        assert [s["acked"] for s in res["servers"]] == [True, True]
        recs = server.wait_records(lambda rs: len(rs) >= 3)
    assert [r["Acct-Status-Type"][0] for r in recs] == ["Start", "Stop", "Stop"]


def test_detail_parser(tmp_path: Path) -> None:
    p = tmp_path / "detail"
    p.write_text('Wed Nov 25 04:20:00 2026\n\tAcct-Session-Id = "00000001"\n'
                 '\tCisco-AVPair = "vrf-id=cisco"\n'
                 '\tCisco-AVPair = "connect-progress=No Progress"\n'
                 '\tAcct-Status-Type = Start\n\n'
                 'Wed Nov 25 04:20:05 2026\n\tAcct-Status-Type = Stop\n\n')
    recs = read_detail(p)
    assert len(recs) == 2 and recs[1] == {"Acct-Status-Type": ["Stop"]}
    assert av_pairs(recs[0]) == {"vrf-id": "cisco", "connect-progress": "No Progress"}
    assert read_detail(tmp_path / "missing") == []


def test_config_rejects_quote_in_secret(tmp_path: Path) -> None:
    from lab.errors import LabError

    with pytest.raises(LabError, match="secret"):
        write_config(tmp_path, RadiusOptions(secret='a"b'))
