"""AR570S IPsec policies as an ordered SPD: PERMIT passes, DENY drops, implicit deny-all.

Seed 002: policies of an interface are searched in creation order, the first match wins
(L147-151, L747-749); ACTION=PERMIT passes the packet without IPsec, DENY discards it
(Table 3, L485-497); as soon as one policy exists on an interface an implicit deny-all
ends the list, so without the final PERMIT policy (``inet``, L192-196) nothing outside
the VPN can be communicated on that interface (L736-741).  POSITION inserts a policy
into the list (L2356-2358).  Router A runs the basic configuration (L102-223); the
policies are changed at the AR prompt, where commands configure directly.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from lab import Lab
from lab.errors import LabCommandError
from reports.scenario import Scenario

HERE = Path(__file__).resolve().parent / "ar_spd"
TOPOLOGY = HERE / "engine.yaml"
SCENARIO = Scenario(
    seed="002_377d9b2fb7829bf0.txt", lines=(413, 761),
    section="IPsec policies (SPD): order, PERMIT/DENY/IPSEC actions, implicit deny-all",
    chapter="IPsec (AR570S)",
    claim="Policies are matched in order with the first match deciding; PERMIT passes clear, "
          "DENY drops, and without a final PERMIT policy the implicit deny-all blocks all "
          "non-VPN traffic on the interface while the VPN keeps working.",
    feature="ar-spd", topology="scenarios/ar/ar_spd/engine.yaml", peers=("engine",),
    notes=("The ISP router routes the LAN prefixes (instead of the NAT of L198-200) so that "
           "LAN A can reach the Internet host in clear when the SPD allows it.",
           "The DENY policy 'block' (RAD=3.3.3.3, POSITION=2) is the lab's: the seed documents "
           "ACTION=DENY (Table 3) without an example."),
)  # fmt: skip

WEB, H2, ISP = "3.3.3.3", "192.168.20.10", "3.3.3.254"


def _pings(lab, dst: str) -> int:
    return lab.node("h1").ping(dst, count=3, interval=0.3, wait=1).received


def test_ar_spd_order_and_implicit_deny(ev, peer: str) -> None:
    ev.topology(TOPOLOGY)
    ev.config("r1", HERE.parent / "ar_ios" / "r1.cfg", label="engine --dialect ar (L102-223)")
    with ExitStack() as stack:
        with ev.step("bring up ar-spd"):
            lab = stack.enter_context(Lab.up(TOPOLOGY))
        with ev.collecting(lab, nodes=("r1", "r2")):
            _run(ev, lab)


def _run(ev, lab) -> None:
    r1 = lab.node("r1")
    ev.show(r1, "show ipsec policy", label="basic configuration")
    with ev.step("LAN A -> Internet host and LAN A -> LAN B"):
        web, vpn = _pings(lab, WEB), _pings(lab, H2)
    ev.check("policy inet (PERMIT, last) passes Internet traffic in clear (L192-196)", web, 3)
    ev.check("policy vpn protects LAN A -> LAN B", vpn, ">= 2", ok=vpn >= 2)
    with ev.step("DESTROY IPSEC POLICY=inet at the AR prompt"):
        ev.note(r1.cli("DESTROY IPSEC POLICY=inet") or "(no output)")
        web, vpn = _pings(lab, WEB), _pings(lab, H2)
    ev.check("without a final PERMIT the implicit deny-all drops Internet traffic (L736-741)",
             web, 0)  # fmt: skip
    ev.check("... while the VPN still works (L192-194)", vpn, 3)
    with ev.step("CREATE inet again, then a DENY policy for the web host at POSITION=2"):
        r1.cli("CREATE IPSEC POLICY=inet INT=ppp0 ACTION=PERMIT")
        r1.cli(f"CREATE IPSEC POLICY=block INT=ppp0 ACTION=DENY RAD={WEB} POSITION=2")
        listing = ev.show(r1, "show ipsec policy", label="with the DENY policy")
        web, isp, vpn = _pings(lab, WEB), _pings(lab, ISP), _pings(lab, H2)
    order = [ln.split()[1] for ln in listing.splitlines() if ln.startswith("ppp0")]
    ev.check("POSITION=2 inserts block after isa (L2356-2358)", order,
             ["isa", "block", "vpn", "inet"])  # fmt: skip
    ev.check("DENY drops the web host's traffic (first match, before inet)", web, 0)
    ev.check("other Internet traffic still passes through inet", isp, 3)
    ev.check("the VPN is unaffected", vpn, 3)
    try:
        r1.cli("CREATE IPSEC POLICY=block INT=ppp0 ACTION=PERMIT")
        refused = ""
    except LabCommandError as exc:
        refused = str(exc)
    ev.check("a duplicate policy name is refused with an AR error line",
             "Error (181007): IPSEC policy block already exists." in refused, True)  # fmt: skip
    web = _pings(lab, WEB)
    ev.check("the refused command changed nothing (web still blocked)", web, 0)
