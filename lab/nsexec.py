"""Run processes inside a node's network namespace (no `ip netns exec`).

The child enters the namespace in ``preexec_fn`` through ``setns(2)``; with
``mount_ns`` it also gets a private mount namespace with a fresh tmpfs on
``/run`` (``/var/run`` links there) and a sysfs of its own network namespace,
so per-node daemons never share pid files or sockets.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from lab.errors import LabCommandError, LabError, LabTimeout

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_BIND = 4096
MS_SHARED = 1 << 20
MNT_DETACH = 2
NETNS_DIR = Path("/var/run/netns")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def netns_path(netns: str) -> Path:
    """Path of the bind-mounted namespace file of ``netns``."""
    return NETNS_DIR / netns


def enter_netns(netns: str) -> None:
    """Move the calling thread/process into network namespace ``netns``."""
    fd = os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), f"setns({netns})")
    finally:
        os.close(fd)


def private_mounts(keep: Path | None = None) -> None:
    """Unshare the mount namespace: private /run tmpfs and a per-netns /sys.

    ``keep`` (a directory, typically the node's run directory) stays visible
    at the same path even when it lives under /run (``/run/ipsec-lab/...``).
    """
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    keep_fd = None
    if keep is not None and Path(keep).resolve().is_relative_to("/run"):
        keep = Path(keep).resolve()
        keep_fd = os.open(keep, os.O_PATH | os.O_DIRECTORY)
    _check(_libc.mount(b"tmpfs", b"/run", b"tmpfs", 0, b"mode=0755"), "mount tmpfs /run")
    if keep_fd is not None and keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        _check(_libc.mount(f"/proc/self/fd/{keep_fd}".encode(), str(keep).encode(), None,
                           MS_BIND, None), f"bind {keep}")
        os.close(keep_fd)
    if _libc.umount2(b"/sys", MNT_DETACH) == 0:
        _libc.mount(b"sysfs", b"/sys", b"sysfs", 0, None)


def preexec(netns: str, mount_ns: bool = False, keep: Path | None = None
            ) -> Callable[[], None]:
    """Return a ``preexec_fn`` that enters ``netns`` (and private mounts keeping ``keep``)."""

    def _fn() -> None:
        enter_netns(netns)
        if mount_ns:
            private_mounts(keep)

    return _fn


def popen_in(netns: str, argv: list[str], *, mount_ns: bool = False, keep: Path | None = None,
             **kw: object) -> subprocess.Popen:
    """Start ``argv`` inside ``netns`` in a new session."""
    kw.setdefault("start_new_session", True)
    return subprocess.Popen(argv, preexec_fn=preexec(netns, mount_ns, keep),  # type: ignore
                            **kw)


def run_in(netns: str, argv: list[str], *, node: str = "", check: bool = True,
           timeout: float | None = 30.0, input: str | bytes | None = None,
           env: dict[str, str] | None = None, cwd: str | Path | None = None,
           mount_ns: bool = False, text: bool = True) -> subprocess.CompletedProcess:
    """Run ``argv`` inside ``netns`` and wait; raise :class:`LabCommandError` on rc != 0."""
    try:
        proc = popen_in(netns, argv, mount_ns=mount_ns, keep=Path(cwd) if cwd else None,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                        text=text)
    except FileNotFoundError as exc:
        raise LabError(f"node {node or netns}: command not found: {argv[0]}") from exc
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise LabTimeout(f"node {node or netns}: {' '.join(argv)}", timeout or 0) from None
    result = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    if check and proc.returncode != 0:
        raise LabCommandError(node or netns, argv, proc.returncode,
                              out if isinstance(out, str) else out.decode(errors="replace"),
                              err if isinstance(err, str) else err.decode(errors="replace"))
    return result


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, 9)
    except ProcessLookupError:
        pass


_rundir_ready = False


def _prepare_rundir() -> None:
    """Make NETNS_DIR a shared mount point (as iproute2 does), once per process."""
    global _rundir_ready
    if _rundir_ready:
        return
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    d = str(NETNS_DIR).encode()
    if _libc.mount(b"", d, b"none", MS_SHARED | MS_REC, None) != 0:
        _check(_libc.mount(d, d, b"none", MS_BIND | MS_REC, None), f"bind {NETNS_DIR}")
        _check(_libc.mount(b"", d, b"none", MS_SHARED | MS_REC, None), f"share {NETNS_DIR}")
    _rundir_ready = True


def create_netns(name: str) -> None:
    """Create named network namespace ``name`` (like ``ip netns add``) without forking.

    A short-lived thread unshares its own network namespace and bind-mounts it
    onto ``/var/run/netns/<name>``; the process itself never changes namespace.
    """
    import threading

    _prepare_rundir()
    path = netns_path(name)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
    os.close(fd)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            src = f"/proc/self/task/{threading.get_native_id()}/ns/net".encode()
            _check(_libc.mount(src, str(path).encode(), b"none", MS_BIND, None),
                   f"bind netns onto {path}")
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    t = threading.Thread(target=work, name=f"netns-create:{name}")
    t.start()
    t.join()
    if errors:
        path.unlink(missing_ok=True)
        raise errors[0]


def remove_netns(name: str) -> None:
    """Delete named namespace ``name`` (the namespace dies with its last user)."""
    path = netns_path(name)
    _libc.umount2(str(path).encode(), MNT_DETACH)
    path.unlink(missing_ok=True)
