"""A throwaway PostgreSQL server for the test suite: initdb + pg_ctl in a temporary folder.

The server runs as a non-root user (PostgreSQL refuses root): the current user, or `nobody` when the
suite runs as root. It listens on a Unix socket inside its folder only (no TCP port), trusts local
connections, and trades durability for speed (fsync off). `stop()` removes everything.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

# The user that owns and runs the server when the suite itself runs as root.
ROOT_FALLBACK_USER = "nobody"
# The database superuser initdb creates; every test database is owned by it.
SUPERUSER = "fotofecha"
INSTALL_HINT = ("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under /usr/lib/postgresql/*/bin; "
                "install them (Debian: apt-get install postgresql) and the driver (pip install -e '.[postgres]') "
                "to run the PostgreSQL half of the tests.")


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: PATH first, then Debian's versioned folders (newest first)."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True):
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def missing_reason() -> str | None:
    """Why the PostgreSQL half cannot run here, or None when it can."""
    if find_bindir() is None:
        return INSTALL_HINT
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "The psycopg driver is not installed: pip install -e '.[postgres]'."
    return None


class PostgresServer:
    """One server; `new_database()` hands each test an empty database of its own."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.user = ROOT_FALLBACK_USER if os.geteuid() == 0 else None  # None: run as ourselves
        self.root = Path(tempfile.mkdtemp(prefix="fotofecha-pg-"))
        self.data = self.root / "data"
        self._counter = itertools.count(1)
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str) -> None:
        kwargs = {"user": self.user, "group": pwd.getpwnam(self.user).pw_gid, "extra_groups": []} if self.user else {}
        result = subprocess.run(args, capture_output=True, text=True, cwd=self.root, **kwargs)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")

    def start(self) -> PostgresServer:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                  "--encoding=UTF8", "--locale=C", "--no-sync")
        self.start_server()
        return self

    def start_server(self) -> None:
        """Start the initialised server (again, after stop_server) and wait until it takes connections."""
        options = (f"-c listen_addresses='' -c unix_socket_directories='{self.root}' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(str(self.bindir / "pg_ctl"), "start", "-D", str(self.data), "-w", "-t", "60",
                  "-l", str(self.root / "server.log"), "-o", options)

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server as an administrator would (`pg_ctl stop -m fast`: open connections are cut), data kept."""
        self._run(str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", mode, "-w")

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3) for `database` on this server's socket."""
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.root}"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        from sqlalchemy import create_engine, text

        name = f"test_{os.getpid()}_{next(self._counter)}"
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate", "-w")
        shutil.rmtree(self.root)
