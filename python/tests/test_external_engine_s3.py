"""The external-engine read path for a table kept in an S3 bucket
(`sealhouse --storage-url s3://...`): the manifest lists s3:// URLs, and
pyarrow reads a BYOK AES256 table straight from the bucket through
`ExternalEngine` with its own storage credentials and the engine role's KMS
grant; without `kms:Decrypt` it is refused. The bucket is the tests' real
S3 server (`sealhouse-test-s3`: s3s-fs with SigV4) on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import Installation, Server, fields
from sealhouse_kms import ExternalEngine, ExternalEngineError
from test_external_engine import INSERT, NO_DECRYPT_POLICY, SPEC_POLICY, arrow_rows, trust

ACCESS_KEY = "sealhouse-test-s3"
SECRET_KEY = "sealhouse-test-s3-secret"
URL = "s3://lake/warehouse"


@pytest.fixture(scope="module")
def lake(sealhouse_bin, tmp_path_factory):
    s3_bin = sealhouse_bin.parent / "sealhouse-test-s3"
    if not s3_bin.is_file():
        # Built beside the sealhouse binary by `cargo test --workspace`
        # (crates/test-s3/tests/binary.rs runs it).
        pytest.fail(
            f"{s3_bin} is missing: build it with cargo test --workspace --all-targets (or cargo build -p sealhouse-test-s3)",
            pytrace=False,
        )
    root = tmp_path_factory.mktemp("s3")
    s3 = subprocess.Popen(
        [str(s3_bin), "--root", str(root), "--bucket", "lake"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    first = s3.stdout.readline().strip()
    assert first.startswith("endpoint="), first
    endpoint = first.split("=", 1)[1]

    inst = Installation(sealhouse_bin, tmp_path_factory.mktemp("sealhouse-s3"))
    inst.env.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        AWS_ALLOW_HTTP="true",
        SEALHOUSE_STORAGE_URL=URL,
    )
    ok = inst.ok
    uid = ok("iam", "whoami").strip().split(":")[3]
    key = fields(ok("kms", "create-key", "--description", "bucket BYOK key"))
    ok("iam", "create-policy", "--name", "engine", "--document", SPEC_POLICY)
    role = ok("iam", "create-role", "--name", "engine", "--trust-policy", trust("hologres.aliyuncs.com")).strip()
    ok("iam", "attach-policy", "--policy", "engine", "--role", "engine")
    ok("iam", "create-policy", "--name", "no-decrypt", "--document", NO_DECRYPT_POLICY)
    ok("iam", "create-role", "--name", "no-decrypt", "--trust-policy", trust("hologres.aliyuncs.com"))
    ok("iam", "attach-policy", "--policy", "no-decrypt", "--role", "no-decrypt")
    creds = json.loads(ok("external-engine", "credentials", "--role-arn", role))
    no_decrypt = json.loads(
        ok("external-engine", "credentials", "--role-arn", f"acs:ram::{uid}:role/no-decrypt")
    )
    ok("sql", "-e", f"CREATE PROJECT lake_byok ENCRYPTION ALGORITHM AES256 KEY '{key['arn']}'")
    ok("sql", "-e", "ALTER DATABASE lake_byok SET hg_experimental_enable_access_odps_orc_via_holo = false;")
    ok("sql", "--project", "lake_byok", "-e", f"CREATE TABLE t (id BIGINT, name STRING, b BINARY, x DOUBLE); {INSERT}")
    server = Server(inst)
    try:
        yield dict(inst=inst, server=server, endpoint=endpoint, root=root, creds=creds, no_decrypt=no_decrypt)
    finally:
        server.stop()
        s3.stdin.close()
        s3.terminate()
        s3.wait(timeout=10)


def storage(lake):
    """The engine's own view of the bucket."""
    from pyarrow import fs

    host = lake["endpoint"].split("://", 1)[1]
    return fs.S3FileSystem(
        access_key=ACCESS_KEY, secret_key=SECRET_KEY, endpoint_override=host, scheme="http", region="us-east-1"
    )


def test_pyarrow_reads_a_byok_table_from_the_bucket(lake):
    manifest = json.loads(lake["inst"].ok("external-engine", "manifest", "lake_byok.t"))
    assert manifest["files"], manifest
    for f in manifest["files"]:
        assert f["path"].startswith(f"{URL}/tables/"), f["path"]
        # The object is in the bucket, encrypted; nothing under the data directory.
        raw = (lake["root"] / f["path"][len("s3://") :]).read_bytes()
        assert raw[-4:] == b"PARE" and b"alice" not in raw
    assert not (lake["inst"].data / "tables").exists()

    table = ExternalEngine(lake["server"].endpoint, lake["creds"], filesystem=storage(lake)).read_manifest(manifest)
    key = lambda r: (r["id"] is None, r["id"] or 0)  # noqa: E731
    got = sorted(arrow_rows(table), key=key)
    out = lake["inst"].ok("sql", "--format", "json", "-e", "SELECT * FROM lake_byok.t")
    want = sorted((json.loads(line) for line in out.splitlines() if line.strip()), key=key)
    assert got == want and len(got) == 4


def test_without_kms_decrypt_the_bucket_read_is_refused(lake):
    manifest = json.loads(lake["inst"].ok("external-engine", "manifest", "lake_byok.t"))
    engine = ExternalEngine(lake["server"].endpoint, lake["no_decrypt"], filesystem=storage(lake))
    with pytest.raises(ExternalEngineError) as e:
        engine.read_manifest(manifest)
    assert e.value.code == "Forbidden.NoPermission"
    assert "is not allowed kms:Decrypt on" in e.value.message


def test_a_bucket_the_engine_cannot_reach_is_a_clear_error(lake):
    from pyarrow import fs

    manifest = json.loads(lake["inst"].ok("external-engine", "manifest", "lake_byok.t"))
    wrong = fs.S3FileSystem(
        access_key=ACCESS_KEY,
        secret_key="not-the-secret",
        endpoint_override=lake["endpoint"].split("://", 1)[1],
        scheme="http",
        region="us-east-1",
    )
    with pytest.raises(ExternalEngineError) as e:
        ExternalEngine(lake["server"].endpoint, lake["creds"], filesystem=wrong).read_manifest(manifest)
    assert e.value.code == "FileNotReadable"
    assert manifest["files"][0]["path"] in e.value.message
    assert "not-the-secret" not in str(e.value)
