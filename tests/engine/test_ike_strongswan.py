"""IkeEngine against a real strongSwan 5.9.8 charon (IKEv1, PSK) in network namespaces.

    e1 (IkeEngine over UDP 500/4500, this process) ==== s2 (charon, kernel-libipsec)

strongSwan with libipsec fakes a NAT (NAT-D mismatch), so every run also
exercises the RFC 3947 float to port 4500 and UDP-encapsulation modes.
Checks: both sides establish; the engine's SPIs and keys equal the ones
charon derived (exported from its log, lab/strongswan_keys.py).
"""

from __future__ import annotations

import ipaddress
import shutil
import textwrap
from pathlib import Path

import pytest

from engine.config.model import IsakmpPolicy
from engine.ike import ChildSaUp, IkeEngine, IkeSaUp, PacketSelector
from tests.engine.ike_helpers import make_config

pytestmark = pytest.mark.skipif(
    not shutil.which("swanctl") or not Path("/usr/lib/ipsec/charon").exists(),
    reason="strongSwan not installed",
)

PSK = "interop-psk-1"
E1, S2 = "10.0.0.1", "10.0.0.2"


def _swanctl(aggressive: bool, ike: str, esp: str, start: bool, dpd: str = "0s") -> str:
    return textwrap.dedent(f"""\
        connections {{
          engine {{
            version = 1
            aggressive = {"yes" if aggressive else "no"}
            local_addrs = {S2}
            remote_addrs = {E1}
            proposals = {ike}
            rekey_time = 24h
            dpd_delay = {dpd}
            local {{
              auth = psk
              id = {S2}
            }}
            remote {{
              auth = psk
              id = {E1}
            }}
            children {{
              net {{
                local_ts = 192.168.2.0/24
                remote_ts = 192.168.1.0/24
                esp_proposals = {esp}
                life_time = 3600s
                rekey_time = 3240s
                start_action = none
              }}
            }}
          }}
        }}
        secrets {{
          ike-e1 {{
            id-a = {S2}
            id-b = {E1}
            secret = "{PSK}"
          }}
        }}
        """)


def _topology(tmp: Path, swanctl: str) -> Path:
    (tmp / "s2.swanctl.conf").write_text(swanctl)
    topo = tmp / "ike-sw.yaml"
    topo.write_text(
        textwrap.dedent(f"""\
        name: ike-sw
        nodes:
          e1: {{kind: host}}
          s2: {{kind: strongswan, config: s2.swanctl.conf}}
          h2: {{kind: host}}
        links:
          - {{a: e1:eth0, b: s2:eth0, a_addr: {E1}/24, b_addr: {S2}/24}}
          - {{a: s2:eth1, b: h2:eth0, a_addr: 192.168.2.1/24, b_addr: 192.168.2.10/24}}
        """)
    )
    return topo


CASES = [
    # id, aggressive, engine initiates, IOS policy (encr, bits, hash, group), pfs, sw ike, sw esp
    (
        "mm-e1-init-pfs5",
        False,
        True,
        ("aes", 256, "sha512", 5),
        5,
        "aes256-sha512-modp1536",
        "aes256-sha256-modp1536",
    ),
    (
        "mm-sw-init-pfs15",
        False,
        False,
        ("aes", 128, "sha384", 15),
        15,
        "aes128-sha384-modp3072",
        "aes128-sha1-modp3072",
    ),
    ("am-sw-init-des", True, False, ("des", None, "sha", 1), None, "des-sha1-modp768", "des-md5"),
    (
        "mm-e1-init",
        False,
        True,
        ("aes", 128, "sha", 14),
        None,
        "aes128-sha1-modp2048",
        "aes128-sha1",
    ),
    (
        "mm-sw-init",
        False,
        False,
        ("aes", 256, "sha256", 5),
        None,
        "aes256-sha256-modp1536",
        "aes256-sha1",
    ),
    (
        "am-e1-init-pfs",
        True,
        True,
        ("3des", None, "md5", 2),
        2,
        "3des-md5-modp1024",
        "3des-md5-modp1024",
    ),
    (
        "am-sw-init-pfs",
        True,
        False,
        ("aes", 192, "sha", 14),
        14,
        "aes192-sha1-modp2048",
        "aes192-sha1-modp2048",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_interop_strongswan(case, tmp_path):
    import lab.strongswan as sw
    from lab import Lab
    from tests.engine.ike_udp import UdpDriver, sockets_in_netns

    name, aggressive, e1_init, (encr, bits, hsh, grp), pfs, sw_ike, sw_esp = case
    esp_encr = sw_esp.split("-")[0]
    esp_integ = {"sha1": "hmac-sha1-96", "md5": "hmac-md5-96", "sha256": "hmac-sha256-128"}[
        sw_esp.split("-")[1]
    ]
    cfg = make_config(
        E1,
        S2,
        "192.168.1.0/24",
        "192.168.2.0/24",
        psk=PSK,
        pfs=pfs,
        aggressive=aggressive and e1_init,
        esp_encr=esp_encr,
        esp_integ=esp_integ,
        policies=[IsakmpPolicy(10, encr, bits, hsh, "pre-share", grp)],
    )
    topo = _topology(tmp_path, _swanctl(aggressive, sw_ike, sw_esp, start=False))
    with Lab.up(topo) as lab:
        s2 = lab.node("s2")
        engine = IkeEngine(cfg, [E1])
        drv = UdpDriver(engine, sockets_in_netns(lab.node("e1").netns, E1)).start()
        try:
            if e1_init:
                with drv.lock:
                    assert engine.acquire(
                        PacketSelector("192.168.1.10", "192.168.2.10", 1), drv.now()
                    )
                    drv.flush()
            else:
                sw.initiate(s2, "net", ike="engine", timeout=10)
            (up,) = drv.wait_for(IkeSaUp, 10)
            (child,) = drv.wait_for(ChildSaUp, 10)
            sw.wait_child_sa(s2, "net", timeout=5)
        finally:
            drv.stop()
            log = sw.paths(s2)["log"]
            if log.exists():
                shutil.copy(log, tmp_path / "charon.log")  # kept for post-mortems
        # strongSwan/libipsec fakes a NAT: we must have floated and use UDP-encapsulated ESP.
        assert (
            up.nat_t
            and up.peer == (S2, 4500)
            and up.mode == ("aggressive" if aggressive else "main")
        )
        pair = child.pair
        assert pair.udp_encap == (4500, 4500)
        assert pair.local_ts.network == ipaddress.ip_network("192.168.1.0/24")
        assert pair.pfs_group == pfs
        keys = {k["spi"]: k for k in sw.export_keys(s2)}
        (ours_in,), (ours_out,) = pair.inbound, pair.outbound
        # Our inbound SA is strongSwan's outbound one and vice versa; keys must agree.
        assert keys[ours_in.spi]["direction"] == "out"
        assert keys[ours_out.spi]["direction"] == "in"
        for mine, theirs in ((ours_in, keys[ours_in.spi]), (ours_out, keys[ours_out.spi])):
            assert theirs["encr"] == mine.encr and theirs["integ"] == mine.integ
            assert bytes.fromhex(theirs["encr_key"]) == mine.encr_key
            assert bytes.fromhex(theirs["integ_key"]) == mine.integ_key


def test_interop_lifecycle_rekey_dpd_delete(tmp_path):
    """strongSwan initiates; then: strongSwan rekeys the CHILD_SA (Quick Mode under the
    existing ISAKMP SA), both sides run DPD (RFC 3706) and answer each other, strongSwan
    deletes the CHILD_SA and the IKE_SA, the engine re-initiates and clears (DELETE)."""
    import time

    import lab.strongswan as sw
    from engine.config.model import Keepalive
    from engine.ike import ChildSaDown, IkeSaDown, Log
    from lab import Lab
    from tests.engine.ike_udp import UdpDriver, sockets_in_netns

    cfg = make_config(
        E1,
        S2,
        "192.168.1.0/24",
        "192.168.2.0/24",
        psk=PSK,
        policies=[IsakmpPolicy(10, "aes", 128, "sha", "pre-share", 14)],
        keepalive=Keepalive(1, 1, "periodic"),
    )
    topo = _topology(
        tmp_path, _swanctl(False, "aes128-sha1-modp2048", "aes128-sha1", False, dpd="1s")
    )
    with Lab.up(topo) as lab:
        s2 = lab.node("s2")
        engine = IkeEngine(cfg, [E1])
        drv = UdpDriver(engine, sockets_in_netns(lab.node("e1").netns, E1)).start()
        try:
            sw.initiate(s2, "net", ike="engine", timeout=10)
            (first,) = drv.wait_for(ChildSaUp, 10)
            sw.swanctl(s2, "--rekey", "--child", "net")
            ups = drv.wait_for(ChildSaUp, 10, count=2)
            assert ups[1].pair.inbound_spis != first.pair.inbound_spis
            time.sleep(3.5)  # several DPD rounds in each direction
            assert not [e for e in drv.events if isinstance(e, IkeSaDown)], drv.events
            sw.terminate(s2, ike="engine", timeout=10)
            drv.wait_for(IkeSaDown, 10)
            downs = drv.wait_for(ChildSaDown, 10)
            assert {d.reason for d in downs} == {"peer deleted"}
            with drv.lock:
                assert engine.acquire(PacketSelector("192.168.1.10", "192.168.2.10"), drv.now())
                drv.flush()
            drv.wait_for(ChildSaUp, 10, count=len(ups) + 1)
            with drv.lock:
                engine.clear_isakmp(drv.now())
                drv.flush()
            time.sleep(0.5)
        finally:
            drv.stop()
            log = sw.paths(s2)["log"].read_text(errors="replace")
            (tmp_path / "charon.log").write_text(log)
        assert "HASH N(DPD) ]" in log and "HASH N(DPD_ACK) ]" in log
        assert "parsed INFORMATIONAL_V1 request" in log and "received DELETE for IKE_SA" in log
        assert any(
            str(e).startswith("%CRYPTO-5-SESSION_STATUS: Crypto tunnel is DOWN")
            for e in drv.events
            if isinstance(e, Log)
        )


def test_interop_psk_mismatch_strongswan_initiates(tmp_path):
    """strongSwan initiates Main Mode with a different pre-shared key: its message 5
    does not decrypt/verify here -> %CRYPTO-4-IKMP_BAD_MESSAGE, no SA on either side."""
    import time

    import lab.strongswan as sw
    from engine.ike import Log
    from lab import Lab
    from lab.errors import LabCommandError
    from tests.engine.ike_udp import UdpDriver, sockets_in_netns

    cfg = make_config(
        E1,
        S2,
        "192.168.1.0/24",
        "192.168.2.0/24",
        psk="not-" + PSK,
        policies=[IsakmpPolicy(10, "aes", 128, "sha", "pre-share", 14)],
    )
    topo = _topology(tmp_path, _swanctl(False, "aes128-sha1-modp2048", "aes128-sha1", False))
    with Lab.up(topo) as lab:
        engine = IkeEngine(cfg, [E1])
        drv = UdpDriver(engine, sockets_in_netns(lab.node("e1").netns, E1)).start()
        try:
            with pytest.raises(LabCommandError):
                sw.initiate(lab.node("s2"), "net", ike="engine", timeout=3)
            time.sleep(0.2)
        finally:
            drv.stop()
    bad = [str(e) for e in drv.events if isinstance(e, Log) and e.mnemonic == "IKMP_BAD_MESSAGE"]
    assert bad and bad[0] == (
        f"%CRYPTO-4-IKMP_BAD_MESSAGE: IKE message from {S2} failed its sanity check or is malformed"
    )
    assert not [e for e in drv.events if isinstance(e, (IkeSaUp, ChildSaUp))]
