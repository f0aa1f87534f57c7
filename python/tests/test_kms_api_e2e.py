"""KmsApi against the real `sealhouse kms serve` on 127.0.0.1."""

import base64

import pytest

from sealhouse_kms import KmsApi, KmsConnectionError, KmsError


def api(world, creds, **kw):
    return KmsApi(world.endpoint, creds.access_key_id, creds.access_key_secret, creds.security_token, **kw)


def test_encrypt_decrypt_describe(world):
    a = api(world, world.reader)
    blob = a.encrypt(world.footer_key["arn"], b"\x00\x01secret\xff")
    assert isinstance(blob, str)
    assert a.decrypt(blob) == b"\x00\x01secret\xff"
    r = a.decrypt_with_metadata(blob)
    assert r.key_id == world.footer_key["key_id"] and r.request_id
    assert "secret" not in repr(r)

    # Contexts bind; a wrong one is the KMS's one opaque error, verbatim.
    blob = a.encrypt(world.footer_key["key_id"], b"x", {"table": "t1"})
    assert a.decrypt(blob, {"table": "t1"}) == b"x"
    with pytest.raises(KmsError) as e:
        a.decrypt(blob, {"table": "t2"})
    assert e.value.code == "InvalidCiphertext" and e.value.status == 400
    assert e.value.request_id

    meta = a.describe_key(world.footer_key["arn"])
    assert meta["KeyId"] == world.footer_key["key_id"]
    assert meta["Arn"] == world.footer_key["arn"]
    assert meta["KeyState"] == "Enabled"
    assert a.describe_key("alias/pyarrow-footer")["KeyId"] == world.footer_key["key_id"]

    dk = a.generate_data_key(world.column_key["arn"], number_of_bytes=16)
    assert len(dk["Plaintext"]) == 16 and a.decrypt(dk["CiphertextBlob"]) == dk["Plaintext"]


def test_cli_and_python_read_each_others_blobs(world):
    """The Rust CLI (embedded KMS) decrypts what Python encrypted over HTTP,
    and the reverse."""
    a = api(world, world.reader)
    blob = a.encrypt(world.footer_key["arn"], b"from python")
    assert world.inst.ok("kms", "decrypt", "--ciphertext-blob", blob) == "from python\n"
    cli_blob = world.inst.ok(
        "kms", "encrypt", "--key-id", world.footer_key["key_id"], "--plaintext", "from rust"
    ).strip()
    assert a.decrypt(cli_blob) == b"from rust"


def test_errors_carry_the_server_code_and_message(world):
    a = api(world, world.reader)
    # A key id that does not exist, asked by a user whose policy names
    # other keys: refused as if it existed (the caller learns nothing).
    with pytest.raises(KmsError) as e:
        a.describe_key("key-doesnotexist0000000")
    assert e.value.code == "Forbidden.NoPermission" and e.value.status == 403
    assert "kms:DescribeKey" in e.value.message and e.value.request_id

    with pytest.raises(KmsError) as e:
        KmsApi(world.endpoint, world.reader.access_key_id, "not-the-secret").describe_key(
            world.footer_key["arn"]
        )
    assert e.value.code == "SignatureDoesNotMatch", e.value
    assert "not-the-secret" not in str(e.value)

    # A key of the account, but the user has no permission on it.
    other = world.inst.ok("kms", "create-key", "--description", "not granted")
    other_arn = [l.split(": ", 1)[1] for l in other.splitlines() if l.startswith("arn: ")][0]
    with pytest.raises(KmsError) as e:
        a.encrypt(other_arn, b"x")
    assert e.value.code == "Forbidden.NoPermission" and e.value.status == 403
    assert "kms:Encrypt" in e.value.message and "user/parquet-reader" in e.value.message


def test_sts_credentials_send_the_security_token(world):
    a = api(world, world.sts)
    blob = a.encrypt(world.footer_key["arn"], b"via a role session")
    assert a.decrypt(blob) == b"via a role session"
    # The STS key without its token is refused by the signature check.
    no_token = KmsApi(world.endpoint, world.sts.access_key_id, world.sts.access_key_secret)
    with pytest.raises(KmsError) as e:
        no_token.decrypt(blob)
    assert e.value.code.startswith("InvalidSecurityToken"), e.value
    assert world.sts.security_token not in str(e.value)


def test_unreachable_endpoint_names_it():
    # Port 9 (discard) on loopback: nothing listens in a test sandbox.
    a = KmsApi("http://127.0.0.1:9", "id", "secret", timeout=3)
    with pytest.raises(KmsConnectionError) as e:
        a.describe_key("key-x")
    assert e.value.code == "InternalFailure"
    assert "http://127.0.0.1:9/" in e.value.message


def test_endpoints_are_http_host_port_only():
    assert KmsApi("http://127.0.0.1:7070", "i", "s").host == "127.0.0.1:7070"
    assert KmsApi("127.0.0.1:7070/", "i", "s").host == "127.0.0.1:7070"
    https = KmsApi("https://kms.test:7070", "i", "s")
    assert (https.host, https.url) == ("kms.test:7070", "https://kms.test:7070/")
    for bad in ["", "http://", "https://", "ftp://x", "http://h/p", "a b"]:
        with pytest.raises(ValueError, match="invalid KMS endpoint"):
            KmsApi(bad, "i", "s")


def test_region_check_is_client_side(world):
    a = api(world, world.reader, region="cn-shanghai")
    with pytest.raises(KmsError) as e:
        a.encrypt(world.footer_key["arn"], b"x")
    assert e.value.code == "InvalidParameter" and "cn-shanghai" in e.value.message
    assert api(world, world.reader, region="cn-hangzhou").encrypt(world.footer_key["arn"], b"x")


def test_secrets_stay_out_of_reprs(world):
    a = api(world, world.sts)
    shown = repr(a) + repr(a._signer)
    assert world.sts.access_key_secret not in shown and world.sts.security_token not in shown
    assert base64.b64encode(world.sts.access_key_secret.encode()).decode() not in shown


def test_environment_proxies_are_ignored_by_default(world, monkeypatch):
    """Plaintexts and data keys cross the connection: a proxy from the
    environment is not used unless asked for."""
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    a = api(world, world.reader)
    assert a.decrypt(a.encrypt(world.footer_key["arn"], b"direct")) == b"direct"
    with pytest.raises(KmsConnectionError):
        api(world, world.reader, use_env_proxy=True, timeout=3).describe_key(world.footer_key["arn"])
