#!/usr/bin/env bash
# The main job: the specification's keyset guide (shared/spec/000_969302abb082cab7.txt,
# "Prepare test data", "Use standard keysets", "Encrypt and decrypt data"),
# copied verbatim into examples/keyset_guide.sql, run by the embedded warehouse
# on its default data directory (no server), then the same keysets through the
# keyset command.
#
# Usage: scripts/demo.sh       (builds the binary on first run; needs only cargo)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p sealhouse
sealhouse() { cargo run --quiet -p sealhouse -- "$@"; }

printf '== The keyset guide in SQL (data directory: %s)\n\n' \
  "${SEALHOUSE_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/sealhouse}"
sealhouse sql --echo -f examples/keyset_guide.sql

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '\n== The same with the keyset command\n'
sealhouse keyset new --algorithm AES-GCM-256 --description 'my first keyset' --out "$work/ks.json"
sealhouse keyset add-key --in "$work/ks.json" --algorithm AES-SIV-CMAC-128 \
  --key-hex b75585cf321cdcad42451690cdb7bfc49c26092f60f854e72d43244c55620a3d --out "$work/ks.json"
sealhouse keyset list --in "$work/ks.json"
ct=$(sealhouse encrypt --keyset "$work/ks.json" --text 13900001234)
printf 'ENHANCED_SYM_ENCRYPT -> %s\n' "$ct"
printf 'ENHANCED_SYM_DECRYPT -> %s\n' "$(sealhouse decrypt --keyset "$work/ks.json" --base64 "$ct")"
