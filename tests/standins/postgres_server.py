"""A real PostgreSQL server for the tests, in a temporary directory on 127.0.0.1.

It runs the server binaries of Debian's ``postgresql`` package (``initdb``/``pg_ctl`` under
``/usr/lib/postgresql/<version>/bin``), which ``.ci/run`` installs on a fresh machine.
PostgreSQL refuses to run as root (https://www.postgresql.org/docs/current/server-start.html:
"the server must be run by an unprivileged user"), so as root every command runs as the
``postgres`` system user the package creates. Authentication is ``trust`` and the server
listens only on 127.0.0.1 (no Unix socket in a shared place); ``fsync=off`` because the
data is thrown away. Nothing here is skipped: without the binaries it raises a clear error.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

START_SECONDS = 30
PORT_ATTEMPTS = 3


def server_binaries() -> Path:
    """The newest installed server's ``bin`` directory."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name),
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found is None:
        raise RuntimeError(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: the storage tests need "
            "them. Install them with `apt-get install -y postgresql` (Debian/Ubuntu)."
        )
    # Distributions often link initdb onto the PATH alone; the other tools sit beside it.
    return Path(found).resolve().parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """``start()`` once, ``stop()``/``start()`` again to simulate an outage, ``remove()``
    at the end.

    Each pytest-xdist worker is a session of its own and so starts a server of its own, in
    its own directory (named after the worker) on its own port."""

    def __init__(self) -> None:
        self.bin = server_binaries()
        self.port = free_port()
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.root = Path(tempfile.mkdtemp(prefix=f"pg-tests-{worker}-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._databases = 0
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=START_SECONDS + 10, check=False
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(
                f"{tool} failed ({result.returncode}): {result.stderr.strip()}\n{log[-2000:]}"
            )

    def start(self) -> None:
        """Start on ``self.port``. Until a database is handed out (its URL names the port),
        a port taken in the meantime is swapped for another: ``free_port`` lets its probe
        go, and other workers' stand-ins bind ports of their own while ``initdb`` runs."""
        for attempt in range(PORT_ATTEMPTS):
            logged = self.log.read_text() if self.log.exists() else ""
            try:
                self._pg_ctl_start()
                return
            except RuntimeError:
                now = self.log.read_text() if self.log.exists() else ""
                taken = "could not bind" in now.removeprefix(logged)
                if self._databases or not taken or attempt == PORT_ATTEMPTS - 1:
                    raise
                self.port = free_port()

    def _pg_ctl_start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "-t", str(START_SECONDS), "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self) -> str:
        """A new, empty database; returns its URL in Heroku's ``postgres://`` form."""
        self._databases += 1
        name = f"test_{self._databases}"
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"
