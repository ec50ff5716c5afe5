"""A throwaway PostgreSQL cluster on a loopback port, for the Prefect-on-PostgreSQL test and benchmark.

    pg = LocalPostgres.find()          # None (with .missing saying why) when PostgreSQL is not installed
    with pg.started(tmp_path / "pg"):
        url = pg.create_database("prefect", "prefect", "secret")   # postgresql+asyncpg://...

Uses the server binaries (``initdb``, ``pg_ctl``, ``postgres``, ``psql``) from PATH or
``/usr/lib/postgresql/*/bin``. PostgreSQL refuses to run as root: as root the cluster is run as the
``postgres`` system user (``runuser``), which owns the data directory (then under the system temp
directory, removed afterwards). ``restart(down_s)`` stops it for
a while and starts it again (the outage the fault benchmark injects).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

MISSING = (
    "PostgreSQL server binaries (initdb, pg_ctl, psql) not found on PATH or in /usr/lib/postgresql/*/bin"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalPostgres:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = _free_port()
        self.data: Path | None = None
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]

    missing: str = ""

    @classmethod
    def find(cls) -> LocalPostgres | None:
        candidates = []
        if initdb := shutil.which("initdb"):
            candidates.append(Path(os.path.realpath(initdb)).parent)
        candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
        for bindir in candidates:
            if all((bindir / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
                if os.geteuid() == 0 and not shutil.which("runuser"):
                    cls.missing = "running as root without runuser: PostgreSQL cannot be started"
                    return None
                if not shutil.which("psql") and not (bindir / "psql").exists():
                    continue
                return cls(bindir)
        cls.missing = MISSING
        return None

    def _run(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=timeout, cwd="/"
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stdout}\n{done.stderr}")
        return done.stdout

    def _psql(self) -> str:
        return str(self.bindir / "psql") if (self.bindir / "psql").exists() else str(shutil.which("psql"))

    def sql(self, statement: str, database: str = "postgres") -> str:
        return self._run(
            self._psql(), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
            "-v", "ON_ERROR_STOP=1", "-c", statement,
        )  # fmt: skip

    def start(self) -> None:
        assert self.data is not None
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "-l", str(self.data / "log"),
            "-o", f"-p {self.port} -h 127.0.0.1 -k {self.data}", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        assert self.data is not None
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-m", mode, "stop")

    def restart(self, down_s: float) -> None:
        """Stop (immediately: clients see dropped connections), stay down ``down_s``, start again."""
        self.stop("immediate")
        time.sleep(down_s)
        self.start()

    @contextlib.contextmanager
    def started(self, directory: Path) -> Iterator[LocalPostgres]:
        if self.as_user:
            # The postgres user must reach its data directory: a fresh one directly under the system's
            # temp directory (test tmp_path folders are private to root).
            directory = Path(tempfile.mkdtemp(prefix="callforge-pg-"))
            os.chmod(directory, 0o755)
            shutil.chown(directory, "postgres")
        directory.mkdir(parents=True, exist_ok=True)
        self.data = directory / "data"
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        self.start()
        try:
            yield self
        finally:
            with contextlib.suppress(Exception):
                self.stop("immediate")
            if self.as_user:
                shutil.rmtree(directory, ignore_errors=True)

    def create_database(self, role: str, database: str, password: str) -> str:
        """Create a login role and a database it owns (the README's steps); returns Prefect's URL."""
        self.sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        self.sql(f"CREATE DATABASE {database} OWNER {role}")
        return f"postgresql+asyncpg://{role}:{password}@127.0.0.1:{self.port}/{database}"
