"""``python -m engine``: the IPsec engine daemon (see docs/CONTRACTS.md).

    python -m engine --config FILE --dialect ios|ar --control SOCKET_PATH \\
        --interfaces 'GigabitEthernet0/0/0=eth0,GigabitEthernet0/0/1=eth1' \\
        --log LOGFILE [--syslog HOST:PORT] [--clock-scale N] [--name r1]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path


def parse_interfaces(text: str) -> dict[str, str]:
    """``'Gi0/0=eth0,Gi0/1=eth1'`` → ``{'Gi0/0': 'eth0', 'Gi0/1': 'eth1'}``."""
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        dev, sep, lab_if = item.partition("=")
        if not sep or not dev.strip() or not lab_if.strip():
            raise argparse.ArgumentTypeError(
                f"--interfaces: {item!r} is not DEVICE=IFNAME")
        out[dev.strip()] = lab_if.strip()
    return out


def parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"--syslog: {text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--clock-scale: {text!r} is not a number") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"--clock-scale: must be > 0, got {text}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engine",
                                description="User-space IKEv1/IPsec engine (one per router node)")
    p.add_argument("--config", required=True, type=Path, help="device configuration file")
    p.add_argument("--dialect", choices=("ios", "ar"), default="ios")
    p.add_argument("--control", required=True, type=Path, help="control socket path")
    p.add_argument("--interfaces", type=parse_interfaces, default={},
                   help="device=lab interface map, comma separated")
    p.add_argument("--log", type=Path, default=None, help="log file (default: stderr)")
    p.add_argument("--syslog", type=parse_hostport, default=None, metavar="HOST:PORT",
                   help="send IOS-style syslog lines to this UDP collector")
    p.add_argument("--clock-scale", type=positive_float, default=1.0,
                   help="protocol seconds per real second")
    p.add_argument("--name", default=None, help="node name (logs, TUN name)")
    p.add_argument("--no-dataplane", action="store_true",
                   help="control plane only: no TUN, rules or raw sockets (tests)")
    p.add_argument("--ike-port", type=int, default=500, help=argparse.SUPPRESS)
    p.add_argument("--natt-port", type=int, default=4500, help=argparse.SUPPRESS)
    return p


def setup_logging(path: Path | None, name: str | None) -> None:
    handler: logging.Handler
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path)
    else:
        handler = logging.StreamHandler(sys.stderr)
    tag = f"{name} " if name else ""
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s {tag}%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log, args.name)
    from engine.runner import Runner, load_config

    config, errors = load_config(args.config, args.dialect, args.interfaces)
    for text in errors:  # device format, as the device prints them at boot
        print(text, file=sys.stderr, flush=True)
        logging.getLogger("engine.config").error("%s", text)
    runner = Runner(config, args)

    def on_signal(signum: int, _frame: object) -> None:
        logging.getLogger("engine").info("signal %d: shutting down", signum)
        runner.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    profile = os.environ.get("ENGINE_PROFILE")  # developer aid: cProfile dump path
    try:
        if profile:
            import cProfile

            cProfile.runctx("runner.run()", globals(), {"runner": runner},
                            f"{profile}.{args.name or os.getpid()}")
        else:
            runner.run()
    finally:
        runner.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
