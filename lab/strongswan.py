"""strongSwan reference peer: node kind ``strongswan`` (one charon per node).

Each node runs Debian 12's ``/usr/lib/ipsec/charon`` (strongSwan 5.9.8)
directly (no starter) inside its network namespace and a private mount
namespace with a fresh tmpfs on ``/run`` (charon's pid file
``/var/run/charon.pid`` is compiled in); the node directory is bind-mounted
back if it lives under /run. Its ``strongswan.conf`` is generated in the node
directory and passed through ``STRONGSWAN_CONF``. The node's YAML ``config:``
is a ``swanctl.conf`` (connections and secrets), loaded with ``swanctl
--load-all --file`` once the VICI socket ``NODE_DIR/charon.vici`` answers.
Node ``options:`` are :class:`StrongswanOptions` (retransmit_tries,
retransmit_timeout, retransmit_base, log_keys, log_levels, settings =
extra dotted strongswan.conf keys, ready_timeout).

The generated ``strongswan.conf`` (verified working; ``des`` is absent
from Debian's plugin set and dropped, openssl provides DES/3DES)::

    charon {
      load = random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey
             aes sha1 sha2 md5 hmac gcm kdf kernel-libipsec kernel-netlink
             socket-default vici updown attr
      i_dont_care_about_security_and_use_aggressive_mode_psk = yes
      install_routes = yes
      routing_table = 220
      routing_table_prio = 220
      retransmit_tries = 3
      retransmit_timeout = 2.0
      retransmit_base = 1.8
      plugins { vici { socket = unix://charon.vici } }
      filelog { charon { path = NODE_DIR/charon.log
          time_format = %Y-%m-%dT%H:%M:%S  time_add_ms = yes  ike_name = yes
          flush_line = yes  append = yes
          default = 1  ike = 4  knl = 2  net = 2  cfg = 2  chd = 4  esp = 1 } }
    }
    swanctl { socket = unix://charon.vici }

Findings and quirks (5.9.8, kernel-libipsec, kernel without ESP):

* ``kernel-libipsec`` must precede ``kernel-netlink`` in ``load``; the other
  way round kernel-netlink's XFRM backend wins and every CHILD_SA fails with
  "unable to add SAD entry". libipsec creates the TUN ``ipsec0`` and routes
  the remote traffic selectors via it in table 220 (rule prio 220).
* libipsec always UDP-encapsulates ESP on port 4500 (no raw ESP): charon
  logs "faking NAT situation to enforce UDP encapsulation" and sends
  non-matching NAT-D hashes, so the peer sees strongSwan "behind NAT" even
  on a direct link, both float to 4500 and VICI reports ``nat-remote`` /
  ``nat-any`` (between two charons each sees the other "behind NAT"). The
  engine needs RFC 3947/3948 NAT-T for any interop.
* libipsec does ESP in tunnel mode only: an AH child fails with "IPsec SA:
  protocol not supported", ``mode = transport`` with "IPsec SA: unsupported
  mode" (both verified), so AH and transport-mode scenarios can only run
  engine against engine.
* libipsec raises no acquire on traffic (``start_action = trap`` only logs
  "could not find an outbound IPsec SA"); to initiate use ``start_action =
  start`` or :func:`initiate`.
* Aggressive Mode PSK as *responder* needs
  ``i_dont_care_about_security_and_use_aggressive_mode_psk = yes``.
* IKEv1 phase-1 lifetime offered = ``rekey_time`` + ``over_time`` (10 %);
  IOS accepts an offer only if it is <= its policy lifetime (86400 s), so
  configs for engine peers keep ``rekey_time`` at the 4h default.
* ``swanctl --load-all`` exits 0 even on a syntax error in the file;
  :func:`load_config` judges by its messages and raises.
* Unix socket paths are limited to 107 bytes and pytest node dirs are long,
  so the VICI socket is bound relative to the node dir (charon's and
  swanctl's cwd) and the Python client connects via ``/proc/self/fd/N/``.
* VICI omits boolean flags that are false (``initiator``, ``encap``...);
  :func:`list_sas` fills them in. ``list-sas`` with ``noblock`` skips
  IKE_SAs that are busy (e.g. right after an exchange), so it is not used.
* Key export: Debian's 5.9.8 has no ``save-keys`` plugin and VICI never
  returns keys, but ``keymat_v1.c`` logs Quick Mode keys at level 4 of
  ``chd`` ("encryption initiator key => 16 bytes @ ..." plus hex rows), so
  ``chd = 4`` is set and :func:`export_keys` (lab/strongswan_keys.py) parses
  them, pairing them with the SPIs of "CHILD_SA ... established with SPIs"
  and deciding the Quick Mode role from "generating"/"parsed QUICK_MODE
  request" of the same IKE_SA. Verified by decrypting captured ESP of
  strongSwan<->strongSwan and engine<->strongSwan tunnels, also after a
  rekey. Phase-1 keys: ``ike = 4`` logs "encryption key Ka" (RFC 2409
  §5.3), which :func:`export_ike_keys` pairs with the IKE_SA's cookies
  (Wireshark's IKEv1 decryption table); verified by decrypting Main Mode
  message 5. Node option ``log_keys: false`` keeps all keys out of the log
  (``chd``/``ike`` back to 2).
"""

from __future__ import annotations

import ctypes
import json as jsonlib
import os
import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import nsexec
from lab.daemons import NodeContext, log_tail, register, stop_process, wait_until
from lab.errors import LabCommandError, LabError
from lab.strongswan_keys import export_ike_keys, export_keys
from lab.strongswan_vici import Message, ViciError, ViciSession

CHARON = "/usr/lib/ipsec/charon"
SWANCTL = "/usr/sbin/swanctl"
PLUGIN_DIR = Path("/usr/lib/ipsec/plugins")

#: Plugins in load order; kernel-libipsec before kernel-netlink (see docstring).
PLUGINS = (
    "random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey "
    "aes des sha1 sha2 md5 hmac gcm kdf kernel-libipsec kernel-netlink "
    "socket-default vici updown attr"
).split()

#: Default filelog levels per subsystem (-1..4); chd 4 logs Quick Mode keys.
LOG_LEVELS = {"default": 1, "ike": 2, "knl": 2, "net": 2, "cfg": 2, "chd": 4, "esp": 1}


@dataclass
class StrongswanOptions:
    """Node options for kind ``strongswan`` (YAML ``options:`` of the node)."""

    retransmit_tries: int = 3
    retransmit_timeout: float = 2.0
    retransmit_base: float = 1.8
    log_keys: bool = True
    log_levels: dict[str, int] | None = None
    settings: dict[str, Any] | None = None   # extra dotted strongswan.conf keys, e.g.
    #                                          {"charon.keep_alive": 5}
    ready_timeout: float = 10.0

    @classmethod
    def from_node(cls, options: dict[str, Any], node: str) -> "StrongswanOptions":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise LabError(f"node {node}: unknown strongswan option(s) {', '.join(unknown)}"
                           f" (known: {', '.join(sorted(known))})")
        return cls(**options)


def node_ctx(obj: Any) -> NodeContext:
    """The NodeContext of ``obj``: a NodeContext, or a lab Node (``node.ctx``)."""
    if hasattr(obj, "node_dir") and hasattr(obj, "netns"):
        return obj
    ctx = getattr(obj, "ctx", None)
    if ctx is None:
        raise LabError(f"{obj!r} is neither a NodeContext nor a lab node")
    return ctx


def paths(ctx: NodeContext) -> dict[str, Path]:
    """Files of a strongSwan node inside its node directory."""
    d = node_ctx(ctx).node_dir
    return {"conf": d / "strongswan.conf", "vici": d / "charon.vici",
            "log": d / "charon.log", "stdio": d / "charon-stdio.log"}


#: VICI socket URI, relative to the node directory (charon's and swanctl's cwd):
#: node directories can be longer than the 107 bytes a unix socket path allows.
VICI_URI = "unix://charon.vici"


def vici_uri(ctx: NodeContext) -> str:
    """URI of the node's VICI socket, valid with cwd = node directory."""
    return VICI_URI


def _available_plugins() -> list[str]:
    return [p for p in PLUGINS if (PLUGIN_DIR / f"libstrongswan-{p}.so").exists()]


def _conf_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _render_tree(tree: dict[str, Any], indent: int = 0) -> list[str]:
    pad = "  " * indent
    lines: list[str] = []
    for key, value in tree.items():
        if isinstance(value, dict):
            lines.append(f"{pad}{key} {{")
            lines += _render_tree(value, indent + 1)
            lines.append(f"{pad}}}")
        else:
            lines.append(f"{pad}{key} = {_conf_value(value)}")
    return lines


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise LabError(f"strongswan setting {dotted!r}: {p!r} is a value, not a section")
    node[leaf] = value


def render_strongswan_conf(node_dir: Path, opts: StrongswanOptions) -> str:
    """Text of the node's strongswan.conf (see the module docstring)."""
    levels = dict(LOG_LEVELS)
    levels.update(opts.log_levels or {})
    if opts.log_keys:
        levels["ike"] = max(levels["ike"], 4)     # "encryption key Ka" (phase 1)
    else:
        levels["chd"] = min(levels["chd"], 2)
        levels["ike"] = min(levels["ike"], 2)
    filelog: dict[str, Any] = {
        "path": str(node_dir / "charon.log"), "time_format": "%Y-%m-%dT%H:%M:%S",
        "time_add_ms": True, "ike_name": True, "flush_line": True, "append": True,
    }
    filelog.update(levels)
    charon: dict[str, Any] = {
        "load": " ".join(_available_plugins()),
        "i_dont_care_about_security_and_use_aggressive_mode_psk": True,
        "install_routes": True,
        "routing_table": 220,
        "routing_table_prio": 220,
        "retransmit_tries": opts.retransmit_tries,
        "retransmit_timeout": opts.retransmit_timeout,
        "retransmit_base": opts.retransmit_base,
        "plugins": {"vici": {"socket": VICI_URI}},
        "filelog": {"charon": filelog},
    }
    tree: dict[str, Any] = {"charon": charon, "swanctl": {"socket": VICI_URI}}
    for dotted, value in (opts.settings or {}).items():
        _set_dotted(tree, dotted, value)
    header = "# generated by lab/strongswan.py; do not edit (rewritten at every start)\n"
    return header + "\n".join(_render_tree(tree)) + "\n"


def vici(ctx: NodeContext, timeout: float = 10.0) -> ViciSession:
    """An open-able VICI session to the node's charon (use as a context manager)."""
    ctx = node_ctx(ctx)
    return ViciSession(paths(ctx)["vici"], timeout=timeout)


def swanctl(ctx: NodeContext, *args: str, check: bool = True,
            timeout: float = 30.0) -> subprocess.CompletedProcess:
    """Run ``swanctl ARGS --uri <node socket>`` inside the node; text output."""
    ctx = node_ctx(ctx)
    argv = [SWANCTL, *args, "--uri", vici_uri(ctx)]
    env = dict(ctx.env, STRONGSWAN_CONF=str(paths(ctx)["conf"]))
    return nsexec.run_in(ctx.netns, argv, node=ctx.node, check=check, timeout=timeout,
                         env=env, cwd=ctx.node_dir)


def load_config(ctx: NodeContext, config: Path | None = None) -> str:
    """``swanctl --load-all --file CONFIG`` (default: the node's ``config:``)."""
    ctx = node_ctx(ctx)
    config = config or ctx.config
    if config is None:
        raise LabError(f"node {ctx.node}: kind strongswan needs a swanctl.conf as `config:`")
    result = swanctl(ctx, "--load-all", "--noprompt", "--file", str(config), check=False)
    # swanctl exits 0 even for a syntax error in the file; judge by its messages.
    errors = [line for line in (result.stdout + result.stderr).splitlines()
              if _LOAD_ERROR.search(line) and not line.startswith("opening directory")]
    if result.returncode != 0 or errors:
        raise LabCommandError(ctx.node, f"swanctl --load-all --file {config}",
                              result.returncode or 1, result.stdout, "\n".join(errors)
                              or result.stderr)
    return result.stdout


_LOAD_ERROR = re.compile(r"syntax error|invalid config|failed|unknown|not supported|"
                         r"invalid value|missing")


def initiate(ctx: NodeContext, child: str, ike: str | None = None,
             timeout: float = 10.0) -> list[str]:
    """Initiate CHILD_SA ``child`` (and its IKE_SA); return charon's log lines.

    Raises LabCommandError naming the node, with the control log, on failure.
    """
    ctx = node_ctx(ctx)
    msg: Message = {"child": child, "timeout": int(timeout * 1000), "init-limits": "no"}
    if ike:
        msg["ike"] = ike
    with vici(ctx, timeout=timeout + 5) as v:
        events, reply = v.streamed("initiate", "control-log", msg)
    lines = [e.get("msg", "") for e in events]
    if reply.get("success") != "yes":
        raise LabCommandError(ctx.node, f"initiate {child}", 1, "\n".join(lines),
                              reply.get("errmsg", "initiate failed"))
    return lines


def terminate(ctx: NodeContext, child: str | None = None, ike: str | None = None,
              timeout: float = 10.0, force: bool = False) -> list[str]:
    """Terminate a CHILD_SA or IKE_SA by name (sends DELETE); return log lines."""
    ctx = node_ctx(ctx)
    if not child and not ike:
        raise LabError(f"node {ctx.node}: terminate needs child= or ike=")
    msg: Message = {"timeout": int(timeout * 1000)}
    if child:
        msg["child"] = child
    if ike:
        msg["ike"] = ike
    if force:
        msg["force"] = "yes"
    with vici(ctx, timeout=timeout + 5) as v:
        events, reply = v.streamed("terminate", "control-log", msg)
    lines = [e.get("msg", "") for e in events]
    if reply.get("success") != "yes":
        raise LabCommandError(ctx.node, f"terminate {child or ike}", 1, "\n".join(lines),
                              reply.get("errmsg", "terminate failed"))
    return lines


_INT_KEYS = {"uniqueid", "reqid", "local-port", "remote-port", "bytes-in", "bytes-out",
             "packets-in", "packets-out", "use-in", "use-out", "rekey-time", "life-time",
             "install-time", "established", "reauth-time", "encr-keysize", "integ-keysize",
             "version"}


def _typed(section: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in section.items():
        if isinstance(value, dict):
            out[key] = _typed(value)
        elif key in ("spi-in", "spi-out", "cpi-in", "cpi-out"):
            out[key] = int(value, 16)
        elif key in ("initiator-spi", "responder-spi"):
            out[key] = int(value, 16)
        elif key in _INT_KEYS and isinstance(value, str) and value.isdigit():
            out[key] = int(value)
        elif value in ("yes", "no") and key in ("encap", "initiator", "nat-local",
                                                "nat-remote", "nat-fake", "nat-any"):
            out[key] = value == "yes"
        else:
            out[key] = value
    return out


def list_sas(ctx: NodeContext) -> dict[str, dict[str, Any]]:
    """IKE_SAs and their CHILD_SAs, from VICI ``list-sas``.

    Returns ``{ike_name: {"uniqueid": int, "version": 1, "state": "ESTABLISHED",
    "local-host": ip, "remote-host": ip, "local-port": int, "remote-port": int,
    "initiator-spi": int, "responder-spi": int, "nat-local": bool, ...,
    "child-sas": {child_key: {"name": str, "state": "INSTALLED",
    "protocol": "ESP", "encap": bool, "spi-in": int, "spi-out": int,
    "encr-alg": "AES_CBC", "encr-keysize": 128, "integ-alg": "HMAC_SHA1_96",
    "bytes-in": int, "packets-in": int, "bytes-out": int, "packets-out": int,
    "local-ts": [cidr], "remote-ts": [cidr], ...}}}}`` (SPIs and counters as
    ints; VICI key names otherwise unchanged).
    """
    ctx = node_ctx(ctx)
    with vici(ctx) as v:
        events, _ = v.streamed("list-sas", "list-sa")
    result: dict[str, dict[str, Any]] = {}
    for ev in events:
        for name, sa in ev.items():
            if isinstance(sa, dict):
                ike = _typed(sa)
                # VICI only sends these flags when set.
                for flag in ("initiator", "nat-local", "nat-remote", "nat-fake", "nat-any"):
                    ike.setdefault(flag, False)
                for child in ike.get("child-sas", {}).values():
                    child.setdefault("encap", False)
                result[name] = ike
    return result


def child_sas(ctx: NodeContext) -> list[dict[str, Any]]:
    """All CHILD_SAs of all IKE_SAs, each with ``ike`` (its IKE_SA name) added."""
    ctx = node_ctx(ctx)
    out = []
    for ike_name, ike in list_sas(ctx).items():
        for child in ike.get("child-sas", {}).values():
            out.append(dict(child, ike=ike_name, **{"remote-host": ike.get("remote-host"),
                                                    "local-host": ike.get("local-host"),
                                                    "remote-port": ike.get("remote-port"),
                                                    "local-port": ike.get("local-port")}))
    return out


def wait_child_sa(ctx: NodeContext, name: str | None = None, timeout: float = 10.0
                  ) -> dict[str, Any]:
    """Wait until a CHILD_SA (named ``name``, or any) is INSTALLED; return it."""
    ctx = node_ctx(ctx)

    def installed() -> dict[str, Any] | None:
        for child in child_sas(ctx):
            if child.get("state") == "INSTALLED" and (name is None or child.get("name") == name):
                return child
        return None

    return wait_until(installed, timeout, f"CHILD_SA {name or '(any)'} on strongSwan node "
                      f"{ctx.node}", log=paths(ctx)["log"], interval=0.1)


_MS_BIND = 4096
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18


def _mount(src: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    rc = nsexec._libc.mount(src.encode(), target.encode(), fstype.encode() if fstype else None,
                            flags, data.encode() if data else None)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {src} on {target}: {os.strerror(err)}")


def _charon_preexec(netns: str, keep: Path) -> Callable[[], None]:
    """preexec_fn: enter ``netns``, private mounts, fresh tmpfs /run, ``keep`` still visible.

    charon's pid file ``/var/run/charon.pid`` is compiled in, so each charon
    needs its own /run; but the lab's run directories live under /run too
    (``/run/ipsec-lab``), so ``keep`` (the node directory) is bind-mounted
    back at the same path on top of the fresh tmpfs.
    """

    def fn() -> None:
        nsexec.enter_netns(netns)
        if nsexec._libc.unshare(nsexec.CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
        _mount("none", "/", None, _MS_REC | _MS_PRIVATE, None)
        fd = os.open(keep, os.O_PATH | os.O_DIRECTORY)
        _mount("tmpfs", "/run", "tmpfs", 0, "mode=0755")
        if keep.is_relative_to("/run") or keep.is_relative_to("/var/run"):
            os.makedirs(keep, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", str(keep), None, _MS_BIND, None)
        os.close(fd)
        os.chdir(keep)        # the VICI socket path is relative to it

    return fn


def _popen_charon(ctx: NodeContext, env: dict[str, str]) -> subprocess.Popen:
    """Start charon in the node (like ``ctx.popen(mount_ns=True)``, keeping node_dir)."""
    node_dir = ctx.node_dir.resolve()
    with open(node_dir / "charon-stdio.log", "ab") as log:
        try:
            return subprocess.Popen([CHARON], env=env, cwd=node_dir, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True,
                                    preexec_fn=_charon_preexec(ctx.netns, node_dir))
        except (FileNotFoundError, subprocess.SubprocessError) as exc:
            raise LabError(f"node {ctx.node}: cannot start {CHARON}: {exc}") from exc


@register("strongswan")
class StrongswanDaemon:
    """charon in the node's namespace; see the module docstring."""

    kind = "strongswan"

    def start(self, ctx: NodeContext) -> subprocess.Popen:
        opts = StrongswanOptions.from_node(dict(getattr(ctx.spec, "options", {}) or {}), ctx.node)
        p = paths(ctx)
        ctx.node_dir.mkdir(parents=True, exist_ok=True)
        p["vici"].unlink(missing_ok=True)
        p["conf"].write_text(render_strongswan_conf(ctx.node_dir, opts))
        env = dict(ctx.env, STRONGSWAN_CONF=str(p["conf"]))
        proc = _popen_charon(ctx, env)

        def ready() -> bool:
            if not p["vici"].exists():
                return False
            try:
                with ViciSession(p["vici"], timeout=1.0) as v:
                    return bool(v.request("version").get("version"))
            except ViciError:
                return False

        try:
            wait_until(ready, opts.ready_timeout, f"charon on node {ctx.node} to answer on "
                       f"{p['vici']}", proc=proc, log=p["log"])
            if ctx.config is not None:
                load_config(ctx)
        except LabError as exc:
            stop_process(proc, timeout=1.0)
            tail = log_tail(p["log"])
            if tail and "log tail" not in str(exc):
                raise LabError(f"{exc}\n--- {p['log']} tail ---\n{tail}") from exc
            raise
        return proc

    def stop(self, ctx: NodeContext, proc: subprocess.Popen) -> None:
        stop_process(proc, timeout=5.0)
        paths(ctx)["vici"].unlink(missing_ok=True)

    def cli(self, ctx: NodeContext, command: str, json: bool = False) -> str | object:
        """``swanctl`` pass-through: ``node.cli("list-sas")``, ``"--list-sas"``, ``"swanctl -l"``.

        With ``json=True``: ``list-sas`` → :func:`list_sas`, ``keys`` →
        :func:`export_keys`, ``ike-keys`` → :func:`export_ike_keys`,
        ``list-conns`` → VICI ``list-conns`` data.
        ``lab keys`` (as for engine nodes) → :func:`export_keys` (JSON text
        unless ``json=True``).
        """
        args = shlex.split(command)
        if args and args[0] == "swanctl":
            args = args[1:]
        if args[:2] == ["lab", "keys"]:      # same as the engine's control command
            keys = export_keys(ctx)
            return keys if json else jsonlib.dumps(keys, indent=1)
        if args and not args[0].startswith("-"):
            args[0] = "--" + args[0]          # "list-sas" -> "--list-sas"
        if json:
            verb = args[0].lstrip("-") if args else ""
            if verb in ("list-sas", "l"):
                return list_sas(ctx)
            if verb in ("keys", "export-keys"):
                return export_keys(ctx)
            if verb == "ike-keys":
                return export_ike_keys(ctx)
            if verb == "list-conns":
                with vici(ctx) as v:
                    events, _ = v.streamed("list-conns", "list-conn")
                return {k: _typed(v2) for e in events for k, v2 in e.items()}
            raise LabError(f"node {ctx.node}: no JSON form of {command!r} "
                           "(try list-sas, list-conns, keys)")
        return swanctl(ctx, *args).stdout


def wait_log(ctx: NodeContext, pattern: str, timeout: float = 10.0) -> re.Match[str]:
    """Wait until charon.log matches regex ``pattern``; return the match."""
    ctx = node_ctx(ctx)
    rx = re.compile(pattern)
    log = paths(ctx)["log"]

    def found() -> re.Match[str] | None:
        try:
            return rx.search(log.read_text(errors="replace"))
        except OSError:
            return None

    return wait_until(found, timeout, f"charon log of {ctx.node} to match {pattern!r}",
                      log=log, interval=0.05)


__all__ = ["StrongswanDaemon", "StrongswanOptions", "child_sas", "export_ike_keys",
           "export_keys", "initiate",
           "list_sas", "load_config", "render_strongswan_conf", "swanctl", "terminate",
           "vici", "wait_child_sa", "wait_log"]
