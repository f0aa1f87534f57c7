"""Fixtures: the real `sealhouse` binary, a private installation in a temp
dir set up through the CLI (`sealhouse iam ...`, `sealhouse kms ...`), and
`sealhouse kms serve` on 127.0.0.1 for the session; `sealhouse serve` (PgServe)
and a private PostgreSQL 15 (postgres15) for the PostgreSQL endpoint's tests.

Hermetic: every command gets its own SEALHOUSE_DATA_DIR, SEALHOUSE_CONFIG_DIR
(where the KMS root key lives, outside the data directory), credentials file
and HOME under pytest's temp dir; inherited SEALHOUSE_* settings are removed;
the only network traffic is to the server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import pathlib
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Dict, List, Optional

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

# The actions the reader may use on the test keys.
READER_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
# The writer-only user: everything but kms:Decrypt.
WRITER_ACTIONS = ["kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]


def _binary() -> pathlib.Path:
    explicit = os.environ.get("SEALHOUSE_BIN")
    if explicit:
        path = pathlib.Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            pytest.fail(f"SEALHOUSE_BIN={explicit} is not an executable file", pytrace=False)
        return path
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", "target"))
    if not target.is_absolute():
        target = REPO / target
    path = target / "debug" / "sealhouse"
    if not path.is_file():
        # As scripts/python-tests.sh does: build it (slow the first time).
        subprocess.run(
            ["cargo", "build", "-p", "sealhouse", "--bin", "sealhouse", "--locked"],
            cwd=REPO,
            env={**os.environ, "CARGO_TARGET_DIR": str(target)},
            check=True,
        )
    return path


@dataclass
class Creds:
    access_key_id: str
    access_key_secret: str
    security_token: Optional[str] = None


def fields(out: str) -> Dict[str, str]:
    """`name: value` lines, as the CLI prints them."""
    result = {}
    for line in out.splitlines():
        name, sep, value = line.partition(": ")
        if sep:
            result[name] = value
    return result


class Installation:
    """One data directory and the CLI run against it."""

    def __init__(self, binary: pathlib.Path, root: pathlib.Path) -> None:
        self.binary = binary
        self.root = root
        self.data = root / "data"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SEALHOUSE_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        }
        self.env.update(
            SEALHOUSE_DATA_DIR=str(self.data),
            SEALHOUSE_CONFIG_DIR=str(root / "config"),
            SEALHOUSE_CREDENTIALS_FILE=str(root / "credentials"),
            HOME=str(root),
        )

    def run(self, *args: str, creds: Optional[Creds] = None) -> subprocess.CompletedProcess:
        env = dict(self.env)
        if creds is not None:
            env["SEALHOUSE_ACCESS_KEY_ID"] = creds.access_key_id
            env["SEALHOUSE_ACCESS_KEY_SECRET"] = creds.access_key_secret
            if creds.security_token:
                env["SEALHOUSE_SECURITY_TOKEN"] = creds.security_token
        return subprocess.run(
            [str(self.binary), *args], env=env, capture_output=True, text=True, timeout=60
        )

    def ok(self, *args: str, creds: Optional[Creds] = None) -> str:
        """Runs `sealhouse ARGS` (as the local root without creds); stdout."""
        p = self.run(*args, creds=creds)
        if p.returncode != 0:
            raise AssertionError(f"sealhouse {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p.stdout

    def fails(self, *args: str, creds: Optional[Creds] = None) -> str:
        p = self.run(*args, creds=creds)
        assert p.returncode == 1, f"sealhouse {' '.join(args)} should fail: {p.stdout}"
        return p.stderr


def _health_opener() -> urllib.request.OpenerDirector:
    """Fetches /health without a proxy; over https without checking the
    certificate (readiness only: tests check certificates with the client)."""
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=insecure)
    )


def _terminate(proc: subprocess.Popen) -> None:
    """Stops a server process: SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class Server:
    """`sealhouse kms serve --listen 127.0.0.1:0` (the OS picks a free port;
    the server prints the address it bound)."""

    def __init__(self, inst: Installation, *extra: str, listen: str = "127.0.0.1:0") -> None:
        self.log: List[str] = []
        self.proc = subprocess.Popen(
            [str(inst.binary), "kms", "serve", "--listen", listen, *extra],
            env=inst.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        first = self.proc.stderr.readline()
        prefix = "sealhouse kms: listening on "
        if not first.startswith(prefix):
            rest = self.proc.stderr.read() if self.proc.wait(timeout=10) is not None else ""
            raise RuntimeError(f"kms serve did not start: {first!r} {rest!r}")
        self.endpoint = first.strip()[len(prefix):]
        self.address = self.endpoint.split("://", 1)[1]
        # Keep draining stderr so the server never blocks on a full pipe.
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()
        self._wait_ready()

    def _read_log(self) -> None:
        for line in self.proc.stderr:
            self.log.append(line.rstrip("\n"))

    def _wait_ready(self, timeout: float = 15.0) -> None:
        host, port = self.address.rsplit(":", 1)
        deadline = time.monotonic() + timeout
        opener = _health_opener()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kms serve exited: {self.log}")
            try:
                with socket.create_connection((host, int(port)), timeout=1):
                    pass
                with opener.open(f"{self.endpoint}/health", timeout=2) as r:
                    if r.status == 200 and r.read() == b"ok":
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"kms serve did not accept connections in {timeout}s")
            time.sleep(0.05)

    def stop(self) -> None:
        _terminate(self.proc)


@dataclass
class World:
    inst: Installation
    server: Server
    uid: str
    footer_key: Dict[str, str]  # key_id, arn (the footer's master key)
    column_key: Dict[str, str]  # the columns' master key
    state_key: Dict[str, str]  # disabled and re-enabled by the cache test
    reader: Creds  # RAM user with READER_ACTIONS on the three keys
    writer_only: Creds  # RAM user without kms:Decrypt
    sts: Creds  # a role session with READER_ACTIONS
    role_arn: str

    @property
    def endpoint(self) -> str:
        return self.server.endpoint


def _policy(actions: List[str], resources: List[str]) -> str:
    return json.dumps(
        {"Version": "1", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]}
    )


@pytest.fixture(scope="session")
def sealhouse_bin() -> pathlib.Path:
    return _binary()


@pytest.fixture(scope="session")
def world(sealhouse_bin, tmp_path_factory) -> World:
    inst = Installation(sealhouse_bin, tmp_path_factory.mktemp("sealhouse"))
    ok = inst.ok

    # The local root (no credentials) owns the keys and administers identities.
    uid = ok("iam", "whoami").strip().split(":")[3]
    footer = fields(ok("kms", "create-key", "--description", "pyarrow footer key"))
    column = fields(ok("kms", "create-key", "--description", "pyarrow column key"))
    state = fields(ok("kms", "create-key", "--description", "pyarrow key-state test key"))
    arns = [footer["arn"], column["arn"], state["arn"]]
    ok("kms", "create-alias", "--alias-name", "alias/pyarrow-footer", "--key-id", footer["key_id"])

    # A RAM user allowed to use the keys, with an access key.
    ok("iam", "create-user", "--name", "parquet-reader")
    ok("iam", "create-policy", "--name", "parquet-kms", "--document", _policy(READER_ACTIONS, arns))
    ok("iam", "attach-policy", "--policy", "parquet-kms", "--user", "parquet-reader")
    k = fields(ok("iam", "create-access-key", "--user", "parquet-reader"))
    reader = Creds(k["access_key_id"], k["access_key_secret"])

    # A RAM user without kms:Decrypt.
    ok("iam", "create-user", "--name", "parquet-writer")
    ok("iam", "create-policy", "--name", "parquet-kms-no-decrypt", "--document", _policy(WRITER_ACTIONS, arns))
    ok("iam", "attach-policy", "--policy", "parquet-kms-no-decrypt", "--user", "parquet-writer")
    k = fields(ok("iam", "create-access-key", "--user", "parquet-writer"))
    writer_only = Creds(k["access_key_id"], k["access_key_secret"])

    # A role the account's root may assume, and STS credentials for it.
    trust = json.dumps(
        {
            "Version": "1",
            "Statement": [
                {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"RAM": [f"acs:ram::{uid}:root"]}}
            ],
        }
    )
    role_arn = ok("iam", "create-role", "--name", "parquet-role", "--trust-policy", trust).strip()
    ok("iam", "attach-policy", "--policy", "parquet-kms", "--role", "parquet-role")
    s = fields(ok("iam", "assume-role", "--role-arn", role_arn, "--session-name", "pyarrow-tests"))
    sts = Creds(s["access_key_id"], s["access_key_secret"], s["security_token"])

    server = Server(inst)
    try:
        yield World(
            inst=inst,
            server=server,
            uid=uid,
            footer_key=footer,
            column_key=column,
            state_key=state,
            reader=reader,
            writer_only=writer_only,
            sts=sts,
            role_arn=role_arn,
        )
    finally:
        server.stop()


# --- `sealhouse serve` and a private PostgreSQL 15 -------------------------

# Where PostgreSQL 15's server programs are (Debian's postgresql-15 package).
PG_BIN = pathlib.Path(os.environ.get("SEALHOUSE_PG_BIN", "/usr/lib/postgresql/15/bin"))
# Environment variables libpq reads: none may leak into the tests.
LIBPQ_ENV = (
    "PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGPASSWORD", "PGPASSFILE", "PGDATABASE",
    "PGSERVICE", "PGSERVICEFILE", "PGSSLMODE", "PGOPTIONS", "PGAPPNAME", "PGTZ", "PGCLIENTENCODING",
    "PGTARGETSESSIONATTRS", "PGCONNECT_TIMEOUT", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY",
)


def _require(what: str) -> None:
    """Skips for want of `what`, unless SEALHOUSE_REQUIRE_POSTGRES is set
    (CI sets it), when its absence fails the test."""
    required = os.environ.get("SEALHOUSE_REQUIRE_POSTGRES", "") not in ("", "0")
    message = (
        f"{what} (Debian 12: apt-get install postgresql-15 postgresql-client-15; "
        "or set SEALHOUSE_PG_BIN to PostgreSQL 15's bin directory)"
    )
    if required:
        pytest.fail(f"SEALHOUSE_REQUIRE_POSTGRES is set but {message}", pytrace=False)
    pytest.skip(message)


def libpq_env(password: Optional[str] = None) -> Dict[str, str]:
    """The environment for psql: no inherited PG* settings, a connect timeout."""
    env = {k: v for k, v in os.environ.items() if k not in LIBPQ_ENV}
    env["PGCONNECT_TIMEOUT"] = "10"
    if password is not None:
        env["PGPASSWORD"] = password
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServe:
    """`sealhouse serve` over an installation's data directory, both
    listeners on 127.0.0.1 port 0; the addresses are read from what it
    prints (in order: PostgreSQL, KMS, data directory)."""

    PG = "sealhouse serve: PostgreSQL on postgres://"
    KMS = "sealhouse serve: KMS on "
    DATA = "sealhouse serve: data directory "

    def __init__(self, inst: Installation, *extra: str, timeout: float = 30.0) -> None:
        self.inst = inst
        self.log: List[str] = []
        self._seen = threading.Condition()
        self.proc = subprocess.Popen(
            [
                str(inst.binary), "serve",
                "--pg-listen", "127.0.0.1:0",
                "--kms-listen", "127.0.0.1:0",
                "--data-dir", str(inst.data),
                *extra,
            ],
            env=inst.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._drain = threading.Thread(target=self._read_log, daemon=True)
        self._drain.start()
        try:
            first, second, third = self._first_lines(3, timeout)
            assert first.startswith(self.PG), f"first line is not the PostgreSQL address: {self.log_tail()}"
            assert second.startswith(self.KMS), f"second line is not the KMS address: {self.log_tail()}"
            assert third.startswith(self.DATA), f"third line is not the data directory: {self.log_tail()}"
            self.pg_address = first[len(self.PG):].split()[0]
            self.kms_endpoint = second[len(self.KMS):].strip()
            self.data_dir = third[len(self.DATA):].strip()
            host, port = self.pg_address.rsplit(":", 1)
            self.host, self.port = host, int(port)
            assert host == "127.0.0.1" and self.port > 0, self.pg_address
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _read_log(self) -> None:
        for line in self.proc.stderr:
            with self._seen:
                self.log.append(line.rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def _first_lines(self, n: int, timeout: float) -> List[str]:
        deadline = time.monotonic() + timeout
        with self._seen:
            while len(self.log) < n:
                left = deadline - time.monotonic()
                if self.proc.poll() is not None and not self._drain.is_alive():
                    raise RuntimeError(f"sealhouse serve exited ({self.proc.returncode}): {self.log_tail()}")
                if left <= 0:
                    raise RuntimeError(f"sealhouse serve printed no addresses in {timeout}s: {self.log_tail()}")
                self._seen.wait(min(left, 0.5))
            return self.log[:n]

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        opener = _health_opener()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sealhouse serve exited ({self.proc.returncode}): {self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    pass
                with opener.open(f"{self.kms_endpoint}/health", timeout=2) as r:
                    if r.status == 200 and r.read() == b"ok":
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"sealhouse serve did not accept connections in {timeout}s: {self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, n: int = 40) -> str:
        with self._seen:
            lines = list(self.log[-n:])
        return "sealhouse serve stderr (last lines):\n" + ("\n".join(lines) or "(nothing)")

    def stop(self) -> None:
        _terminate(self.proc)


@pytest.fixture(scope="session")
def psql_bin() -> pathlib.Path:
    """PostgreSQL 15's psql (skips, or fails under SEALHOUSE_REQUIRE_POSTGRES, without it)."""
    for candidate in (PG_BIN / "psql", shutil.which("psql")):
        if candidate and os.access(candidate, os.X_OK):
            return pathlib.Path(candidate)
    _require(f"psql is not installed (looked in {PG_BIN} and PATH)")


class PostgresCluster:
    """A private PostgreSQL 15 in a temp dir: trust authentication for its
    superuser `postgres`, TCP on 127.0.0.1 only (a free port), its unix
    socket in the temp dir. Run as the `postgres` OS user when we are root
    (PostgreSQL refuses to run as root)."""

    def __init__(self, psql: pathlib.Path) -> None:
        self.psql_bin = psql
        # As root, in /tmp itself: the postgres user must reach the directory
        # (pytest's own temp dirs are private to root).
        root_user = os.geteuid() == 0
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="sealhouse-pg-", dir="/tmp" if root_user else None))
        self.data = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self.port = 0
        self._as = []
        if root_user:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        p = self._run(
            str(PG_BIN / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(self.data),
            "-E", "UTF8", "--locale=C", "--no-sync",
        )
        if p.returncode != 0:
            raise RuntimeError(f"initdb failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        for _ in range(5):  # another process may take the free port first
            self.port = _free_port()
            p = self._run(
                str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "60",
                "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                "-c max_connections=30",
                "start",
            )
            if p.returncode == 0:
                return
        raise RuntimeError(f"pg_ctl start failed ({p.returncode}): {p.stderr}\n{self.log_tail()}")

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self._as, *args], capture_output=True, text=True, timeout=120, cwd=self.root, env=libpq_env()
        )

    def psql(self, sql: str, db: str = "postgres", *options: str, check: bool = True) -> subprocess.CompletedProcess:
        """Runs `sql` through psql as the superuser (over the unix socket)."""
        p = subprocess.run(
            [
                str(self.psql_bin), "-X", "-v", "ON_ERROR_STOP=1", "-h", str(self.root),
                "-p", str(self.port), "-U", "postgres", "-d", db, *options,
            ],
            input=sql,
            capture_output=True,
            text=True,
            timeout=60,
            env=libpq_env(),
        )
        if check and p.returncode != 0:
            raise AssertionError(
                f"psql on PostgreSQL failed ({p.returncode}):\n{sql}\nstdout:\n{p.stdout}\n"
                f"stderr:\n{p.stderr}\n{self.log_tail()}"
            )
        return p

    def log_tail(self, n: int = 30) -> str:
        try:
            lines = self.logfile.read_text(errors="replace").splitlines()[-n:]
        except OSError as e:
            lines = [f"(no log: {e})"]
        return "PostgreSQL log (last lines):\n" + "\n".join(lines)

    def stop(self) -> None:
        if self.port:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres15(psql_bin) -> PostgresCluster:
    """A private PostgreSQL 15 with postgres_fdw, for the session."""
    missing = [p for p in ("initdb", "pg_ctl", "postgres", "pg_config") if not os.access(PG_BIN / p, os.X_OK)]
    if missing:
        _require(f"PostgreSQL 15's {', '.join(missing)} not found in {PG_BIN}")
    libdir = subprocess.run([str(PG_BIN / "pg_config"), "--pkglibdir"], capture_output=True, text=True).stdout.strip()
    if not (pathlib.Path(libdir) / "postgres_fdw.so").is_file():
        _require(f"postgres_fdw is not installed ({libdir}/postgres_fdw.so)")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        _require("runuser is missing: PostgreSQL must run as the postgres user, not root")
    cluster = PostgresCluster(psql_bin)
    try:
        yield cluster
    finally:
        cluster.stop()
