"""A minimal signed client of Sealhouse's KMS HTTP API (``sealhouse kms serve``).

The wire format (``crates/kms-http/src/wire/``): every call is ``POST /`` with
the operation in the signed ``x-acs-action`` header, ``x-acs-version:
2016-01-20``, ``content-type: application/json`` and the parameters as one
JSON object in the body under the API's PascalCase names (``KeyId``,
``Plaintext``, ``CiphertextBlob``, ``EncryptionContext``). Bytes travel as
standard base64 with padding. A success is HTTP 200 with a JSON object
holding ``RequestId`` and the operation's fields; an error is a JSON object
``{"Code", "Message", "RequestId"}`` with the code's HTTP status, raised here
as :class:`KmsError` carrying the three verbatim.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import re
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .signing import API_VERSION, Signer

__all__ = [
    "DEFAULT_TIMEOUT",
    "DecryptResult",
    "KmsApi",
    "KmsConnectionError",
    "KmsError",
    "parse_endpoint",
]

#: Seconds allowed for one whole call (the Rust client's default is 30 s).
DEFAULT_TIMEOUT = 30.0
#: The largest response body read (the Rust client's limit).
_MAX_RESPONSE_BYTES = 16 * 1024 * 1024


class KmsError(Exception):
    """An error answered by the KMS: its ``code`` (such as
    ``Forbidden.NoPermission`` or ``Rejected.Disabled``), ``message`` and
    ``request_id`` verbatim, and the HTTP ``status``.

    Errors raised by this client itself use the same class: a server that
    cannot be reached is :class:`KmsConnectionError` (code
    ``InternalFailure``, as the Rust client reports it), and a wrapped key
    that the KMS decrypted under another key than the file names is code
    ``MasterKeyMismatch`` (see ``SealhouseKmsClient.unwrap_key``).
    """

    def __init__(
        self,
        code: str,
        message: str,
        request_id: Optional[str] = None,
        status: Optional[int] = None,
    ) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        self.status = status
        super().__init__(code, message, request_id)

    def __str__(self) -> str:
        rid = f" (request id {self.request_id})" if self.request_id else ""
        return f"{self.code}: {self.message}{rid}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"request_id={self.request_id!r})"
        )

    def __reduce__(self):
        return (type(self), (self.code, self.message, self.request_id, self.status))


class KmsConnectionError(KmsError):
    """The KMS could not be reached or answered something unreadable."""


@dataclass(frozen=True)
class DecryptResult:
    """What Decrypt answered: the plaintext and the key that decrypted it."""

    plaintext: bytes
    key_id: str
    key_version_id: str
    request_id: str

    def __repr__(self) -> str:  # never show the plaintext
        return (
            f"DecryptResult(plaintext=({len(self.plaintext)} bytes), key_id={self.key_id!r}, "
            f"key_version_id={self.key_version_id!r}, request_id={self.request_id!r})"
        )


def parse_endpoint(endpoint: str) -> str:
    """Checks an endpoint (``http://host:port``, ``https://host:port`` or
    ``host:port``, optionally with a trailing ``/``) and returns its
    ``host:port``, the same rules as the Rust client
    (``crates/kms-http/src/client.rs``)."""
    return _split_endpoint(endpoint)[1]


def _split_endpoint(endpoint: str) -> Tuple[str, str]:
    """The scheme (``http`` or ``https``) and ``host:port`` of an endpoint."""

    def bad(reason: str) -> ValueError:
        return ValueError(f"invalid KMS endpoint '{str(endpoint)[:200]}': {reason}")

    if not isinstance(endpoint, str):
        raise bad("it must be a string such as http://127.0.0.1:9800")
    if endpoint.startswith("http://"):
        scheme, rest = "http", endpoint[len("http://"):]
    elif endpoint.startswith("https://"):
        scheme, rest = "https", endpoint[len("https://"):]
    elif "://" in endpoint:
        raise bad("use http://host:port or https://host:port")
    else:
        scheme, rest = "http", endpoint
    host = rest[:-1] if rest.endswith("/") else rest
    if not host:
        raise bad("it names no host; use http://host:port")
    if any(c in host for c in "/?#@"):
        raise bad("it must be http://host:port without a path, query or user; the API is at /")
    if not all(0x21 <= ord(c) <= 0x7E for c in host):
        raise bad("it must be printable ASCII without spaces")
    return scheme, host


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise KmsConnectionError(
            "InternalFailure", f"the KMS answered a {what} that is not valid base64"
        ) from None


_KEY_ARN = re.compile(r"^acs:kms:[^:]*:[^:]*:key/(.+)$")


class KmsApi:
    """A client of the Sealhouse KMS HTTP API, signing every call with one set
    of credentials (ACS3-HMAC-SHA256, a fresh nonce each time).

    - ``endpoint``: ``http://127.0.0.1:9800`` (or ``127.0.0.1:9800``), or
      ``https://kms.example:9800`` for a server started with ``--tls-cert``
      (see ``docs/kms.md``).
    - ``ca_file``: for https, the PEM certificates to trust (the server's CA
      or its self-signed certificate); default: the system's.
    - ``access_key_id`` / ``access_key_secret``: an access key of a RAM user
      or account root, or STS credentials together with ``security_token``
      (sent as the signed ``x-acs-security-token`` header).
    - ``region``: optional; when given, key ARNs passed to this client must
      name this region (a misconfiguration check made before any call).
    - ``timeout``: seconds for one whole call.
    - ``use_env_proxy``: by default the client ignores ``http_proxy``
      settings and connects straight to the endpoint, because plaintexts and
      data keys cross the connection (base64, not encrypted): a proxy would
      see them. Set True only for a proxy you trust.
    """

    def __init__(
        self,
        endpoint: str,
        access_key_id: str,
        access_key_secret: str,
        security_token: Optional[str] = None,
        region: Optional[str] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        use_env_proxy: bool = False,
        signer: Optional[Signer] = None,
        ca_file: Optional[str] = None,
    ) -> None:
        scheme, self.host = _split_endpoint(endpoint)
        self.url = f"{scheme}://{self.host}/"
        self.region = region
        self.timeout = timeout
        self._signer = signer or Signer(access_key_id, access_key_secret, security_token)
        handlers: List[urllib.request.BaseHandler] = []
        if not use_env_proxy:
            handlers.append(urllib.request.ProxyHandler({}))
        if scheme == "https":
            # Certificates and host names are checked (TLS 1.2 at least).
            context = ssl.create_default_context(cafile=ca_file)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self._opener = urllib.request.build_opener(*handlers)

    @property
    def access_key_id(self) -> str:
        return self._signer.access_key_id

    def __repr__(self) -> str:
        return f"KmsApi(endpoint={self.url!r}, access_key_id={self.access_key_id!r})"

    # -- the operations -------------------------------------------------------

    def encrypt(
        self, key_id: str, plaintext: bytes, context: Optional[Mapping[str, str]] = None
    ) -> str:
        """Encrypt: ``plaintext`` (1 to 6144 bytes) under the primary version of
        ``key_id`` (key id, key ARN, alias name or alias ARN); returns the
        CiphertextBlob, base64 text, exactly as the KMS answered it."""
        self._check_arn_region(key_id)
        params: Dict[str, Any] = {"KeyId": key_id, "Plaintext": _b64(bytes(plaintext))}
        if context:
            params["EncryptionContext"] = dict(context)
        response = self.call("Encrypt", params)
        blob = response.get("CiphertextBlob")
        if not isinstance(blob, str):
            raise self._malformed("Encrypt", "no CiphertextBlob")
        return blob

    def decrypt(self, ciphertext_blob: str, context: Optional[Mapping[str, str]] = None) -> bytes:
        """Decrypt: the plaintext of a CiphertextBlob (base64 text)."""
        return self.decrypt_with_metadata(ciphertext_blob, context).plaintext

    def decrypt_with_metadata(
        self, ciphertext_blob: str, context: Optional[Mapping[str, str]] = None
    ) -> DecryptResult:
        """Decrypt, with the key id and version the KMS decrypted under."""
        if isinstance(ciphertext_blob, (bytes, bytearray)):
            ciphertext_blob = bytes(ciphertext_blob).decode("ascii")
        params: Dict[str, Any] = {"CiphertextBlob": ciphertext_blob}
        if context:
            params["EncryptionContext"] = dict(context)
        r = self.call("Decrypt", params)
        for name in ("Plaintext", "KeyId"):
            if not isinstance(r.get(name), str):
                raise self._malformed("Decrypt", f"no {name}")
        return DecryptResult(
            plaintext=_unb64(r["Plaintext"], "Plaintext"),
            key_id=r["KeyId"],
            key_version_id=str(r.get("KeyVersionId", "")),
            request_id=str(r.get("RequestId", "")),
        )

    def describe_key(self, key_id: str) -> Dict[str, Any]:
        """DescribeKey: the key's metadata (``KeyId``, ``Arn``, ``KeyState``,
        ``Creator``, ``PrimaryKeyVersion``, ...) as the KMS answered it."""
        self._check_arn_region(key_id)
        response = self.call("DescribeKey", {"KeyId": key_id})
        meta = response.get("KeyMetadata")
        if not isinstance(meta, dict):
            raise self._malformed("DescribeKey", "no KeyMetadata")
        return meta

    def generate_data_key(
        self,
        key_id: str,
        number_of_bytes: Optional[int] = None,
        context: Optional[Mapping[str, str]] = None,
    ) -> Dict[str, Any]:
        """GenerateDataKey: ``{"Plaintext": bytes, "CiphertextBlob": str, ...}``."""
        self._check_arn_region(key_id)
        params: Dict[str, Any] = {"KeyId": key_id}
        if number_of_bytes is not None:
            params["NumberOfBytes"] = int(number_of_bytes)
        if context:
            params["EncryptionContext"] = dict(context)
        r = self.call("GenerateDataKey", params)
        if not isinstance(r.get("Plaintext"), str):
            raise self._malformed("GenerateDataKey", "no Plaintext")
        r["Plaintext"] = _unb64(r["Plaintext"], "Plaintext")
        return r

    # -- the transport --------------------------------------------------------

    def call(self, action: str, params: Mapping[str, Any]) -> Dict[str, Any]:
        """Signs and sends one call; returns the JSON response or raises
        :class:`KmsError` with the server's Code, Message and RequestId."""
        body = json.dumps(dict(params), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        signed = self._signer.sign(
            action=action,
            version=API_VERSION,
            host=self.host,
            method="POST",
            path="/",
            headers=[("content-type", "application/json")],
            body=body,
        )
        request = urllib.request.Request(self.url, data=body, method="POST")
        for name, value in signed.headers:
            request.add_header(name, value)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
                payload = response.read(_MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as e:
            status = e.code
            try:
                payload = e.read(_MAX_RESPONSE_BYTES + 1)
            finally:
                e.close()
        except (urllib.error.URLError, OSError, socket.timeout, http.client.HTTPException) as e:
            # HTTPException: an answer that is not HTTP (a TLS alert to a
            # plain-HTTP request, say).
            reason = getattr(e, "reason", e)
            raise KmsConnectionError(
                "InternalFailure",
                f"cannot call {action} on the KMS at {self.url}: {reason}; check that "
                "`sealhouse kms serve` is running there",
            ) from None
        if len(payload) > _MAX_RESPONSE_BYTES:
            raise self._malformed(action, "the response is larger than 16 MiB")
        try:
            data = json.loads(payload.decode("utf-8")) if payload.strip() else None
        except (UnicodeDecodeError, ValueError):
            data = None
        if status == 200:
            if not isinstance(data, dict):
                raise self._malformed(action, "the response is not a JSON object")
            return data
        if isinstance(data, dict) and isinstance(data.get("Code"), str):
            raise KmsError(
                data["Code"],
                str(data.get("Message", "")),
                data.get("RequestId") or None,
                status,
            )
        raise self._malformed(action, f"HTTP status {status} without a JSON error body")

    def _malformed(self, action: str, what: str) -> KmsConnectionError:
        return KmsConnectionError(
            "InternalFailure",
            f"the KMS at {self.url} answered {action} with a response this client cannot "
            f"read: {what}",
        )

    def _check_arn_region(self, key_id: str) -> None:
        if self.region is None or not isinstance(key_id, str):
            return
        if key_id.startswith("acs:kms:"):
            parts = key_id.split(":")
            if len(parts) >= 4 and parts[2] != self.region:
                raise KmsError(
                    "InvalidParameter",
                    f"the key ARN {key_id} names region {parts[2]!r}, but this client is for "
                    f"region {self.region!r}",
                )


def key_id_of(identifier: str) -> Optional[str]:
    """The key id an identifier names directly: the id of a key ARN
    (``acs:kms:<region>:<uid>:key/<id>``) or a bare key id; None for an
    alias (``alias/...`` or an alias ARN), which only the KMS resolves."""
    m = _KEY_ARN.match(identifier)
    if m:
        return m.group(1)
    if identifier.startswith("acs:") or identifier.startswith("alias/") or "/" in identifier:
        return None
    return identifier
