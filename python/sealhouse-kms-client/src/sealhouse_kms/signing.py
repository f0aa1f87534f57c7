"""ACS3-HMAC-SHA256 request signing, as Sealhouse's KMS HTTP API verifies it.

A line-for-line counterpart of ``crates/iam/src/signing/`` (``canonical.rs``,
``signer.rs``, ``header.rs``); the known-answer tests of ``kat_tests.rs`` run
against this module in ``python/tests/test_signing_kat.py``.

The scheme (Alibaba Cloud's "Request syntax and signature method V3")::

    CanonicalRequest = Method \\n CanonicalURI \\n CanonicalQueryString \\n
                       CanonicalHeaders \\n SignedHeaders \\n HashedRequestPayload
    StringToSign     = "ACS3-HMAC-SHA256" \\n hex(SHA-256(CanonicalRequest))
    Signature        = hex(HMAC-SHA256(AccessKeySecret, StringToSign))
    Authorization: ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b;c>,Signature=<hex>

Rules (the choices the documentation leaves open are the Rust code's):

- percent encoding (URI segments, query names and values) is RFC 3986:
  ``A-Z a-z 0-9 - _ . ~`` stay, every other byte of the UTF-8 text becomes
  ``%XY`` in upper-case hex (a space is ``%20``, ``*`` is ``%2A``);
- CanonicalURI: each ``/``-separated segment percent-decoded then encoded
  again; an empty path is ``/``;
- CanonicalQueryString: pairs sorted by name then value (bytes of the decoded
  UTF-8), ``enc(name)=enc(value)`` joined by ``&``;
- CanonicalHeaders: for each signed name (lower case, sorted)
  ``name:value\\n``; values trimmed of spaces and tabs; a header given more
  than once contributes all its values, sorted, joined by ``,``; control
  characters are refused;
- signed headers: every ``x-acs-*`` header present, ``host`` and
  ``content-type``;
- HashedRequestPayload = ``x-acs-content-sha256`` = lower-case hex SHA-256 of
  the body.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

__all__ = [
    "ALGORITHM",
    "API_VERSION",
    "MAX_NONCE_LEN",
    "SignError",
    "SignedRequest",
    "Signer",
    "authorization_header",
    "canonical_headers",
    "canonical_query_string",
    "canonical_request",
    "canonical_uri",
    "format_date",
    "must_be_signed",
    "parse_query",
    "percent_decode",
    "percent_encode",
    "sha256_hex",
    "signature",
    "string_to_sign",
]

#: The signature algorithm, the first word of the Authorization header.
ALGORITHM = "ACS3-HMAC-SHA256"
#: The API version the Sealhouse KMS speaks (``x-acs-version``).
API_VERSION = "2016-01-20"
#: The longest signature nonce the server accepts, in bytes.
MAX_NONCE_LEN = 128

_UNRESERVED = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
)
_HEX = "0123456789ABCDEF"

# Headers the signer sets itself; callers may not pass them.
_RESERVED = (
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
    "x-acs-security-token",
    "authorization",
)

# RFC 9110 token characters.
_TOKEN = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~"
)


class SignError(ValueError):
    """A request that cannot be signed (bad method, host, header, token...)."""


Pairs = Sequence[Tuple[str, str]]


def _to_bytes(data) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def percent_encode(data) -> str:
    """RFC 3986 percent encoding of bytes (or of a str's UTF-8)."""
    out = []
    for b in _to_bytes(data):
        if b in _UNRESERVED:
            out.append(chr(b))
        else:
            out.append("%" + _HEX[b >> 4] + _HEX[b & 0x0F])
    return "".join(out)


def _hex_value(c: int) -> Optional[int]:
    if 0x30 <= c <= 0x39:
        return c - 0x30
    if 0x61 <= c <= 0x66:
        return c - 0x61 + 10
    if 0x41 <= c <= 0x46:
        return c - 0x41 + 10
    return None


def percent_decode(s: str) -> bytes:
    """Decodes ``%XY`` escapes (either case); a ``%`` without two hex digits
    after it stays as it is; ``+`` is not a space."""
    b = s.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(b):
        if b[i] == 0x25 and i + 2 < len(b):
            hi = _hex_value(b[i + 1])
            lo = _hex_value(b[i + 2])
            if hi is not None and lo is not None:
                out.append((hi << 4) | lo)
                i += 3
                continue
        out.append(b[i])
        i += 1
    return bytes(out)


def canonical_uri(path: str) -> str:
    """The CanonicalURI of a path."""
    if path == "":
        return "/"
    return "/".join(percent_encode(percent_decode(seg)) for seg in path.split("/"))


def canonical_query_string(pairs: Pairs) -> str:
    """The CanonicalQueryString of decoded (name, value) pairs; also the query
    string to send."""
    ordered = sorted(pairs, key=lambda p: (p[0].encode("utf-8"), p[1].encode("utf-8")))
    return "&".join(f"{percent_encode(n)}={percent_encode(v)}" for n, v in ordered)


def parse_query(raw: str) -> List[Tuple[str, str]]:
    """Splits a raw query string into decoded pairs (as the server does)."""
    out = []
    for part in raw.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        try:
            out.append(
                (percent_decode(name).decode("utf-8"), percent_decode(value).decode("utf-8"))
            )
        except UnicodeDecodeError:
            raise SignError("a decoded query parameter is not UTF-8 text") from None
    return out


def must_be_signed(name: str) -> bool:
    """Whether a (lower-case) header takes part in the signature whenever it
    is present: every ``x-acs-*`` header, ``host`` and ``content-type``."""
    return name.startswith("x-acs-") or name in ("host", "content-type")


def _has_control(s: str) -> bool:
    # Rust's char::is_control: the Unicode Cc category (C0, DEL, C1).
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in s)


def _trim(v: str) -> str:
    return v.strip(" \t")


def canonical_headers(headers: Pairs, signed: Iterable[str]) -> str:
    """The CanonicalHeaders for ``signed`` (lower-case names, sorted, no
    duplicates), values from ``headers`` (names in any case)."""
    out = []
    for name in signed:
        values = [_trim(v) for n, v in headers if n.lower() == name]
        if not values:
            raise SignError(f"the signed header {name} is not in the request")
        if any(_has_control(v) for v in values):
            raise SignError(f"the value of header {name} holds a control character")
        values.sort(key=lambda v: v.encode("utf-8"))
        out.append(f"{name}:{','.join(values)}\n")
    return "".join(out)


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def canonical_request(
    method: str,
    canonical_uri_: str,
    canonical_query: str,
    canonical_headers_: str,
    signed_headers: str,
    hashed_payload: str,
) -> str:
    """Joins the six parts with ``\\n`` (Step 1 of the documentation)."""
    return "\n".join(
        [method, canonical_uri_, canonical_query, canonical_headers_, signed_headers, hashed_payload]
    )


def string_to_sign(canonical_request_: str) -> str:
    """``ACS3-HMAC-SHA256\\n`` + hex SHA-256 of the canonical request."""
    return f"{ALGORITHM}\n{sha256_hex(canonical_request_.encode('utf-8'))}"


def signature(secret, string_to_sign_: str) -> str:
    """Lower-case hex HMAC-SHA256 of the string to sign, keyed by the secret."""
    return hmac.new(_to_bytes(secret), string_to_sign_.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization_header(access_key_id: str, signed_headers: Sequence[str], sig_hex: str) -> str:
    """The Authorization header value, as the SDKs write it."""
    return f"{ALGORITHM} Credential={access_key_id},SignedHeaders={';'.join(signed_headers)},Signature={sig_hex}"


def format_date(t: Optional[float] = None) -> str:
    """``x-acs-date``: ``yyyy-MM-ddTHH:mm:ssZ`` in UTC, whole seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def _visible_ascii(s: str) -> bool:
    return bool(s) and all(0x21 <= ord(c) <= 0x7E for c in s)


@dataclass
class SignedRequest:
    """A signed request: send ``headers`` to ``path?query``."""

    path: str
    query: str
    headers: List[Tuple[str, str]] = field(default_factory=list)

    def path_and_query(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    def header(self, name: str) -> Optional[str]:
        name = name.lower()
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return None

    def __repr__(self) -> str:  # never show the security token
        shown = [
            (n, "(redacted)" if n.lower() == "x-acs-security-token" else v)
            for n, v in self.headers
        ]
        return f"SignedRequest(path={self.path!r}, query={self.query!r}, headers={shown!r})"


def _random_nonce() -> str:
    return secrets.token_hex(16)


class Signer:
    """Signs requests with one set of credentials.

    ``clock`` returns the time (seconds since the epoch) and ``nonce`` a fresh
    nonce; both are injectable for known-answer tests. ``repr`` shows the
    access key id only.
    """

    def __init__(
        self,
        access_key_id: str,
        access_key_secret,
        security_token: Optional[str] = None,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = _random_nonce,
    ) -> None:
        if not access_key_id or not _visible_ascii(access_key_id):
            raise SignError("the access key id must be non-empty printable ASCII")
        if access_key_secret is None or len(access_key_secret) == 0:
            raise SignError("the access key secret is empty")
        if security_token is not None and not _visible_ascii(security_token):
            raise SignError("the security token must be printable ASCII")
        self.access_key_id = access_key_id
        self._secret = _to_bytes(access_key_secret)
        self._token = security_token or None
        self._clock = clock
        self._nonce = nonce

    @property
    def has_security_token(self) -> bool:
        return self._token is not None

    def __repr__(self) -> str:
        return (
            f"Signer(access_key_id={self.access_key_id!r}, secret=(redacted), "
            f"security_token={'(redacted)' if self._token else None})"
        )

    def sign(
        self,
        *,
        action: str,
        host: str,
        version: str = API_VERSION,
        method: str = "POST",
        path: str = "/",
        query: Pairs = (),
        headers: Pairs = (),
        body: bytes = b"",
    ) -> SignedRequest:
        """Signs a request: the date is the clock's now, the nonce the source's
        next. ``headers`` are further headers to send (such as
        ``content-type``); those that must be signed are signed."""
        if not (method and len(method) <= 16 and all("A" <= c <= "Z" for c in method)):
            raise SignError("the method must be an upper-case HTTP method such as POST")
        for what, value in (("host", host), ("action", action), ("version", version)):
            if not _visible_ascii(value):
                raise SignError(f"the {what} must be non-empty printable ASCII without spaces")
        for name, value in headers:
            if not name or not all(ord(c) < 128 and ord(c) in _TOKEN for c in name):
                raise SignError("a header name must be an HTTP token")
            if name.lower() in _RESERVED:
                raise SignError(f"the header {name.lower()} is set by the signer")
            if _has_control(value):
                raise SignError("a header value must not hold control characters")
        nonce = self._nonce()
        if len(nonce) > MAX_NONCE_LEN or not _visible_ascii(nonce):
            raise SignError("the nonce is not 1 to 128 printable ASCII characters")

        body = bytes(body)
        content_sha256 = sha256_hex(body)
        all_headers: List[Tuple[str, str]] = list(headers)
        all_headers += [
            ("host", host),
            ("x-acs-action", action),
            ("x-acs-version", version),
            ("x-acs-date", format_date(self._clock())),
            ("x-acs-signature-nonce", nonce),
            ("x-acs-content-sha256", content_sha256),
        ]
        if self._token is not None:
            all_headers.append(("x-acs-security-token", self._token))

        signed = sorted({n.lower() for n, _ in all_headers if must_be_signed(n.lower())})
        c_path = canonical_uri(path)
        c_query = canonical_query_string(query)
        cr = canonical_request(
            method,
            c_path,
            c_query,
            canonical_headers(all_headers, signed),
            ";".join(signed),
            content_sha256,
        )
        sig = signature(self._secret, string_to_sign(cr))
        all_headers.append(("authorization", authorization_header(self.access_key_id, signed, sig)))
        return SignedRequest(path=c_path, query=c_query, headers=all_headers)
