"""Fixtures: the real `sealhouse` binary, a private installation in a temp
dir set up through the CLI (`sealhouse iam ...`, `sealhouse kms ...`), and
`sealhouse kms serve` on 127.0.0.1 for the session.

Hermetic: every command gets its own SEALHOUSE_DATA_DIR, credentials file and
HOME under pytest's temp dir; inherited SEALHOUSE_* credentials are removed;
the only network traffic is to the server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
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


class Server:
    """`sealhouse kms serve --listen 127.0.0.1:0` (the OS picks a free port;
    the server prints the address it bound)."""

    def __init__(self, inst: Installation) -> None:
        self.log: List[str] = []
        self.proc = subprocess.Popen(
            [str(inst.binary), "kms", "serve", "--listen", "127.0.0.1:0"],
            env=inst.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        first = self.proc.stderr.readline()
        prefix = "sealhouse kms: listening on http://"
        if not first.startswith(prefix):
            self.stop()
            raise RuntimeError(f"kms serve did not start: {first!r}")
        self.address = first.strip()[len(prefix):]
        self.endpoint = f"http://{self.address}"
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
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
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
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


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
