#!/usr/bin/env bash
# The main job, a tour of what a new user needs, on the embedded warehouse and
# its default data directory (no server):
#  1. the specification's keyset guide (shared/spec/000_969302abb082cab7.txt,
#     "Prepare test data", "Use standard keysets", "Encrypt and decrypt data"),
#     copied verbatim into examples/keyset_guide.sql, then the same keysets
#     through the keyset command;
#  2. a wrapped keyset (spec 001): a CMK in the embedded KMS and a role the
#     warehouse assumes to use it, as NEW_WRAPPED_KEYSET / USE_WRAPPED_KEYSET;
#  3. an encrypted project (spec 002): AES256 with that CMK (BYOK), a table
#     written to it, and a look at the data directory showing that no file
#     holds the inserted plaintext.
# Names made here carry the run's time, so the tour reruns on the same data
# directory.
#
# Usage: scripts/demo.sh       (builds the binary on first run; needs only cargo)
# With SEALHOUSE_BIN set, runs that binary instead (CI passes the one its
# tests built, so the workspace is built with one feature set: a plain
# `cargo build -p sealhouse` resolves features without the dev-dependencies
# and rebuilds DataFusion).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n "${SEALHOUSE_BIN:-}" ]]; then
  [[ -x "$SEALHOUSE_BIN" ]] || { echo "SEALHOUSE_BIN=$SEALHOUSE_BIN is not an executable" >&2; exit 1; }
  sealhouse() { "$SEALHOUSE_BIN" "$@"; }
else
  cargo build --quiet -p sealhouse
  sealhouse() { cargo run --quiet -p sealhouse -- "$@"; }
fi

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

suffix=$(date +%s)
printf '\n== A wrapped keyset through the embedded KMS and a role (spec 001)\n'
role="demo-role-$suffix"
sealhouse iam create-role --name "$role" --trust-policy \
  '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["odps.aliyuncs.com"]}}],"Version":"1"}' >/dev/null
sealhouse iam attach-policy --policy AliyunKMSCryptoUserAccess --system --role "$role" >/dev/null
key_arn=$(sealhouse kms create-key --description "demo CMK $suffix" | sed -n 's/^arn: //p')
account=$(sealhouse iam whoami | sed -n 's/^acs:ram::\([0-9]*\):root$/\1/p')
role_arn="acs:ram::$account:role/$role"
printf 'CMK %s, role %s (trusts the warehouse, may use KMS)\n\n' "$key_arn" "$role_arn"
sealhouse sql --echo -e "
@kms := '$key_arn';
@role := '$role_arn';
@wrapped := NEW_WRAPPED_KEYSET(@kms, @role, 'AES-GCM-256', 'demo');
SELECT CAST(ENHANCED_SYM_DECRYPT(USE_WRAPPED_KEYSET(@kms, @role, @wrapped),
         ENHANCED_SYM_ENCRYPT(USE_WRAPPED_KEYSET(@kms, @role, @wrapped), '13900001234')) AS STRING) AS round_trip;
SELECT GET_JSON_OBJECT(USE_WRAPPED_KEYSET(@kms, @role, @wrapped).wrapped_keyset_info,
         '\$.masked_keyset.key[0].key_meta_data.type') AS key_type;"

printf '\n== An encrypted project: AES256 with your own key (spec 002)\n'
project="demo_enc_$suffix"
marker="demo-plaintext-$suffix"
sealhouse project create "$project" --encryption AES256 --key "$key_arn"
sealhouse sql --project "$project" --echo -e "
CREATE TABLE orders (id BIGINT, note STRING);
INSERT INTO orders VALUES (1, '$marker'), (2, '$marker');
SELECT * FROM orders;"
data_dir=$(sealhouse kms config | sed -n 's/^data_dir: //p')
if grep -rlaF -- "$marker" "$data_dir" >/dev/null; then
  printf 'error: a file under %s holds the plaintext %s\n' "$data_dir" "$marker" >&2
  exit 1
fi
printf '\nNo file under %s holds %s: the project'"'"'s files are encrypted.\n' "$data_dir" "$marker"
# The same look finds the keyset guide's plaintext in its unencrypted project.
plain=$(grep -rlaF -- 13900001234 "$data_dir/tables" | wc -l)
printf 'For comparison, %s file(s) of the unencrypted default project hold 13900001234.\n' "$plain"
