#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/seeds/ from the documented vectors in
../shared/testdata/maxcompute/vectors.json (relative to the repository root).

Run from anywhere: python3 fuzz/gen_seeds.py [path/to/vectors.json]
"""
import base64
import hashlib
import json
import pathlib
import sys

here = pathlib.Path(__file__).resolve().parent
vectors_path = pathlib.Path(
    sys.argv[1] if len(sys.argv) > 1
    else here.parent.parent / "shared" / "testdata" / "maxcompute" / "vectors.json"
)
vectors = json.loads(vectors_path.read_text())
by_fn = {v["function"]: v for v in vectors}
seeds = {"keyset_binary": {}, "keyset_json": {}, "ciphertext": {}}

# keyset_binary: the documented keysets and the documented outputs of
# ADD_KEY_TO_KEYSET / ROTATE_KEYSET (keysets of two keys, two algorithms).
seeds["keyset_binary"]["documented"] = bytes.fromhex(by_fn["KEYSET_FROM_JSON"]["keyset_hex"])
seeds["keyset_binary"]["new_keyset"] = bytes.fromhex(by_fn["NEW_KEYSET"]["keyset_hex"])
seeds["keyset_binary"]["add_key_output"] = bytes.fromhex(by_fn["ADD_KEY_TO_KEYSET"]["output_hex_or_text"])
seeds["keyset_binary"]["rotate_output"] = bytes.fromhex(by_fn["ROTATE_KEYSET"]["output_hex_or_text"])

# keyset_json: the documented pretty-printed JSON and the compact JSON of the
# other examples.
seeds["keyset_json"]["documented"] = by_fn["KEYSET_TO_JSON"]["output_hex_or_text"].encode()
for name, fn in [("new_keyset", "NEW_KEYSET"), ("add_key", "ADD_KEY_TO_KEYSET"), ("rotate", "ROTATE_KEYSET")]:
    seeds["keyset_json"][name] = by_fn[fn]["keyset_json"].encode()

# ciphertext: input = [aad length] || aad || ciphertext.
enhanced = base64.b64decode(by_fn["ENHANCED_SYM_ENCRYPT"]["output_hex_or_text"])
sym = base64.b64decode(by_fn["SYM_ENCRYPT"]["output_hex_or_text"])
seeds["ciphertext"]["enhanced_documented"] = b"\x00" + enhanced
seeds["ciphertext"]["enhanced_with_aad"] = b"\x04test" + enhanced
seeds["ciphertext"]["sym_documented"] = b"\x00" + sym
seeds["ciphertext"]["short"] = b"\x00" + b"0001"

for target, files in seeds.items():
    out = here / "seeds" / target
    out.mkdir(parents=True, exist_ok=True)
    seen = set()
    for name, data in files.items():
        digest = hashlib.sha1(data).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        (out / name).write_bytes(data)
        print(f"{target}/{name}: {len(data)} bytes")
