#!/usr/bin/env bash
# The main job until SQL lands: the keyset guide of the specification
# (shared/spec/000_969302abb082cab7.txt, "Use standard keysets" and "Encrypt and
# decrypt data") walked through with the sealhouse command.
#
# Usage: scripts/demo.sh            (builds the binary first; needs only cargo)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --release -p sealhouse
sealhouse() { cargo run --quiet --release -p sealhouse -- "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { printf '\n== %s\n' "$*"; }

step "NEW_KEYSET('AES-GCM-256', 'my first keyset'), shown with KEYSET_TO_JSON"
sealhouse keyset new --algorithm AES-GCM-256 --description 'my first keyset' --out "$work/ks.json"
cat "$work/ks.json"

step "ADD_KEY_TO_KEYSET(ks, 'AES-SIV-CMAC-128', UNHEX('b755...0a3d'), ''): the supplied key becomes primary"
sealhouse keyset add-key --in "$work/ks.json" --algorithm AES-SIV-CMAC-128 \
  --key-hex b75585cf321cdcad42451690cdb7bfc49c26092f60f854e72d43244c55620a3d --out "$work/added.json"
sealhouse keyset list --in "$work/added.json"

step "ROTATE_KEYSET(ks, 'AES-GCM-256'): a generated key becomes primary"
sealhouse keyset rotate --in "$work/ks.json" --algorithm AES-GCM-256 --out "$work/rotated.json"
sealhouse keyset list --in "$work/rotated.json"

step "The binary keyset as HEX(), as stored in a BINARY column"
sealhouse keyset convert --in "$work/ks.json" --out-format hex

step "ENHANCED_SYM_ENCRYPT(ks, tel) and ENHANCED_SYM_DECRYPT(ks, ciphertext, '') for mf_test_data"
for row in "1 kyle 13900001234" "2 tom 13900001111"; do
  read -r id name tel <<<"$row"
  ct=$(sealhouse encrypt --keyset "$work/ks.json" --text "$tel")
  pt=$(sealhouse decrypt --keyset "$work/rotated.json" --base64 "$ct")
  printf '%s | %-4s | %s | %s...\n' "$id" "$name" "$pt" "${ct:0:24}"
done

step "A ciphertext made by the original service decrypts once its keyset is imported"
echo '0A1072384D715A414541385044643351534C12580A330A0B4145532D47434D2D323536122026A8FB1126DF4F5B5DD03C180E6919565D7716CBB291815EFB5BBF30F8BEF9AF1801200210011A1072384D715A414541385044643351534C20022A0B68656C6C6F20776F726C64' >"$work/documented.hex"
sealhouse decrypt --keyset "$work/documented.hex" \
  --base64 'nLcdDFdjO2T4aATtirvDMVeBD8oSuu4BfM3t+Y8ny0kwQjJlAQAwkVhYOocPQll8LmdzSwkRf3v2iTow+TAmnQ=='
