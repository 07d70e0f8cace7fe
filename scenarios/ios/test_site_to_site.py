"""IOS crypto-map site-to-site tunnel, as in the documents' two-router example.

Router A (ipseca-71a) and Router B (ipseca-72a) of seed 000 chapter 4 carry
the basic crypto-map configuration: ISAKMP policy 1 (pre-share), key 1234
keyed by the peer address, transform set ``auth2`` (AH + ESP), crypto map
``testtag1`` with mirrored host-to-host ACL 150. Traffic from host 1 to
host 2 must bring the tunnel up and cross it protected; step 1 of the
chapter (L1114-1257) shows the resulting ``QM_IDLE`` IKE SA and matching
encaps/decaps counters. With strongSwan as Router B (ESP only: libipsec has
no AH), the same must hold; each side takes a turn as initiator.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from lab import Lab, strongswan
from reports.scenario import Scenario
from scenarios.ios import _ipsec

HERE = Path(__file__).resolve().parent / "site_to_site"
SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt", lines=(1114, 1812),
    section="Invalid Security Parameter Index Recovery: SAs established; configuration example",
    chapter="Chapter 4",
    claim="Two routers with matching ISAKMP policy, pre-shared key, transform set and mirrored "
          "crypto ACLs establish an IKE SA (QM_IDLE) and IPsec SAs when the first matching "
          "traffic arrives, and carry that traffic encrypted with encaps/decaps counters equal "
          "to the packets sent.",
    feature="ios-site-to-site", topology="scenarios/ios/site_to_site/engine.yaml",
    peers=("engine", "strongswan"),
    notes=("Masks 255.0.0.0 of the seed overlap on one router: the lab uses /24 and moves the "
           "routers' inside addresses to .254 so that 10.0.0.1 and 10.0.2.2 (the ACL's hosts) "
           "are real hosts; static routes point at the lab's ISP router. Lines marked "
           "'! lab:' in the loaded configs.",
           "strongSwan variant: transform set auth2 without ah-sha-hmac (libipsec does ESP only) "
           "and ESP is UDP-encapsulated on port 4500 (libipsec always encapsulates); the "
           "strongSwan node owns 10.0.2.2 itself (Router B's FastEthernet1/1 address in the "
           "seed), since libipsec cannot route a non-local /32 traffic selector.",
           "`show crypto session` / UP-ACTIVE is documented in seed 001 L356-368."))

PINGS = 5
DST_SRC = "seed L1120-1131: each router lists dst = remote peer, src = own address"
INNER = ("10.0.0.1", "10.0.2.2")
OUTER = ("10.1.1.1", "10.2.2.2")


def topology(peer: str, bad_key: bool = False) -> Path:
    return HERE / f"{peer}{'-badkey' if bad_key else ''}.yaml"


def far_name(peer: str) -> str:
    return "s2" if peer == "strongswan" else "r2"


def record_configs(ev, topo: Path, peer: str) -> None:
    import yaml

    spec = yaml.safe_load(topo.read_text())
    for name, node in spec["nodes"].items():
        if node.get("config"):
            ev.config(name, topo.parent / node["config"], label=node["kind"])
    ev.config("r1 (seed)", HERE / "r1.seed.cfg", label="verbatim from the document")


@pytest.mark.parametrize("initiator", ["r1", "far"], ids=["r1-initiates", "far-initiates"])
def test_tunnel_up_on_first_traffic(ev, peer: str, initiator: str) -> None:
    topo = topology(peer)
    far = far_name(peer)
    ev.topology(topo)
    record_configs(ev, topo, peer)
    with ExitStack() as stack:
        with ev.step(f"bring up {topo.name} (r1 engine, {far} {peer})"):
            lab = stack.enter_context(Lab.up(topo))
        with ev.collecting(lab, nodes=("r1",) + ((far,) if peer == "engine" else ())):
            try:
                _tunnel(ev, lab, peer, far, initiator)
            finally:
                if peer == "strongswan":
                    ev.show(lab.node(far), "--list-sas", label="final state")
                    ev.log(lab.node(far), lab.node(far).dir / "charon.log")


def _tunnel(ev, lab, peer: str, far: str, initiator: str) -> None:
    r1 = lab.node("r1")
    # engine peer: h2 is 10.0.2.2; strongSwan peer: s2 owns 10.0.2.2 and initiates by swanctl
    pinger, target = ("h2", INNER[0]) if (initiator == "far" and peer == "engine") else (
        "h1", INNER[1])
    ev.show(r1, "show running-config", label="as the engine loaded it")
    before = ev.show(r1, "show crypto isakmp sa", label="before traffic")
    ev.check("no IKE SA before traffic", [s for s in _ipsec.isakmp_states(before)
                                         if s[2] == "QM_IDLE"], [])
    c0 = _ipsec.ipsec_counters(ev.show(r1, "show crypto ipsec sa", label="before traffic"))
    with ev.capture(lab, "isp:eth0", keys_from=("r1", far)):
        if peer == "strongswan" and initiator == "far":
            with ev.step(f"{far} initiates (swanctl --initiate; libipsec raises no acquire)"):
                lines = strongswan.initiate(lab.node(far), "acl150", timeout=15)
                ev.note("charon: " + " | ".join(lines[-5:]))
        with ev.step(f"{pinger} pings {target} {PINGS} times (first traffic)"):
            res = lab.node(pinger).ping(target, count=PINGS, interval=0.5, wait=2)
            ev.note(res.output)
    ev.check("tunnel up on first traffic: echo replies (at most the first lost)",
             res.received, f">= {PINGS - 1}", ok=res.received >= PINGS - 1)
    ladder = ev.last_ladder()
    w = _ipsec.wire(ladder, INNER, OUTER)
    ev.check("IKE Main Mode on the wire (6 messages)", w["main_mode"], 6)
    ev.check("one Quick Mode exchange on the wire", w["quick_mode_exchanges"], 1)
    ev.check("Quick Mode messages on the wire", w["quick_mode"], 3)
    if peer == "engine":
        ev.check("AH+ESP bundle on the wire (transform set auth2)", w["ah"],
                 f">= {2 * res.received}", ok=w["ah"] >= 2 * res.received > 0)
    else:
        ev.check("ESP in UDP 4500 on the wire", w["udp_encap"], f">= {2 * res.received}",
                 ok=w["udp_encap"] >= 2 * res.received > 0)
    ev.check("no cleartext host-to-host packets between the gateways", w["clear_inner"], 0)
    ev.check("every protected packet decrypts (exported keys) to an echo or reply",
             w["decrypted_icmp"], w["esp"],
             how="reports.ladder: scapy SecurityAssociation with `lab keys` / strongSwan keys")
    after = ev.show(r1, "show crypto isakmp sa", label="after traffic")
    ev.check("show crypto isakmp sa: QM_IDLE with the peer",
             [s for s in _ipsec.isakmp_states(after) if s[2] == "QM_IDLE"],
             [(OUTER[1], OUTER[0], "QM_IDLE")], how=DST_SRC)
    sess = ev.show(r1, "show crypto session", label="after traffic")
    ev.check("show crypto session: UP-ACTIVE", _ipsec.session_status(sess), ["UP-ACTIVE"])
    c1 = _ipsec.ipsec_counters(ev.show(r1, "show crypto ipsec sa", label="after traffic"))
    delta = ev.counters("r1 show crypto ipsec sa", c0, c1)
    sent_ok = res.received
    ev.check("r1 #pkts encaps = protected packets r1 put on the wire", delta.get("encaps"),
             w["esp_out"])
    ev.check("r1 #pkts decaps = protected packets r1 received on the wire", delta.get("decaps"),
             w["esp_in"])
    ev.check("r1 #pkts encrypt = #pkts encaps", delta.get("encrypt"), delta.get("encaps"))
    if peer == "strongswan":
        child = _ipsec.strongswan_child(lab.node(far)) or {}
        ev.check("strongSwan CHILD_SA installed", child.get("state"), "INSTALLED")
        ev.check("strongSwan packets-in = echoes that crossed", child.get("packets-in"), sent_ok)
    else:
        far_txt = ev.show(lab.node(far), "show crypto isakmp sa", label="after traffic")
        ev.check(f"{far} show crypto isakmp sa: QM_IDLE",
                 [s for s in _ipsec.isakmp_states(far_txt) if s[2] == "QM_IDLE"],
                 [(OUTER[0], OUTER[1], "QM_IDLE")], how=DST_SRC)
