"""Bad anti-replay / DF-bit / fragmentation input is rejected and changes nothing.

Seed 000 gives the window sizes of the anti-replay commands (default 64, up to
1024, L36, L103–120), the ``clear | set | copy`` keywords of ``crypto ipsec
df-bit`` (L3352–3353, L3386) and its two modes (global and interface,
L3409–3427). A running router fed out-of-range sizes or unknown keywords
answers as IOS does — the line echoed with a caret under the first bad token
and ``% Invalid input detected at '^' marker.`` — and keeps its settings: the
running configuration is unchanged and SAs negotiated afterwards still use
the document's window of 1024.
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path

from lab import Lab
from reports.scenario import Scenario

HERE = Path(__file__).resolve().parent / "antireplay"
TOPOLOGY = HERE / "engine.yaml"
SCENARIO = Scenario(
    seed="000_c6e6876e9d817ea1.txt",
    lines=(124, 288),
    section="IPsec Anti-Replay Window: configuration tasks (and DF bit override commands, "
    "L3376-3427)",
    chapter="Chapter 2",
    claim="Window sizes outside 64..1024 and df-bit / fragmentation keywords other than the "
    "documented ones are rejected with IOS's caret error; the running configuration and "
    "the behaviour of new SAs stay as they were.",
    feature="anti-replay-window",
    topology="scenarios/dataplane/antireplay/engine.yaml",
    peers=("engine",),
    notes=(
        "The seed gives no error text; the text and caret placement are IOS's generic "
        "'% Invalid input detected at '^' marker.' (as for every other rejected line).",
        "Window sizes accepted: 64, 128, 256, 512, 1024 (multiples the device offers); "
        "the seed lists 64, 128, 256 and 1024 and the maximum 1024 (L118-120).",
    ),
)

R2_OUT = "192.165.201.2"
BAD = [  # (mode lines entered first, bad line, bad token)
    ([], "crypto ipsec security-association replay window-size 2048", "2048"),
    ([], "crypto ipsec security-association replay window-size 100", "100"),
    ([], "crypto ipsec security-association replay window-size 0", "0"),
    ([], "crypto ipsec df-bit sometimes", "sometimes"),
    ([], "crypto ipsec fragmentation during-encryption", "during-encryption"),
    (["interface Serial1/0"], "crypto ipsec df-bit maybe", "maybe"),
    (
        ["crypto map mymap 10 ipsec-isakmp"],
        "set security-association replay window-size 4096",
        "4096",
    ),
    (
        ["crypto map mymap 10 ipsec-isakmp"],
        "set security-association replay sometimes",
        "sometimes",
    ),
    ([], "set security-association replay window-size 128", "set"),  # crypto-map command
]


def _crypto_lines(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if re.search(r"replay|df-bit|fragmentation|crypto map mymap", line)
    ]


def test_bad_lines_rejected_settings_kept(ev, peer: str) -> None:
    ev.topology(TOPOLOGY)
    ev.config("r1", HERE / "r1.cfg", label="seed 000 L305-366")
    with ExitStack() as stack:
        with ev.step("bring up (r1 = VPN-Gateway1, window-size 1024)"):
            lab = stack.enter_context(Lab.up(TOPOLOGY))
        with ev.collecting(lab, nodes=("r1",)):
            r1 = lab.node("r1")
            before = _crypto_lines(ev.show(r1, "show running-config", label="before"))
            for mode, line, token in BAD:
                for m in mode:
                    r1.cli(f"lab config {m}")
                try:
                    r1.cli(f"lab config {line}")
                    err = ""
                except Exception as exc:  # the device error comes back as LabError text
                    err = str(exc)
                lines = err.splitlines()
                echo = next((i for i, x in enumerate(lines) if x.endswith(line)), None)
                caret_ok = False
                if echo is not None and echo + 1 < len(lines):
                    col = lines[echo + 1].index("^") if "^" in lines[echo + 1] else -1
                    caret_ok = lines[echo][col:].startswith(token)
                ev.check(
                    f"rejected: {line!r}",
                    {
                        "invalid input": "% Invalid input detected at '^' marker." in err,
                        "caret under": token if caret_ok else None,
                    },
                    {"invalid input": True, "caret under": token},
                )
                r1.cli("lab config end")
            after = _crypto_lines(ev.show(r1, "show running-config", label="after"))
            ev.check(
                "running configuration unchanged (replay/df-bit/fragmentation lines)", after, before
            )
            with ev.step("h1 pings h2: new SAs after the rejected lines"):
                lab.node("h1").ping("172.16.2.10", count=3, interval=0.3, wait=2)
            sa = ev.show(r1, "show crypto ipsec sa detail", label="new SAs")
            ev.check(
                "new SAs use the configured window (1024), not a rejected value",
                sorted(set(re.findall(r"replay window size: (\d+)", sa))),
                ["1024"],
            )
