#!/usr/bin/env bash
# The Python tests: the sealhouse-kms-client package (python/sealhouse-kms-client)
# against the real `sealhouse` binary. Makes or reuses a venv, installs the
# pinned test requirements and the package (skipped when nothing changed),
# builds the binary if it is missing, and runs pytest. The PostgreSQL endpoint's
# tests (test_pg_serve.py) also need PostgreSQL 15 (psql, and initdb, pg_ctl and
# postgres_fdw for a private cluster): without it they skip, or fail when
# SEALHOUSE_REQUIRE_POSTGRES is set (as .ci/run does). Fails (non-zero) on any
# error, including a pyarrow that cannot be installed.
#
#   SEALHOUSE_VENV    the venv (default ~/.cache/sealhouse/venv)
#   CARGO_TARGET_DIR  where the binary is built (default target/)
#   SEALHOUSE_BIN     the binary to test (default $CARGO_TARGET_DIR/debug/sealhouse)
#   PYTHON            the interpreter that makes the venv (default python3)
#   SEALHOUSE_PG_BIN  PostgreSQL 15's bin directory (default /usr/lib/postgresql/15/bin)
#   SEALHOUSE_REQUIRE_POSTGRES  set: missing PostgreSQL fails the tests instead of skipping them
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

venv=${SEALHOUSE_VENV:-$HOME/.cache/sealhouse/venv}
python=${PYTHON:-python3}
requirements=python/requirements-test.txt
package=python/sealhouse-kms-client

say() { printf 'python-tests: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v "$python" >/dev/null || die "$python not found; install Python 3.9 or later"

# The venv: remade when broken (its interpreter gone or failing).
if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    say "creating venv $venv"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
fi
vpy="$venv/bin/python"

# Install when the requirements, the package's metadata or the interpreter
# changed; the stamp holds their hash. An editable install picks up source
# changes without reinstalling.
stamp="$venv/.sealhouse-python-tests.stamp"
want=$(
    {
        cat "$requirements" "$package/pyproject.toml"
        printf '%s\n' "$root/$package"
        "$vpy" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]] \
    || ! "$vpy" -c 'import pyarrow.parquet.encryption, pytest, psycopg, sealhouse_kms' >/dev/null 2>&1; then
    say "installing $requirements and $package into $venv"
    rm -f "$stamp"
    "$vpy" -m pip install --disable-pip-version-check --quiet --only-binary=pyarrow,psycopg-binary \
        -r "$requirements" \
        || die "could not install $requirements (see pip's error above; pyarrow and psycopg-binary are taken only as prebuilt wheels)"
    "$vpy" -m pip install --disable-pip-version-check --quiet --no-deps -e "$package" \
        || die "could not install $package"
    "$vpy" -c 'import pyarrow.parquet.encryption, pytest, psycopg, sealhouse_kms' \
        || die "the installed packages do not import"
    printf '%s\n' "$want" >"$stamp"
else
    say "venv $venv is up to date"
fi

# The binary.
target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target="$root/$target" ;; esac
bin=${SEALHOUSE_BIN:-$target/debug/sealhouse}
if [[ -n "${SEALHOUSE_BIN:-}" ]]; then
    [[ -x "$bin" ]] || die "SEALHOUSE_BIN=$SEALHOUSE_BIN is not an executable"
else
    # Always through cargo: a no-op when current, and never a stale binary.
    say "building $bin"
    # (and the tests' S3 server, which the object-storage tests start beside it)
    CARGO_TARGET_DIR=$target cargo build -p sealhouse --bin sealhouse \
        -p sealhouse-test-s3 --bin sealhouse-test-s3 --locked
    [[ -x "$bin" ]] || die "cargo build did not produce $bin"
fi
export SEALHOUSE_BIN=$bin

say "pyarrow $("$vpy" -c 'import pyarrow; print(pyarrow.__version__)'), binary $bin"
# Hermetic: no proxies, no inherited credentials, data or config dir, root key or libpq (PG*)
# settings.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY \
    SEALHOUSE_ACCESS_KEY_ID SEALHOUSE_ACCESS_KEY_SECRET SEALHOUSE_SECURITY_TOKEN \
    SEALHOUSE_KMS_ENDPOINT SEALHOUSE_PROFILE SEALHOUSE_DATA_DIR SEALHOUSE_KMS_ROOT_KEY \
    SEALHOUSE_KMS_ROOT_KEY_FILE SEALHOUSE_CONFIG_DIR SEALHOUSE_STORAGE_URL \
    AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION \
    AWS_ENDPOINT_URL AWS_ALLOW_HTTP AWS_PROFILE \
    PGHOST PGHOSTADDR PGPORT PGUSER PGPASSWORD PGPASSFILE PGDATABASE PGSERVICE PGSERVICEFILE \
    PGSSLMODE PGOPTIONS PGTZ PGCLIENTENCODING
export PYTHONDONTWRITEBYTECODE=1
exec "$vpy" -m pytest -q -p no:cacheprovider python/tests "$@"
