"""`sealhouse serve`'s PostgreSQL endpoint against real clients: psql,
psycopg 3 and PostgreSQL 15's postgres_fdw (a private cluster in a temp dir).

One installation for the module, set up through the CLI: the account's root
access key, RAM users (an analyst allowed kms:Decrypt on the BYOK CMK, a user
without kms:Decrypt, an outsider with no grants), a role with an STS session,
a plain project `sales` and a project `enc` encrypted with the BYOK CMK.
Then `sealhouse serve` on 127.0.0.1 port 0 over it.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from typing import Dict, Optional

import psycopg
import pytest

from conftest import READER_ACTIONS, WRITER_ACTIONS, Creds, Installation, PgServe, fields, libpq_env

# sales.t: BIGINT, STRING, BINARY with NULLs and bytes that are not UTF-8.
SALES_ROWS = [
    (1, "alice", b"ab"),
    (2, None, b"\x00\xff\x10"),
    (3, "carol", None),
    (None, "dave", b""),
]
SALES_SQL = (
    "CREATE TABLE t (id BIGINT, name STRING, b BINARY); "
    "INSERT INTO t VALUES (1, 'alice', CAST('ab' AS BINARY)), (2, NULL, UNHEX('00FF10')), "
    "(3, 'carol', NULL), (NULL, 'dave', UNHEX('')); "
    "CREATE TABLE hidden (id BIGINT); INSERT INTO hidden VALUES (42)"
)
# enc.orders: the customer names are markers that must not be in any file.
ENC_ROWS = [
    (1, "enc-marker-ana", 10.5, b"\xde\xad"),
    (2, "enc-marker-ben", 20.0, None),
    (3, "enc-marker-cy", 30.25, b"\x00"),
]
ENC_SQL = (
    "CREATE TABLE orders (id BIGINT, customer STRING, amount DOUBLE, card BINARY); "
    "INSERT INTO orders VALUES (1, 'enc-marker-ana', 10.5, UNHEX('DEAD')), "
    "(2, 'enc-marker-ben', 20.0, NULL), (3, 'enc-marker-cy', 30.25, UNHEX('00'))"
)


@dataclass
class PgWorld:
    inst: Installation
    serve: PgServe
    uid: str
    cmk: Dict[str, str]  # enc's BYOK CMK: key_id, arn
    root: Creds  # the account root's access key
    analyst: Creds  # SELECT on sales.t and enc; READER_ACTIONS on the CMK
    no_decrypt: Creds  # SELECT on enc; WRITER_ACTIONS (no kms:Decrypt) on the CMK
    outsider: Creds  # no policies, no grants
    sts: Creds  # a session of pg-role (SELECT on sales.t)
    session_arn: str


def _policy(actions, resources) -> str:
    return json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]})


def _user(inst: Installation, name: str, policy: Optional[str] = None) -> Creds:
    inst.ok("iam", "create-user", "--name", name)
    if policy:
        inst.ok("iam", "attach-policy", "--policy", policy, "--user", name)
    k = fields(inst.ok("iam", "create-access-key", "--user", name))
    return Creds(k["access_key_id"], k["access_key_secret"])


@pytest.fixture(scope="module")
def pgw(sealhouse_bin, tmp_path_factory) -> PgWorld:
    inst = Installation(sealhouse_bin, tmp_path_factory.mktemp("pg-serve"))
    ok = inst.ok
    uid = ok("iam", "whoami").strip().split(":")[3]
    k = fields(ok("iam", "create-access-key"))
    root = Creds(k["access_key_id"], k["access_key_secret"])
    cmk = fields(ok("kms", "create-key", "--description", "pg serve BYOK key"))
    ok("iam", "create-policy", "--name", "pg-kms", "--document", _policy(READER_ACTIONS, [cmk["arn"]]))
    ok("iam", "create-policy", "--name", "pg-kms-no-decrypt", "--document", _policy(WRITER_ACTIONS, [cmk["arn"]]))
    analyst = _user(inst, "pg-analyst", "pg-kms")
    no_decrypt = _user(inst, "pg-nodecrypt", "pg-kms-no-decrypt")
    outsider = _user(inst, "pg-outsider")

    trust = json.dumps(
        {
            "Version": "1",
            "Statement": [
                {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"RAM": [f"acs:ram::{uid}:root"]}}
            ],
        }
    )
    role_arn = ok("iam", "create-role", "--name", "pg-role", "--trust-policy", trust).strip()
    s = fields(ok("iam", "assume-role", "--role-arn", role_arn, "--session-name", "pg-tests"))
    sts = Creds(s["access_key_id"], s["access_key_secret"], s["security_token"])

    ok("sql", "-e", "CREATE PROJECT sales")
    ok("sql", "--project", "sales", "-e", SALES_SQL)
    ok(
        "sql", "--project", "sales", "-e",
        f"ADD USER 'pg-analyst'; ADD USER '{role_arn}'; "
        "GRANT SELECT ON TABLE t TO USER 'pg-analyst'; "
        f"GRANT SELECT ON TABLE t TO USER '{role_arn}'",
    )
    ok("sql", "-e", f"CREATE PROJECT enc ENCRYPTION ALGORITHM AES256 KEY '{cmk['arn']}'")
    ok("sql", "--project", "enc", "-e", ENC_SQL)
    ok(
        "sql", "--project", "enc", "-e",
        "ADD USER 'pg-analyst'; ADD USER 'pg-nodecrypt'; "
        "GRANT SELECT ON PROJECT enc TO USER 'pg-analyst'; GRANT SELECT ON PROJECT enc TO USER 'pg-nodecrypt'",
    )

    serve = PgServe(inst)
    try:
        assert serve.data_dir == str(inst.data), serve.log_tail()
        yield PgWorld(
            inst=inst,
            serve=serve,
            uid=uid,
            cmk=cmk,
            root=root,
            analyst=analyst,
            no_decrypt=no_decrypt,
            outsider=outsider,
            sts=sts,
            session_arn=s["assumed_role"],
        )
    finally:
        serve.stop()


def password(creds: Creds) -> str:
    """The PostgreSQL password of an access key (STS: `secret:token`)."""
    if creds.security_token:
        return f"{creds.access_key_secret}:{creds.security_token}"
    return creds.access_key_secret


def run_psql(psql_bin, pgw: PgWorld, creds: Creds, sql: str, *options: str, db: str = "postgres",
             user: Optional[str] = None, pw: Optional[str] = None) -> subprocess.CompletedProcess:
    """psql against `sealhouse serve`, signed in with `creds`; `sql` on stdin."""
    return subprocess.run(
        [
            str(psql_bin), "-X", "-v", "ON_ERROR_STOP=1", "-h", pgw.serve.host, "-p", str(pgw.serve.port),
            "-U", user or creds.access_key_id, "-d", db, *options,
        ],
        input=sql,
        capture_output=True,
        text=True,
        timeout=60,
        env=libpq_env(pw if pw is not None else password(creds)),
    )


def why(p: subprocess.CompletedProcess, pgw: PgWorld, extra: str = "") -> str:
    return (
        f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}\n"
        f"{pgw.serve.log_tail()}\n{extra}"
    )


def connect(pgw: PgWorld, creds: Creds, dbname: str = "postgres", **kw):
    return psycopg.connect(
        host=pgw.serve.host,
        port=pgw.serve.port,
        user=creds.access_key_id,
        password=password(creds),
        dbname=dbname,
        connect_timeout=10,
        sslmode="disable",
        **kw,
    )


# --- psql --------------------------------------------------------------------


def test_psql_create_insert_select_and_describe(pgw, psql_bin):
    script = (
        "CREATE PROJECT psql_demo;\n"
        "CREATE TABLE psql_demo.t (id BIGINT, name STRING, b BINARY);\n"
        "INSERT INTO psql_demo.t VALUES (1, 'alice', CAST('ab' AS BINARY)), (2, NULL, UNHEX('00FF80')), "
        "(3, 'carol', NULL), (NULL, 'dave', UNHEX(''));\n"
    )
    p = run_psql(psql_bin, pgw, pgw.root, script)
    assert p.returncode == 0, why(p, pgw)
    assert p.stdout.splitlines() == ["CREATE PROJECT", "CREATE TABLE", "INSERT 0 4"], why(p, pgw)

    p = run_psql(
        psql_bin, pgw, pgw.root, "SELECT id, name, b FROM psql_demo.t ORDER BY id;\n",
        "-A", "-F", "|", "-P", "null=(null)",
    )
    assert p.returncode == 0, why(p, pgw)
    assert p.stdout.splitlines() == [
        "id|name|b",
        "1|alice|\\x6162",
        "2|(null)|\\x00ff80",
        "3|carol|(null)",
        "(null)|dave|\\x",
        "(4 rows)",
    ], why(p, pgw)

    # dbname = the project: it is the current project, `\d` lists its table.
    p = run_psql(psql_bin, pgw, pgw.root, "\\d\n\\dn\n", "-A", "-F", "|", db="psql_demo")
    assert p.returncode == 0, why(p, pgw)
    lines = p.stdout.splitlines()
    assert any(re.fullmatch(r"psql_demo\|t\|table\|.*", l) for l in lines), why(p, pgw)
    assert any(l.startswith("psql_demo|") for l in lines[lines.index("List of schemas"):]), why(p, pgw)

    p = run_psql(psql_bin, pgw, pgw.root, "\\d psql_demo.t\n", "-A", "-F", "|")
    assert p.returncode == 0, why(p, pgw)
    assert 'Table "psql_demo.t"' in p.stdout, why(p, pgw)
    columns = [l.split("|")[:2] for l in p.stdout.splitlines() if l.count("|") >= 2]
    assert columns == [["Column", "Type"], ["id", "bigint"], ["name", "text"], ["b", "bytea"]], why(p, pgw)


def test_psql_cursor_settings_and_read_only_block(pgw, psql_bin):
    script = (
        "BEGIN;\n"
        "DECLARE c CURSOR FOR SELECT id FROM sales.t WHERE id IS NOT NULL ORDER BY id;\n"
        "FETCH 2 FROM c;\n"
        "FETCH ALL FROM c;\n"
        "CLOSE c;\n"
        "COMMIT;\n"
        "SHOW TimeZone;\n"
        "SET TimeZone = 'UTC';\n"
        "SHOW client_encoding;\n"
    )
    p = run_psql(psql_bin, pgw, pgw.root, script, "-A", "-t")
    assert p.returncode == 0, why(p, pgw)
    assert p.stdout.splitlines() == [
        "BEGIN", "DECLARE CURSOR", "1", "2", "3", "CLOSE CURSOR", "COMMIT", "UTC", "SET", "UTF8",
    ], why(p, pgw)

    p = run_psql(psql_bin, pgw, pgw.root, "SET TimeZone = 'Asia/Shanghai';\n")
    assert p.returncode == 3 and "only TimeZone UTC is supported" in p.stderr, why(p, pgw)
    p = run_psql(psql_bin, pgw, pgw.root, "SET client_encoding = 'LATIN1';\n")
    assert p.returncode == 3 and "only UTF8 is supported" in p.stderr, why(p, pgw)

    p = run_psql(psql_bin, pgw, pgw.root, "BEGIN;\nINSERT INTO sales.hidden VALUES (7);\n")
    assert p.returncode == 3, why(p, pgw)
    assert "cannot run inside a transaction block" in p.stderr, why(p, pgw)
    p = run_psql(psql_bin, pgw, pgw.root, "SELECT count(*) FROM sales.hidden;\n", "-A", "-t")
    assert p.stdout.strip() == "1", why(p, pgw, "the refused INSERT wrote")


# --- signing in and authorisation ---------------------------------------------------


def test_wrong_password_is_refused(pgw, psql_bin):
    p = run_psql(psql_bin, pgw, pgw.root, "SELECT 1;\n", pw=pgw.root.access_key_secret + "x")
    assert p.returncode == 2, why(p, pgw)
    assert f'password authentication failed for user "{pgw.root.access_key_id}"' in p.stderr, why(p, pgw)
    assert p.stdout == "", why(p, pgw)

    # A secret typed as the user name is not echoed back (nor logged).
    p = run_psql(psql_bin, pgw, pgw.root, "SELECT 1;\n", user=pgw.analyst.access_key_secret, pw="whatever")
    assert p.returncode == 2, why(p, pgw)
    assert "password authentication failed" in p.stderr, why(p, pgw)
    assert f"(a name of {len(pgw.analyst.access_key_secret)} characters, not shown)" in p.stderr, why(p, pgw)
    assert pgw.analyst.access_key_secret not in p.stderr, why(p, pgw)

    # STS credentials need the token: the secret alone is refused.
    p = run_psql(psql_bin, pgw, pgw.sts, "SELECT 1;\n", pw=pgw.sts.access_key_secret)
    assert p.returncode == 2 and "password authentication failed" in p.stderr, why(p, pgw)
    p = run_psql(psql_bin, pgw, pgw.sts, "SELECT 1;\n", pw=pgw.sts.access_key_secret + ":" + "A" * 20)
    assert p.returncode == 2 and "password authentication failed" in p.stderr, why(p, pgw)

    log = "\n".join(pgw.serve.log)
    for secret in (pgw.root.access_key_secret, pgw.analyst.access_key_secret, pgw.sts.access_key_secret):
        assert secret not in log, "a secret is in the server's log"

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(pgw, Creds(pgw.analyst.access_key_id, "not-the-secret"))


def test_user_without_grant_is_refused(pgw):
    with connect(pgw, pgw.outsider, autocommit=True) as conn:
        cur = conn.cursor()
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
            cur.execute("SELECT * FROM sales.t")
        err = e.value
        assert err.sqlstate == "42501"
        message = err.diag.message_primary
        assert message.startswith("access denied"), message
        assert f"acs:ram::{pgw.uid}:user/pg-outsider may not odps:Select" in message, message
        assert "projects/sales/tables/t" in message and "GRANT SELECT ON TABLE t" in message, message
        assert "alice" not in message
        # The connection goes on.
        cur.execute("SELECT 1 AS one")
        assert cur.fetchall() == [(1,)]

    # The analyst of the same account holds the grant.
    with connect(pgw, pgw.analyst, autocommit=True) as conn:
        assert conn.execute("SELECT id, name, b FROM sales.t ORDER BY id").fetchall() == SALES_ROWS
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="access denied"):
            conn.execute("SELECT * FROM sales.hidden")


def test_psql_shows_a_user_without_grants_no_table(pgw, psql_bin):
    """Issue 19, reproduction 3: psql's \\d listed every table and column to
    a user the CLI refuses SHOW TABLES and DESC."""
    for db in ("postgres", "sales"):
        # psql reports finding nothing on stderr; its exit code for that
        # differs between versions, so the output is what is checked.
        p = run_psql(psql_bin, pgw, pgw.outsider, "\\d\n\\dt sales.*\n", "-A", "-F", "|", db=db)
        assert "Did not find any relation" in p.stderr, why(p, pgw)
        assert "sales|" not in p.stdout and "hidden" not in p.stdout, why(p, pgw)
    p = run_psql(psql_bin, pgw, pgw.outsider, "\\d sales.t\n", "-A", "-F", "|")
    assert "Did not find any relation" in p.stderr, why(p, pgw)
    assert "bytea" not in p.stdout + p.stderr, why(p, pgw)
    with connect(pgw, pgw.outsider, autocommit=True) as conn:
        for sql in (
            "SELECT relname FROM pg_catalog.pg_class WHERE relname IN ('t', 'hidden')",
            "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = 'sales'",
            "SELECT attname FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c "
            "ON a.attrelid = c.oid WHERE c.relname = 't' AND a.attnum > 0",
        ):
            assert conn.execute(sql).fetchall() == [], sql
    # The owner's psql still describes the table.
    p = run_psql(psql_bin, pgw, pgw.root, "\\d sales.t\n", "-A", "-F", "|")
    assert 'Table "sales.t"' in p.stdout, why(p, pgw)


def test_sts_session_signs_in_as_its_role(pgw, psql_bin):
    p = run_psql(
        psql_bin, pgw, pgw.sts, "SELECT id, name FROM t WHERE id IS NOT NULL ORDER BY id;\n",
        "-A", "-t", "-F", "|", "-P", "null=(null)", db="sales",
    )
    assert p.returncode == 0, why(p, pgw)
    assert p.stdout.splitlines() == ["1|alice", "2|(null)", "3|carol"], why(p, pgw)

    # Who it is: the refusal names the role session.
    with connect(pgw, pgw.sts, dbname="sales", autocommit=True) as conn:
        assert conn.execute("SELECT b FROM t WHERE id = %s", (2,)).fetchall() == [(b"\x00\xff\x10",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as e:
            conn.execute("SELECT * FROM hidden")
        assert pgw.session_arn == f"acs:ram::{pgw.uid}:assumed-role/pg-role/pg-tests"
        assert f"{pgw.session_arn} may not odps:Select" in str(e.value), str(e.value)


# --- psycopg 3 ---------------------------------------------------------------------


def test_psycopg_parameters_bytea_and_description(pgw):
    values = [
        (1, "plain", b"ab"),
        (2, "not utf-8", b"\x00\xff\x80\xfe"),
        (3, None, None),
        (4, "empty", b""),
        (5, "quote ' and \\ and é", bytes(range(256))),
    ]
    with connect(pgw, pgw.root, autocommit=True) as conn:
        conn.execute("CREATE PROJECT psy")
        conn.execute("CREATE TABLE psy.bin (id BIGINT, name STRING, b BINARY)")
        cur = conn.cursor()
        for row in values:
            cur.execute("INSERT INTO psy.bin VALUES (%s, %s, %s)", row)
            assert cur.statusmessage == "INSERT 0 1" and cur.rowcount == 1
        cur.execute("SELECT id, name, b FROM psy.bin WHERE id >= %s ORDER BY id", (1,))
        assert cur.fetchall() == values
        assert [(c.name, c.type_code) for c in cur.description] == [("id", 20), ("name", 25), ("b", 17)]
        assert [c.type_display for c in cur.description] == ["int8", "text", "bytea"]

        # Bytes as a parameter match the stored BINARY.
        cur.execute("SELECT id FROM psy.bin WHERE b = %s", (b"\x00\xff\x80\xfe",))
        assert cur.fetchall() == [(2,)]
        cur.execute("SELECT id FROM psy.bin WHERE name = %s AND b IS NOT NULL", ("quote ' and \\ and é",))
        assert cur.fetchall() == [(5,)]

        # Binary results too.
        bcur = conn.cursor(binary=True)
        bcur.execute("SELECT id, name, b FROM psy.bin WHERE id <= %s ORDER BY id", (3,))
        assert bcur.fetchall() == values[:3]


def test_psycopg_prepared_statements(pgw):
    with connect(pgw, pgw.analyst, dbname="sales", autocommit=True) as conn:
        cur = conn.cursor()
        by_id = {r[0]: r for r in SALES_ROWS}
        for _ in range(2):
            for i in (1, 2, 3, 99):
                cur.execute("SELECT id, name, b FROM t WHERE id = %s", (i,), prepare=True)
                assert cur.fetchall() == ([by_id[i]] if i in by_id else []), i
                assert [c.name for c in cur.description] == ["id", "name", "b"]

        # One named statement, described and executed several times over the
        # protocol (Parse once, Bind/Execute many).
        pg = conn.pgconn
        r = pg.prepare(b"by_id", b"SELECT name FROM t WHERE id = $1", [20])
        assert r.status == psycopg.pq.ExecStatus.COMMAND_OK, r.error_message
        d = pg.describe_prepared(b"by_id")
        assert (d.nparams, d.param_type(0), d.nfields, d.fname(0), d.ftype(0)) == (1, 20, 1, b"name", 25)
        got = []
        for i in (1, 3, 2, 1):
            r = pg.exec_prepared(b"by_id", [str(i).encode()])
            assert r.status == psycopg.pq.ExecStatus.TUPLES_OK, r.error_message
            got.append(r.get_value(0, 0))
        assert got == [b"alice", b"carol", None, b"alice"]


def test_psycopg_rollback_and_read_only_transactions(pgw):
    with connect(pgw, pgw.root, dbname="sales") as conn:  # not autocommit: BEGIN is implicit
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM t")
        assert cur.fetchone() == (4,)
        with pytest.raises(psycopg.Error) as e:
            cur.execute("SELECT * FROM no_such_table")
        assert "no_such_table" in str(e.value)
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            cur.execute("SELECT 1")
        conn.rollback()
        cur.execute("SELECT name FROM t WHERE id = %s", (3,))
        assert cur.fetchall() == [("carol",)]
        conn.commit()

        # A write inside a transaction block is refused, saying why, and
        # writes nothing.
        with pytest.raises(psycopg.errors.ActiveSqlTransaction) as e:
            with conn.transaction():
                cur.execute("SELECT count(*) FROM hidden")
                assert cur.fetchone() == (1,)
                cur.execute("INSERT INTO hidden VALUES (%s)", (7,))
        assert e.value.sqlstate == "25001"
        assert "cannot run inside a transaction block" in e.value.diag.message_primary
        assert "ROLLBACK could not undo it" in e.value.diag.message_primary
        conn.rollback()
        cur.execute("SELECT id FROM hidden")
        assert cur.fetchall() == [(42,)]
        conn.commit()

    # Outside a block (autocommit) the same write runs.
    with connect(pgw, pgw.root, dbname="sales", autocommit=True) as conn:
        conn.execute("CREATE TABLE scratch (id BIGINT)")
        cur = conn.execute("INSERT INTO scratch VALUES (%s), (%s)", (7, 8))
        assert cur.statusmessage == "INSERT 0 2"
        assert conn.execute("SELECT id FROM scratch ORDER BY id").fetchall() == [(7,), (8,)]


def test_psycopg_server_side_cursor(pgw):
    with connect(pgw, pgw.analyst, dbname="sales") as conn:
        with conn.transaction():
            with conn.cursor(name="c1") as cur:
                cur.itersize = 1
                cur.execute("SELECT id, name FROM t WHERE id IS NOT NULL ORDER BY id")
                assert [c.name for c in cur.description] == ["id", "name"]
                assert cur.fetchone() == (1, "alice")
                assert cur.fetchmany(5) == [(2, None), (3, "carol")]



# --- postgres_fdw from PostgreSQL 15 ---------------------------------------------


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


class Fdw:
    """A fresh database of the private PostgreSQL with postgres_fdw, and
    foreign servers pointing at `sealhouse serve`."""

    def __init__(self, cluster, pgw: PgWorld, db: str) -> None:
        self.cluster, self.pgw, self.db = cluster, pgw, db
        cluster.psql(f"CREATE DATABASE {db}")
        self.psql("CREATE EXTENSION postgres_fdw")

    def server(self, name: str, creds: Creds, pw: Optional[str] = None, dbname: str = "postgres") -> None:
        """A foreign server and the superuser's mapping signed in as `creds`."""
        self.psql(
            f"CREATE SERVER {name} FOREIGN DATA WRAPPER postgres_fdw OPTIONS "
            f"(host '{self.pgw.serve.host}', port '{self.pgw.serve.port}', dbname {_lit(dbname)});\n"
            f"CREATE USER MAPPING FOR postgres SERVER {name} OPTIONS "
            f"(user {_lit(creds.access_key_id)}, password {_lit(pw if pw is not None else password(creds))});\n"
        )

    def psql(self, sql: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.cluster.psql(sql, self.db, "-A", "-t", "-F", "|", "-P", "null=(null)", check=check)

    def rows(self, sql: str):
        p = self.psql(sql)
        return [l for l in p.stdout.splitlines() if l]

    def fails(self, sql: str) -> str:
        p = self.psql(sql, check=False)
        assert p.returncode != 0, f"should fail: {sql}\n{p.stdout}"
        return p.stderr + f"\n{self.pgw.serve.log_tail()}\n{self.cluster.log_tail()}"


@pytest.fixture
def fdw(request, postgres15, pgw) -> Fdw:
    name = "t_" + re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:50]
    f = Fdw(postgres15, pgw, name)
    try:
        yield f
    finally:
        postgres15.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", check=False)


def remote_sql(fdw: Fdw, query: str) -> str:
    plan = fdw.rows(f"EXPLAIN (VERBOSE, COSTS OFF) {query}")
    remote = [l.strip() for l in plan if l.strip().startswith("Remote SQL:")]
    assert len(remote) == 1, plan
    return remote[0]


def test_fdw_foreign_table_import_and_pushdown(fdw, pgw):
    fdw.server("sh", pgw.analyst)
    fdw.psql(
        "CREATE FOREIGN TABLE ft (id bigint, name text, b bytea) "
        "SERVER sh OPTIONS (schema_name 'sales', table_name 't')"
    )
    assert fdw.rows("SELECT id, name, b FROM ft ORDER BY id") == [
        "1|alice|\\x6162",
        "2|(null)|\\x00ff10",
        "3|carol|(null)",
        "(null)|dave|\\x",
    ]

    q = "SELECT id, name FROM ft WHERE id > 1 AND name = 'carol'"
    assert remote_sql(fdw, q) == "Remote SQL: SELECT id, name FROM sales.t WHERE ((id > 1)) AND ((name = 'carol'))"
    assert fdw.rows(q) == ["3|carol"]
    q = "SELECT id FROM ft WHERE name IS NULL OR id IN (1, 3)"
    assert "WHERE" in remote_sql(fdw, q)
    assert sorted(fdw.rows(q)) == ["1", "2", "3"]
    q = "SELECT count(*), max(id) FROM ft WHERE id >= 2"
    assert remote_sql(fdw, q) == "Remote SQL: SELECT count(*), max(id) FROM sales.t WHERE ((id >= 2))"
    assert fdw.rows(q) == ["2|3"]

    # IMPORT FOREIGN SCHEMA: the table and its types, as the server describes them.
    fdw.psql("CREATE SCHEMA imported; IMPORT FOREIGN SCHEMA sales LIMIT TO (t) FROM SERVER sh INTO imported")
    assert fdw.rows(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'imported' AND table_name = 't' ORDER BY ordinal_position"
    ) == ["id|bigint", "name|text", "b|bytea"]
    q = "SELECT name, b FROM imported.t WHERE id < 3 ORDER BY id"
    assert "WHERE ((id < 3))" in remote_sql(fdw, q)
    assert fdw.rows(q) == ["alice|\\x6162", "(null)|\\x00ff10"]


def test_fdw_bytea_filter_pushdown(fdw, pgw):
    fdw.server("sh", pgw.analyst)
    fdw.psql(
        "CREATE FOREIGN TABLE ft (id bigint, name text, b bytea) "
        "SERVER sh OPTIONS (schema_name 'sales', table_name 't')"
    )
    q = "SELECT id FROM ft WHERE b = '\\x00ff10'::bytea"
    assert remote_sql(fdw, q) == "Remote SQL: SELECT id FROM sales.t WHERE ((b = E'\\\\x00ff10'))"
    assert fdw.rows(q) == ["2"]


def test_fdw_mapping_identity_is_authorised(fdw, pgw):
    # A wrong password: the foreign scan cannot connect.
    fdw.server("badpw", pgw.analyst, pw=pgw.analyst.access_key_secret + "x")
    fdw.psql("CREATE FOREIGN TABLE bad (id bigint) SERVER badpw OPTIONS (schema_name 'sales', table_name 't')")
    err = fdw.fails("SELECT id FROM bad")
    assert 'could not connect to server "badpw"' in err, err
    assert f'password authentication failed for user "{pgw.analyst.access_key_id}"' in err, err

    # A mapping whose identity has no grant: the warehouse refuses the SELECT.
    fdw.server("outsider", pgw.outsider)
    fdw.psql("CREATE FOREIGN TABLE o (id bigint) SERVER outsider OPTIONS (schema_name 'sales', table_name 't')")
    err = fdw.fails("SELECT id FROM o")
    assert f"access denied: acs:ram::{pgw.uid}:user/pg-outsider may not odps:Select" in err, err
    assert "remote SQL command: SELECT id FROM sales.t" in err, err

    # An STS mapping (password `secret:token`) reads what its role is granted.
    fdw.server("sts", pgw.sts)
    fdw.psql("CREATE FOREIGN TABLE s (id bigint, name text) SERVER sts OPTIONS (schema_name 'sales', table_name 't')")
    assert fdw.rows("SELECT name FROM s WHERE id = 1") == ["alice"]


def test_fdw_encrypted_project(fdw, pgw):
    # The files really are encrypted: no marker in any file, encrypted Parquet footers.
    files = [f for f in (pgw.inst.data / "tables").rglob("*") if f.is_file()]
    assert files
    raws = [f.read_bytes() for f in files]
    assert not any(b"enc-marker" in raw for raw in raws)
    assert any(raw.endswith(b"PARE") for raw in raws), "no encrypted-footer Parquet file"
    desc = pgw.inst.ok("sql", "-e", "DESC PROJECT enc")
    assert pgw.cmk["arn"] in desc, desc

    fdw.server("enc", pgw.analyst)
    fdw.psql("CREATE SCHEMA e; IMPORT FOREIGN SCHEMA enc FROM SERVER enc INTO e")
    assert fdw.rows(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'e' AND table_name = 'orders' ORDER BY ordinal_position"
    ) == ["id|bigint", "customer|text", "amount|double precision", "card|bytea"]
    assert fdw.rows("SELECT id, customer, amount, card FROM e.orders ORDER BY id") == [
        "1|enc-marker-ana|10.5|\\xdead",
        "2|enc-marker-ben|20|(null)",
        "3|enc-marker-cy|30.25|\\x00",
    ]
    q = "SELECT customer FROM e.orders WHERE amount > 15 AND customer <> 'enc-marker-cy'"
    assert remote_sql(fdw, q) == (
        "Remote SQL: SELECT customer FROM enc.orders "
        "WHERE ((amount > 15::double precision)) AND ((customer <> 'enc-marker-cy'))"
    )
    assert fdw.rows(q) == ["enc-marker-ben"]

    # Warehouse authorisation still applies to encrypted projects.
    fdw.server("enc_outsider", pgw.outsider)
    fdw.psql("CREATE FOREIGN TABLE eo (id bigint) SERVER enc_outsider OPTIONS (schema_name 'enc', table_name 'orders')")
    err = fdw.fails("SELECT id FROM eo")
    assert "access denied" in err and "user/pg-outsider may not odps:Select" in err, err
    assert "enc-marker" not in err.split(pgw.serve.log_tail())[0], err


def test_fdw_encrypted_project_is_read_under_warehouse_grants(fdw, pgw):
    """Storage encryption is transparent to the warehouse's own users: the
    warehouse reaches the project's key itself (docs/storage-encryption.md,
    'Who calls the KMS'), so what decides who reads is the SELECT grant, not
    the reader's own KMS permissions. Direct file readers (external engines)
    are the ones that need kms:Decrypt (test_external_engine.py)."""
    fdw.server("enc", pgw.analyst)
    fdw.psql("CREATE FOREIGN TABLE ok (id bigint, customer text) SERVER enc OPTIONS (schema_name 'enc', table_name 'orders')")
    assert fdw.rows("SELECT customer FROM ok WHERE id = 1") == ["enc-marker-ana"]

    # Granted SELECT, no kms:Decrypt of its own: reads through the warehouse.
    fdw.server("nodec", pgw.no_decrypt)
    fdw.psql("CREATE FOREIGN TABLE nd (id bigint, customer text) SERVER nodec OPTIONS (schema_name 'enc', table_name 'orders')")
    assert fdw.rows("SELECT customer FROM nd WHERE id = 1") == ["enc-marker-ana"]


def test_text_parameters_keep_their_value(pgw):
    """Issue 19, reproduction 2: a text parameter that starts like an array
    literal ('{...}') was read as one and came back as '[...]'."""
    tricky = ['{"ssn":"123-45-6789"}', "{a,b}", "(1,2)", '"quoted"', "{}", "[x]", "plain"]
    with connect(pgw, pgw.root, autocommit=True) as conn:
        cur = conn.cursor()
        for value in tricky:
            for sql in ("SELECT %s::text", "SELECT %s", "SELECT concat(%s, '')"):
                cur.execute(sql, (value,))
                assert cur.fetchone() == (value,), (sql, value)
        ks = "KEYSET_FROM_JSON(KEYSET_TO_JSON(NEW_KEYSET('AES-GCM-256', 'p')))"
        cur.execute(
            f"SELECT CAST(ENHANCED_SYM_DECRYPT(k, ENHANCED_SYM_ENCRYPT(k, %s::text)) AS STRING) "
            f"FROM (SELECT {ks} AS k)",
            (tricky[0],),
        )
        assert cur.fetchone() == (tricky[0],)
