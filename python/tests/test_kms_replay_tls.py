"""The KMS HTTP API against attackers on the wire (issue 19, reproduction 4):
a captured signed request is refused when replayed to the same server, to
the same address after a restart, and to another listener on the same data
directory; and the API serves TLS (`--tls-cert` / `--tls-key`)."""

import json
import pathlib
import subprocess
import urllib.error
import urllib.request
from typing import Optional, Tuple

import pytest

from conftest import Installation, PgServe, Server, _free_port, fields
from sealhouse_kms import KmsApi, KmsConnectionError
from sealhouse_kms.signing import Signer


def _send(endpoint: str, signed, body: bytes) -> Tuple[int, dict]:
    """POSTs a signed request as captured: its headers, `host` included."""
    request = urllib.request.Request(endpoint.rstrip("/") + "/", data=body, method="POST")
    for name, value in signed.headers:
        request.add_header(name, value)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _state(inst: Installation, key_id: str) -> str:
    return fields(inst.ok("kms", "describe-key", "--key-id", key_id))["key_state"]


def test_a_captured_request_is_refused_everywhere_and_after_a_restart(sealhouse_bin, tmp_path):
    inst = Installation(sealhouse_bin, tmp_path)
    k = fields(inst.ok("iam", "create-access-key"))
    key = fields(inst.ok("kms", "create-key", "--description", "replay target"))
    signer = Signer(k["access_key_id"], k["access_key_secret"])
    body = json.dumps({"KeyId": key["key_id"]}).encode()

    def disable(host: str):
        return signer.sign(
            action="DisableKey", host=host, headers=[("content-type", "application/json")], body=body
        )

    port = _free_port()
    first = Server(inst, "--host", "kms.test", listen=f"127.0.0.1:{port}")
    captured = disable("kms.test")
    try:
        assert _send(first.endpoint, captured, body)[0] == 200
        assert _state(inst, key["key_id"]) == "Disabled"
        inst.ok("kms", "enable-key", "--key-id", key["key_id"])

        # The same server.
        status, error = _send(first.endpoint, captured, body)
        assert (status, error["Code"]) == (401, "SignatureNonceUsed"), error
    finally:
        first.stop()

    # The same address after a restart.
    again = Server(inst, "--host", "kms.test", listen=f"127.0.0.1:{port}")
    other = None
    try:
        status, error = _send(again.endpoint, captured, body)
        assert (status, error["Code"]) == (401, "SignatureNonceUsed"), error

        # Another process on the same data directory that answers to the
        # same name.
        other = PgServe(inst, "--kms-host", "kms.test")
        status, error = _send(other.kms_endpoint, captured, body)
        assert (status, error["Code"]) == (401, "SignatureNonceUsed"), error

        # Signed for one listener and sent to another: refused by its host,
        # before its nonce is used; it still works where it was meant to go.
        fresh = disable(again.address)
        status, error = _send(other.kms_endpoint, fresh, body)
        assert (status, error["Code"]) == (401, "InvalidHost"), error
        assert again.address in error["Message"]
        assert _state(inst, key["key_id"]) == "Enabled"
        assert _send(again.endpoint, fresh, body)[0] == 200
        assert _state(inst, key["key_id"]) == "Disabled"
    finally:
        again.stop()
        if other is not None:
            other.stop()


def _self_signed(directory: pathlib.Path) -> Tuple[pathlib.Path, pathlib.Path]:
    cert, key = directory / "kms-cert.pem", directory / "kms-key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_the_kms_api_over_tls(sealhouse_bin, tmp_path):
    inst = Installation(sealhouse_bin, tmp_path)
    k = fields(inst.ok("iam", "create-access-key"))
    cmk = fields(inst.ok("kms", "create-key", "--description", "tls"))
    cert, key = _self_signed(tmp_path)

    def api(endpoint: str, ca_file: Optional[str] = str(cert)) -> KmsApi:
        return KmsApi(endpoint, k["access_key_id"], k["access_key_secret"], ca_file=ca_file, timeout=10)

    server = Server(inst, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert server.endpoint.startswith("https://127.0.0.1:"), server.endpoint
        a = api(server.endpoint)
        blob = a.encrypt(cmk["key_id"], b"over tls")
        assert a.decrypt(blob) == b"over tls"
        # localhost is in the certificate and is a name the server answers to.
        port = server.address.rsplit(":", 1)[1]
        assert api(f"https://localhost:{port}").decrypt(blob) == b"over tls"

        # Nothing in the clear: plain HTTP to the TLS port gets no answer.
        with pytest.raises(KmsConnectionError):
            api(server.endpoint.replace("https://", "http://")).describe_key(cmk["key_id"])
        # A client that does not trust the certificate does not talk to it.
        with pytest.raises(KmsConnectionError) as e:
            api(server.endpoint, ca_file=None).describe_key(cmk["key_id"])
        assert "CERTIFICATE_VERIFY_FAILED" in e.value.message, e.value.message
    finally:
        server.stop()

    # The same for `sealhouse serve`: PostgreSQL offers TLS, the KMS requires it.
    serve = PgServe(inst, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert serve.kms_endpoint.startswith("https://"), serve.kms_endpoint
        assert api(serve.kms_endpoint).decrypt(blob) == b"over tls"
    finally:
        serve.stop()


def test_exposed_listeners_need_tls_and_names(sealhouse_bin, tmp_path):
    inst = Installation(sealhouse_bin, tmp_path)
    cert, key = _self_signed(tmp_path)
    tls = ["--tls-cert", str(cert), "--tls-key", str(key)]
    cases = [
        (["kms", "serve", "--listen", "0.0.0.0:0"], "--allow-remote"),
        (["kms", "serve", "--listen", "0.0.0.0:0", "--allow-remote", "--host", "kms.test"], "--tls-cert"),
        (["kms", "serve", "--listen", "0.0.0.0:0", "--allow-remote", *tls], "--host"),
        (["serve", "--kms-listen", "0.0.0.0:0", "--allow-remote", "--kms-host", "k"], "--tls-cert"),
        (["serve", "--kms-listen", "0.0.0.0:0", "--allow-remote", *tls], "--kms-host"),
        (["kms", "serve", "--tls-cert", str(cert), "--tls-key", str(cert)], "TLS key"),
    ]
    for args, hint in cases:
        p = inst.run(*args)
        assert p.returncode == 1 and hint in p.stderr, (args, p.returncode, p.stderr)
