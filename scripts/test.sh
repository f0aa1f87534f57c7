#!/usr/bin/env bash
# The whole test suite: unit, integration (driving the real binary), test
# vectors from ../shared/testdata, property tests, a one-pass run of each
# benchmark to prove it still works, and the Python tests (pyarrow reading
# the warehouse's encrypted files through python/sealhouse-kms-client; they
# make their own venv). Needs cargo and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
# The binary the integration tests just used: building it alone would
# resolve features differently and compile much of the workspace again.
target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target="$(pwd)/$target" ;; esac
SEALHOUSE_BIN="$target/debug/sealhouse" scripts/python-tests.sh
