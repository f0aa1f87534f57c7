#!/usr/bin/env bash
# The whole test suite: unit, integration (driving the real binary), test
# vectors from ../shared/testdata, property tests, and a one-pass run of each
# benchmark to prove it still works. Needs only cargo.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
