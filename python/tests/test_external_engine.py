"""The external-engine read path (spec 004: Hologres querying MaxCompute data
encrypted with BYOK), with pyarrow as the engine: the role that trusts
hologres.aliyuncs.com, its credentials from `sealhouse external-engine
credentials`, table manifests from `sealhouse external-engine manifest`, and
`sealhouse_kms.ExternalEngine` reading the warehouse's files through
`sealhouse kms serve` on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Dict

import pytest

from conftest import fields
from sealhouse_kms import ExternalEngine, ExternalEngineError, KmsError

ROLE = "AliyunHologresEncryptionDefaultRole"
POLICY = "AliyunHologresEncryptionDefaultRolePolicy"
# The spec's policy, verbatim.
SPEC_POLICY = """{
    "Version": "1",
    "Statement": [
        {
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:GenerateDataKey",
                "kms:DescribeKey"
            ],
            "Resource": "acs:kms:*:*:*/*",
            "Effect": "Allow"
        }
    ]
}"""
NO_DECRYPT_POLICY = json.dumps(
    {
        "Version": "1",
        "Statement": [
            {
                "Action": ["kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                "Resource": "acs:kms:*:*:*/*",
                "Effect": "Allow",
            }
        ],
    }
)


def trust(service: str) -> str:
    """A service role's trust policy, as the console writes it."""
    return json.dumps(
        {
            "Statement": [
                {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": [service]}}
            ],
            "Version": "1",
        }
    )


# Rows with BINARY (including bytes that are not UTF-8) and NULLs in every column.
INSERT = (
    "INSERT INTO t VALUES "
    "(1, 'alice', CAST('ab' AS BINARY), 1.5), "
    "(2, NULL, UNHEX('00FF10'), NULL), "
    "(3, 'carol', NULL, -2.25), "
    "(NULL, 'dave', UNHEX(''), 0.0)"
)


@dataclass
class Setup:
    world: object
    key: Dict[str, str]  # the project's CMK: key_id, arn
    role_arn: str
    creds: dict  # `sealhouse external-engine credentials` JSON
    no_decrypt_creds: dict

    def engine(self, creds=None, **kw) -> ExternalEngine:
        return ExternalEngine(self.world.endpoint, creds or self.creds, **kw)

    def manifest(self, table: str) -> dict:
        return json.loads(self.world.inst.ok("external-engine", "manifest", table))

    def project(self, name: str, encryption: str, table_sql: str = INSERT) -> None:
        ok = self.world.inst.ok
        ok("sql", "-e", f"CREATE PROJECT {name} ENCRYPTION {encryption}")
        # Spec 004, step 3: the database reads encrypted data on the engine's
        # own key permissions, not on the direct path.
        ok("sql", "-e", f"ALTER DATABASE {name} SET hg_experimental_enable_access_odps_orc_via_holo = false;")
        ok(
            "sql",
            "--project",
            name,
            "-e",
            f"CREATE TABLE t (id BIGINT, name STRING, b BINARY, x DOUBLE); {table_sql}",
        )


def credentials(world, role_arn: str, *extra: str) -> dict:
    out = world.inst.ok("external-engine", "credentials", "--role-arn", role_arn, *extra)
    return json.loads(out)


@pytest.fixture(scope="module")
def ee(world) -> Setup:
    ok = world.inst.ok
    key = fields(ok("kms", "create-key", "--description", "external engine BYOK key"))
    ok("iam", "create-policy", "--name", POLICY, "--document", SPEC_POLICY)
    role_arn = ok("iam", "create-role", "--name", ROLE, "--trust-policy", trust("hologres.aliyuncs.com")).strip()
    ok("iam", "attach-policy", "--policy", POLICY, "--role", ROLE)
    ok("iam", "create-policy", "--name", "ee-no-decrypt", "--document", NO_DECRYPT_POLICY)
    ok("iam", "create-role", "--name", "ee-no-decrypt", "--trust-policy", trust("hologres.aliyuncs.com"))
    ok("iam", "attach-policy", "--policy", "ee-no-decrypt", "--role", "ee-no-decrypt")
    setup = Setup(
        world=world,
        key=key,
        role_arn=role_arn,
        creds=credentials(world, role_arn),
        no_decrypt_creds=credentials(world, f"acs:ram::{world.uid}:role/ee-no-decrypt"),
    )
    setup.project("ee_byok", f"ALGORITHM AES256 KEY '{key['arn']}'")
    # A second INSERT: a second file.
    ok("sql", "--project", "ee_byok", "-e", "INSERT INTO t VALUES (4, 'erin', UNHEX('DEADBEEF'), 4.0)")
    return setup


def sql_rows(world, query: str):
    """Rows as `sealhouse sql --format json` gives them (BINARY as base64)."""
    out = world.inst.ok("sql", "--format", "json", "-e", query)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def arrow_rows(table):
    rows = []
    for r in table.to_pylist():
        rows.append({k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in r.items()})
    return rows


def test_credentials_are_the_role_session_of_the_external_engine(ee):
    c = ee.creds
    assert set(c) >= {"AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration"}
    assert c["AccessKeyId"].startswith("STS.")
    assert c["AssumedRole"] == f"acs:ram::{ee.world.uid}:assumed-role/{ROLE.lower()}/external-engine"
    assert c["Expiration"].endswith("Z")
    longer = credentials(ee.world, ee.role_arn, "--duration-seconds", "900", "--session-name", "holo-1")
    assert longer["AssumedRole"].endswith("/holo-1")
    assert longer["Expiration"] < c["Expiration"]  # 15 minutes, not the default hour


def test_byok_table_reads_the_same_rows_as_sql(ee):
    manifest = ee.manifest("ee_byok.t")
    assert manifest["encryption"] == {"algorithm": "AES256", "key": "byok", "key_arn": ee.key["arn"]}
    assert [c["name"] for c in manifest["columns"]] == ["id", "name", "b", "x"]
    assert len(manifest["files"]) == 2
    for f in manifest["files"]:
        assert f["format"] == "parquet" and f["path"].startswith("/")
        raw = open(f["path"], "rb").read()
        assert len(raw) == f["size"] and raw[-4:] == b"PARE" and b"alice" not in raw

    engine = ee.engine()
    table = engine.read_manifest(manifest)
    assert table.column_names == ["id", "name", "b", "x"]
    assert str(table.schema.field("b").type) == "binary"
    key = lambda r: (r["id"] is None, r["id"] or 0)  # noqa: E731
    got = sorted(arrow_rows(table), key=key)
    want = sorted(sql_rows(ee.world, "SELECT * FROM ee_byok.t"), key=key)
    assert got == want
    assert len(got) == 5 and {"id": 2, "name": None, "b": "AP8Q", "x": None} in got
    # The manifest as printed (JSON text) and the credentials as text work too.
    text = ee.world.inst.ok("external-engine", "manifest", "ee_byok.t")
    again = ExternalEngine(ee.world.endpoint, json.dumps(ee.creds)).read_manifest(text, columns=["id"])
    assert sorted(v for v in again.column("id").to_pylist() if v is not None) == [1, 2, 3, 4]
    # No secret in what an engine shows of itself.
    assert ee.creds["AccessKeySecret"] not in repr(engine)
    assert ee.creds["SecurityToken"] not in repr(engine)


def test_default_key_project_is_refused(ee):
    ee.project("ee_default", "ALGORITHM AES256")
    manifest = ee.manifest("ee_default.t")
    assert manifest["encryption"]["key"] == "default"
    assert ":0000000000000000:key/" in manifest["encryption"]["key_arn"]
    engine = ee.engine()
    with pytest.raises(ExternalEngineError) as e:
        engine.read_manifest(manifest)
    err = e.value
    assert err.code == "DefaultKeyNotReadable"
    assert "only BYOK projects are readable by external engines" in err.message
    assert "KEY '<your CMK ARN>'" in err.message and "sealhouse sql" in err.message
    assert manifest["encryption"]["key_arn"] in err.message
    # The file alone (no manifest): its footer names the service account's
    # key, and the engine refuses it before asking the KMS.
    path = manifest["files"][0]["path"]
    with pytest.raises(ExternalEngineError) as e:
        engine.read_file(path)
    assert e.value.code == "DefaultKeyNotReadable" and e.value.path == path
    assert "only BYOK projects are readable by external engines" in str(e.value)
    assert e.value.request_id is None  # no KMS call was made


def test_role_without_decrypt_gets_the_kms_refusal(ee):
    manifest = ee.manifest("ee_byok.t")
    with pytest.raises(ExternalEngineError) as e:
        ee.engine(ee.no_decrypt_creds).read_manifest(manifest)
    err = e.value
    assert err.code == "Forbidden.NoPermission"
    assert "is not allowed kms:Decrypt on" in err.message
    assert f"acs:ram::{ee.world.uid}:assumed-role/ee-no-decrypt/external-engine" in err.message
    assert ee.key["arn"] in err.message
    assert "attach a policy" in err.message and err.request_id
    assert isinstance(err.__cause__, KmsError) and err.__cause__.code == "Forbidden.NoPermission"
    assert ee.no_decrypt_creds["AccessKeySecret"] not in str(err)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_disabled_cmk_reads_from_the_cache_until_it_expires(ee):
    world = ee.world
    key = fields(world.inst.ok("kms", "create-key", "--description", "external engine state key"))
    ee.project("ee_state", f"ALGORITHM AES256 KEY '{key['arn']}'")
    manifest = ee.manifest("ee_state.t")
    clock = FakeClock()
    stepped = ee.engine(cache_lifetime_seconds=2, clock=clock)
    real = ee.engine(cache_lifetime_seconds=1)
    assert stepped.read_manifest(manifest).num_rows == 4
    assert real.read_manifest(manifest).num_rows == 4
    t_read = time.monotonic()
    world.inst.ok("kms", "disable-key", "--key-id", key["key_id"])
    try:
        # A new engine has nothing cached: refused at once, naming the state.
        with pytest.raises(ExternalEngineError) as e:
            ee.engine(cache_lifetime_seconds=2).read_manifest(manifest)
        assert e.value.code == "Rejected.Disabled"
        assert "is Disabled" in e.value.message and key["arn"] in e.value.message
        assert "EnableKey" in e.value.message

        # Within the lifetime: the cached key information still reads.
        clock.now += 1.9
        assert stepped.read_manifest(manifest).num_rows == 4
        # Past it: the KMS is asked again, and refuses.
        clock.now += 0.2
        with pytest.raises(ExternalEngineError) as e:
            stepped.read_manifest(manifest)
        assert e.value.code == "Rejected.Disabled"

        # On the real clock (default): once 1 s has passed, refused too.
        time.sleep(max(0.0, t_read + 1.2 - time.monotonic()))
        with pytest.raises(ExternalEngineError) as e:
            real.read_manifest(manifest)
        assert e.value.code == "Rejected.Disabled"
    finally:
        world.inst.ok("kms", "enable-key", "--key-id", key["key_id"])
    # Enabled again: reads work again (the refusal was not cached).
    assert stepped.read_manifest(manifest).num_rows == 4


def test_default_cache_lifetime_is_24_hours(ee):
    assert ee.engine().cache_lifetime_seconds == 86400
    with pytest.raises(ValueError, match="cache_lifetime_seconds"):
        ee.engine(cache_lifetime_seconds=0)


def test_segmented_project_is_refused_naming_the_supported_path(ee):
    ee.project("ee_ctr", f"ALGORITHM AESCTR KEY '{ee.key['arn']}'")
    manifest = ee.manifest("ee_ctr.t")
    assert manifest["encryption"]["algorithm"] == "AESCTR"
    assert [f["format"] for f in manifest["files"]] == ["segmented"]
    engine = ee.engine()
    for read in (lambda: engine.read_manifest(manifest), lambda: engine.read_file(manifest["files"][0]["path"])):
        with pytest.raises(ExternalEngineError) as e:
            read()
        err = e.value
        assert err.code == "SegmentedFileNotReadable"
        assert "AESCTR" in err.message
        assert "external engines read AES256 (Parquet modular encryption) BYOK projects" in err.message
        assert "sealhouse serve" in err.message and "sealhouse sql" in err.message


def test_a_role_that_does_not_trust_the_external_engine_gets_no_credentials(ee):
    world = ee.world
    world.inst.ok("iam", "create-role", "--name", "ee-warehouse-only", "--trust-policy", trust("odps.aliyuncs.com"))
    world.inst.ok("iam", "attach-policy", "--policy", POLICY, "--role", "ee-warehouse-only")
    err = world.inst.fails(
        "external-engine", "credentials", "--role-arn", f"acs:ram::{world.uid}:role/ee-warehouse-only"
    )
    assert "cannot assume role" in err and "hologres.aliyuncs.com" in err
    assert "does not name this service under Principal.Service" in err
    assert "AccessKeySecret" not in err


def test_unencrypted_project_reads_without_keys(ee):
    ok = ee.world.inst.ok
    ok("sql", "-e", "CREATE PROJECT ee_plain")
    ok("sql", "--project", "ee_plain", "-e", "CREATE TABLE t (id BIGINT, b BINARY); "
       "INSERT INTO t VALUES (1, UNHEX('01')), (2, NULL)")
    manifest = ee.manifest("ee_plain.t")
    assert manifest["encryption"] is None and manifest["files"][0]["encryption"] is None
    # The role without kms:Decrypt reads it: nothing to unwrap.
    table = ee.engine(ee.no_decrypt_creds).read_manifest(manifest)
    assert sorted(table.to_pylist(), key=lambda r: r["id"]) == [{"id": 1, "b": b"\x01"}, {"id": 2, "b": None}]


def test_bad_input_and_empty_tables(ee, tmp_path):
    engine = ee.engine()
    with pytest.raises(ExternalEngineError) as e:
        engine.read_file(str(tmp_path / "missing.parquet"))
    assert e.value.code == "FileNotReadable" and "cannot open" in e.value.message
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(ExternalEngineError) as e:
        engine.read_file(str(junk))
    assert e.value.code == "FileNotReadable" and "not a Parquet file" in e.value.message
    with pytest.raises(ExternalEngineError) as e:
        engine.read_manifest("{}")
    assert e.value.code == "InvalidManifest" and "project, table, columns, files" in e.value.message
    # A table without files reads as an empty table of its columns.
    ee.world.inst.ok("sql", "-e", "CREATE TABLE ee_byok.empty (id BIGINT, b BINARY)")
    empty = engine.read_manifest(ee.manifest("ee_byok.empty"))
    assert empty.num_rows == 0 and empty.column_names == ["id", "b"]
    with pytest.raises(ValueError, match="AccessKeyId"):
        ExternalEngine(ee.world.endpoint, {})
