"""IPsec usability enhancements: default IKE policies and default transform sets (seed 001 ch. 6).

Neither router has a ``crypto isakmp policy`` nor a transform set. The default
IKE policies (65507-65514, Table 7, L2433-2443) are used when no policy is
configured (L2411) and the default transform sets (Table 8, L2570-2574) by every
crypto map without one (L2563-2566): the tunnel must come up with the
highest-priority default that fits pre-shared keys (65508: AES, SHA, DH group 5)
and an ESP AES + SHA-HMAC IPsec SA; with ``no crypto isakmp default policy``
no ISAKMP SA can be negotiated.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from lab import Lab
from reports.scenario import Scenario

HERE = Path(__file__).resolve().parent / "defaults"
TOPO = HERE / "engine.yaml"
SCENARIO = Scenario(
    seed="001_983f8f9dda4afa9a.txt", lines=(2326, 3356),
    section="IPsec usability enhancements: default IKE policies and default transform sets",
    chapter="Chapter 6",
    claim="Without configured ISAKMP policies or transform sets, two routers negotiate IKE with "
          "the default IKE policies and IPsec with the default transform sets; disabling the "
          "default policies leaves nothing to negotiate.",
    feature="mgmt-usability-defaults", topology="scenarios/mgmt/defaults/engine.yaml",
    peers=("engine",),
    notes=("Which default policy is chosen follows L2399: the lowest priority number common to "
           "both peers that fits the authentication method (pre-shared key: 65508).",))


def _state(node) -> dict:
    return node.cli("lab state", json=True) or {}


def test_defaults_negotiate(ev, peer: str) -> None:
    ev.topology(TOPO)
    ev.config("r1", HERE / "r1.cfg", label="engine, no policy / transform set")
    ev.config("r2", HERE / "r2.cfg", label="engine peer, no policy / transform set")
    with ExitStack() as stack:
        with ev.step("bring up the lab"):
            lab = stack.enter_context(Lab.up(TOPO))
        with ev.collecting(lab, nodes=("r1", "r2")):
            r1 = lab.node("r1")
            ev.show(r1, "show crypto isakmp default policy", label="L2480-2547")
            ev.show(r1, "show crypto ipsec default transform-set", label="L2591-2613")
            with ev.step("h1 pings h2"):
                res = lab.node("h1").ping("10.0.2.2", count=4, interval=0.2, wait=2)
                ev.note(res.output)
            ev.check("the tunnel comes up with no policy and no transform set configured "
                     "(L2411, L2563)", res.received, ">= 3", ok=res.received >= 3)
            ike = (_state(r1).get("isakmp_sas") or [{}])[0]
            ev.check("phase 1 = default policy 65508 (PSK, AES, SHA, DH5; Table 7 L2433-2443)",
                     (ike.get("encryption"), ike.get("hash"), ike.get("group"),
                      ike.get("lifetime")), ("aes128", "sha1", 5, 86400))
            keys = r1.cli("lab keys", json=True) or []
            ev.check("phase 2 = default transform set: ESP AES-128 + SHA-1 HMAC "
                     "(#!default_transform_set_1, Table 8 L2570-2574)",
                     sorted({(k["proto"], k["encr"], k["integ"]) for k in keys}),
                     [("esp", "aes128", "hmac-sha1-96")])
            ev.show(r1, "show crypto ipsec sa", label="negotiated with the defaults")


def test_no_default_policy_no_phase1(ev, peer: str) -> None:
    ev.topology(TOPO)
    with ExitStack() as stack:
        with ev.step("bring up the lab; 'no crypto isakmp default policy' on r1 (L2541-2546)"):
            lab = stack.enter_context(Lab.up(TOPO))
            lab.node("r1").cli("lab config no crypto isakmp default policy")
        with ev.collecting(lab, nodes=("r1", "r2")):
            r1 = lab.node("r1")
            ev.check("show crypto isakmp default policy is empty once disabled (L2541-2546)",
                     ev.show(r1, "show crypto isakmp default policy").strip(), "")
            with ev.step("h1 pings h2"):
                res = lab.node("h1").ping("10.0.2.2", count=3, interval=0.3, wait=1)
            ev.check("no echo reply crosses", res.received, 0)
            ev.check("no ISAKMP SA on r1 (no policy left to offer)",
                     _state(r1).get("isakmp_sas"), [])
