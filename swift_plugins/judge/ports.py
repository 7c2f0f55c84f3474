"""Who is on a TCP port: the facts judge start-up needs to trust that the judge answering is the one it started.

    python -m swift_plugins.judge.ports --free HOST PORT     exit 2 with one line when PORT is taken

``recipes/judge.sh`` refuses a busy port before starting a server (``swift deploy`` would quietly move to
the next free port, and an older server left on it would answer the check), and
``python -m swift_plugins.judge.check --server-pid`` asks which process listens on the port it reached.
Linux only for the owner lookup (``/proc``); elsewhere the owner is unknown and the check says so.
"""
from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from audio_thinker.cli import UsageError, parser, run

_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp{,6}


def port_in_use(host: str, port: int) -> bool:
    """True when binding HOST:PORT fails because something is there (a listener; SO_REUSEADDR, as servers
    set it, so connections lingering in TIME_WAIT do not count)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def listener_pids(port: int) -> set[int] | None:
    """Pids of the processes holding a socket that listens on PORT (any address); None when /proc cannot
    tell (not Linux). Processes of other users may be invisible: then the set is empty."""
    if not Path("/proc/net/tcp").exists():
        return None
    inodes = _listening_inodes(port)
    targets = {f"socket:[{inode}]" for inode in inodes}
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in targets:
                    pids.add(int(proc.name))
                    break
        except OSError:  # gone, or not ours to read
            continue
    return pids


def process_group(pid: int) -> int | None:
    """PID's process group; None when the process is gone or has exited unreaped (a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        state = ""
    if state == "Z":
        return None
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def describe_pids(pids: set[int]) -> str:
    names = []
    for pid in sorted(pids):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = "?"
        names.append(f"pid {pid} ({cmd[:80]})")
    return ", ".join(names) or "a process this user cannot see"


def main(argv: Sequence[str] | None = None) -> int:
    cli = parser("swift_plugins.judge.ports", __doc__)
    cli.add_argument("--free", nargs=2, metavar=("HOST", "PORT"), required=True,
                     help="exit 2 with the reason when HOST:PORT is already taken")
    args = cli.parse_args(argv)
    host, port = args.free[0], int(args.free[1])
    if port_in_use(host, port):
        owners = listener_pids(port)
        who = describe_pids(owners) if owners is not None else "another process"
        raise UsageError(f"{host}:{port} is already in use by {who}: stop it or choose another JUDGE_PORT",
                         option="JUDGE_PORT")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
