#!/usr/bin/env python3
# An independent implementation of the documented ACS3-HMAC-SHA256 rules
# (Python standard library only: hashlib, hmac, urllib.parse.quote), written
# from the Alibaba Cloud documentation, not from the Rust code. It computes the
# vector `independent_python_vector` in crates/iam/src/signing/kat_tests.rs
# pins: an STS token, a JSON body with content-type, a ROA-style path and a
# query needing encoding, a host with a port. Run: python3 this_file.py
import hashlib, hmac
from urllib.parse import quote

def enc(s):  # RFC 3986: unreserved A-Z a-z 0-9 - _ . ~
    return quote(s, safe='-_.~', encoding='utf-8')

method = "POST"
path_segments = ["", "keys", "my key*", "ü~"]          # decoded
query = [("Filter", "a b*c~/+"), ("Alias", "alias/x"), ("Empty", ""), ("Alias", "alias/a")]
body = b'{"CiphertextBlob":"AAEC","EncryptionContext":{"k":"v"}}'
headers = {
    "host": "kms.sealhouse.local:8443",
    "x-acs-action": "Decrypt",
    "x-acs-version": "2016-01-20",
    "x-acs-date": "2026-11-24T08:00:00Z",
    "x-acs-signature-nonce": "sealhouse-kat-nonce-0001",
    "content-type": "application/json; charset=utf-8",
    "x-acs-security-token": "sealhouse-kat-sts-token-000000000000000000000000",
}
ak, secret = "STS.sealhousekat000000000001", "sealhouse-kat-secret-0123456789abcdefghij"

hashed_payload = hashlib.sha256(body).hexdigest()
headers["x-acs-content-sha256"] = hashed_payload
canonical_uri = "/".join(enc(s) for s in path_segments)
canonical_query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query, key=lambda kv: (kv[0].encode(), kv[1].encode())))
names = sorted(headers)
canonical_headers = "".join(f"{n}:{headers[n].strip()}\n" for n in names)
signed_headers = ";".join(names)
cr = "\n".join([method, canonical_uri, canonical_query, canonical_headers, signed_headers, hashed_payload])
sts = "ACS3-HMAC-SHA256\n" + hashlib.sha256(cr.encode()).hexdigest()
sig = hmac.new(secret.encode(), sts.encode(), hashlib.sha256).hexdigest()
print(repr(cr)); print(repr(sts)); print(sig)
print(f"ACS3-HMAC-SHA256 Credential={ak},SignedHeaders={signed_headers},Signature={sig}")
