"""``python -m lab``: up, down, ls, exec, cli, capture (``./lab.sh`` passes its arguments here)."""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from lab import names, realize
from lab.errors import LabCommandError, LabError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lab", description="IPsec conformance lab: network "
                                "namespaces built from topology YAML files.")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("up", help="bring a topology up; prints the run name")
    s.add_argument("topology", type=Path)
    s.add_argument("--run", help="run name (default: <topology>-<random>)")
    s.add_argument("--no-daemons", action="store_true", help="namespaces only, no daemons")
    s.add_argument("--wait", action="store_true",
                   help="stay in the foreground; tear down on Ctrl-C/SIGTERM")
    s = sub.add_parser("down", help="tear a run down (or every lab run and leftover)")
    s.add_argument("run", nargs="?")
    s.add_argument("--all", action="store_true",
                   help="every `up` run and every leftover of crashed runs (runs whose "
                        "owning process is alive, e.g. running tests, are spared)")
    s.add_argument("--force", action="store_true", help="with --all: spare nothing")
    s.add_argument("--match", default="*", help="with --all: only runs matching this glob")
    sub.add_parser("ls", help="list runs")
    s = sub.add_parser("check", help="validate topology files (no root needed)")
    s.add_argument("topology", type=Path, nargs="+")
    s = sub.add_parser("exec", help="run a command inside a node (exit status passed through)")
    s.add_argument("run")
    s.add_argument("node")
    s.add_argument("command", nargs=argparse.REMAINDER)
    s = sub.add_parser("cli", help="device command on a node's daemon")
    s.add_argument("run")
    s.add_argument("node")
    s.add_argument("command")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("capture", help="capture NODE:IF to a pcap file")
    s.add_argument("run")
    s.add_argument("iface", metavar="NODE:IF")
    s.add_argument("-w", "--write", type=Path, required=True)
    g = s.add_mutually_exclusive_group()
    g.add_argument("--count", type=int)
    g.add_argument("--seconds", type=float)
    s = sub.add_parser("fault", help="break things in a running lab",
                       description="link-down/link-up NODE:IF, mtu NODE:IF N, loss NODE:IF "
                       "PERCENT [--direction], nat-flush NODE, nat-rebind NODE, reboot NODE "
                       "(SIGKILL + restart the daemon), impair NODE:IF --delay/--duplicate/"
                       "--reorder (runs until Ctrl-C)")
    s.add_argument("run")
    s.add_argument("action", choices=["link-down", "link-up", "mtu", "loss", "nat-flush",
                                      "nat-rebind", "reboot", "impair"])
    s.add_argument("target", metavar="NODE[:IF]")
    s.add_argument("value", nargs="?", type=float, help="MTU or loss percent")
    s.add_argument("--direction", default=None, help="in | out | both (loss), in | out (impair)")
    s.add_argument("--delay", type=float, default=0.0, help="impair: seconds")
    s.add_argument("--jitter", type=float, default=0.0, help="impair: seconds")
    s.add_argument("--duplicate", type=float, default=0.0, help="impair: percent")
    s.add_argument("--reorder", type=float, default=0.0, help="impair: percent")
    s.add_argument("--match", default="", help="impair: nft match, e.g. 'meta l4proto esp'")
    s = sub.add_parser("dot", help="print a topology as Graphviz (no root needed)")
    s.add_argument("topology", type=Path)
    args = p.parse_args(argv)
    try:
        return int(globals()[f"cmd_{args.cmd}"](args) or 0)
    except BrokenPipeError:  # `... | head`
        sys.stderr.close()
        return 0
    except LabCommandError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 2


def cmd_check(args: argparse.Namespace) -> int:
    from lab.schema import load_topology

    for path in args.topology:
        t = load_topology(path)
        print(f"{path}: ok ({len(t.nodes)} nodes, {len(t.links)} links, "
              f"{len(t.segments)} segments)")
    return 0


def cmd_dot(args: argparse.Namespace) -> int:
    from lab.schema import load_topology

    sys.stdout.write(load_topology(args.topology).to_dot())
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from lab.api import Lab

    lab = Lab.start(args.topology, run=args.run, daemons=not args.no_daemons,
                    persistent=not args.wait)
    print(lab.run, flush=True)
    if not args.wait:
        return 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        lab.down()
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from lab.api import destroy
    from lab.nsexec import NETNS_DIR
    from lab.state import RunState, list_states

    if not args.all:
        if not args.run:
            raise LabError("down: name a run or use --all")
        try:
            st = RunState.load(args.run)
        except OSError:
            raise LabError(f"no run named {args.run!r} (see `python -m lab ls`)") from None
        errors = destroy(st)
        for e in errors:
            print(f"lab: {e}", file=sys.stderr)
        return 1 if errors else 0
    errors = []
    states = [st for st in list_states() if fnmatch.fnmatchcase(st.run, args.match)]
    spared = {st.run for st in states
              if not args.force and not st.persistent and st.owner_alive()}
    claimed = {n for st in list_states() if st.run in spared or
               not fnmatch.fnmatchcase(st.run, args.match) for n in st.namespaces}
    runs = 0
    for st in states:
        if st.run not in spared:
            errors += destroy(st)
            runs += 1
    # Leftovers without state: namespaces carrying the prefix, processes with LAB_RUN.
    leftovers = [n for n in _list_netns(NETNS_DIR) if names.is_lab_ns(n) and n not in claimed
                 and (names.run_of_ns(n) or "") not in spared
                 and fnmatch.fnmatchcase(names.run_of_ns(n) or n, args.match)]
    errors += realize.remove_namespaces(leftovers)
    stray = [pid for pid, run in realize.lab_run_pids().items()
             if run not in spared and fnmatch.fnmatchcase(run, args.match)
             and run not in {st.run for st in list_states()}]
    realize.kill_pids(stray)
    print(f"removed {runs} run(s), {len(leftovers)} leftover namespace(s), "
          f"{len(stray)} stray process(es)" + (f"; spared {len(spared)} run(s) whose owner "
                                               "is alive (--force removes them)"
                                               if spared else ""))
    for e in errors:
        print(f"lab: {e}", file=sys.stderr)
    return 1 if errors else 0


def _list_netns(d: Path) -> list[str]:
    try:
        return sorted(os.listdir(d))
    except OSError:
        return []


def cmd_ls(args: argparse.Namespace) -> int:
    from lab.state import list_states

    states = list_states()
    if not states:
        print("no labs running")
        return 0
    print(f"{'RUN':28} {'NODES':>5} {'DAEMONS':>7} {'AGE':>8}  TOPOLOGY")
    for st in states:
        alive = sum(1 for p in st.processes if p.alive())
        age = time.time() - st.created
        owner = "" if st.persistent or st.owner_alive() else "  (owner gone: `down` it)"
        print(f"{st.run:28} {len(st.nodes):5} {alive:7} {age:7.0f}s  {st.topology}{owner}")
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    from lab.api import Lab

    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        raise LabError("exec: no command given (exec RUN NODE -- CMD ...)")
    node = Lab.attach(args.run).node(args.node)
    proc = node.popen(cmd, start_new_session=False)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)


def cmd_cli(args: argparse.Namespace) -> int:
    from lab.api import Lab

    try:
        out = Lab.attach(args.run).node(args.node).cli(args.command, json=args.json)
    except LabCommandError as exc:   # the device's own error text, as a console shows it
        sys.stderr.write(exc.stderr if exc.stderr.endswith("\n") else exc.stderr + "\n")
        return 1
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        sys.stdout.write(out if str(out).endswith("\n") else f"{out}\n")
    return 0


def cmd_fault(args: argparse.Namespace) -> int:
    from lab.api import Lab

    lab = Lab.attach(args.run)
    f, a, t = lab.faults, args.action, args.target
    if a in ("mtu", "loss") and args.value is None:
        raise LabError(f"fault {a}: give a value (MTU bytes or loss percent)")
    if a == "link-down":
        f.link_down(t)
    elif a == "link-up":
        f.link_up(t)
    elif a == "mtu":
        f.mtu(t, int(args.value))
    elif a == "loss":
        f.loss(t, args.value, direction=args.direction or "both")
    elif a == "nat-flush":
        print(f"{f.nat_flush(t)} conntrack entries deleted")
    elif a == "nat-rebind":
        f.nat_rebind(t)
    elif a == "reboot":
        f.reboot(t)
        print(f"{t}: daemon restarted, pid {lab.node(t).daemon_pid}")
        lab.state.save()
    elif a == "impair":
        imp = f.impair(t, direction=args.direction or "in", delay=args.delay,
                       jitter=args.jitter, duplicate=args.duplicate, reorder=args.reorder,
                       match=args.match)
        print(f"impairing {t} until Ctrl-C", file=sys.stderr, flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        finally:
            imp.stop()
        print(f"{imp.stats}", file=sys.stderr)
    return 0


def cmd_capture(args: argparse.Namespace) -> int:
    from lab.api import Lab

    lab = Lab.attach(args.run)
    cap = lab.capture(args.iface, pcap=args.write, count=args.count)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    deadline = time.monotonic() + args.seconds if args.seconds else None
    with cap:
        while not stop.is_set():
            if deadline and time.monotonic() >= deadline:
                break
            if args.count is not None and len(cap.raw) >= args.count:
                break
            stop.wait(0.05)
    print(f"{len(cap.raw)} packets written to {args.write}", file=sys.stderr)
    return 0
