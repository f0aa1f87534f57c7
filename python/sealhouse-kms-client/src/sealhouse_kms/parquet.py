"""pyarrow's Parquet modular encryption with master keys in Sealhouse's KMS.

``SealhouseKmsClient`` implements ``pyarrow.parquet.encryption.KmsClient``.
The wrap format is a contract shared with Sealhouse's own Parquet writer
(``crates/storage/src/encryption/parquet_keys``, which writes 256-bit
data keys and key-encryption keys), spelled out in the package README:

- ``wrap_key(key_bytes, master_key_identifier)`` = KMS ``Encrypt`` with
  ``KeyId`` = the master key identifier, ``Plaintext`` = base64(key_bytes),
  no encryption context; the result is the ``CiphertextBlob`` string as the
  KMS answered it (standard base64 with padding), unchanged.
- ``unwrap_key(wrapped_key, master_key_identifier)`` = KMS ``Decrypt`` with
  ``CiphertextBlob`` = wrapped_key, no encryption context; the result is the
  base64-decoded ``Plaintext``.

Credentials and endpoint, each resolved when pyarrow asks the factory for a
client (see :func:`resolve_settings`).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Dict, Mapping, Optional

from .api import DEFAULT_TIMEOUT, KmsApi, KmsError, key_id_of

try:  # pyarrow is an optional extra: ``pip install sealhouse-kms-client[pyarrow]``
    import pyarrow.parquet.encryption as _pe
except ImportError as _e:  # pragma: no cover - exercised only without pyarrow
    _pe = None
    _IMPORT_ERROR: Optional[BaseException] = _e
else:
    _IMPORT_ERROR = None

__all__ = [
    "ENV_ACCESS_KEY_ID",
    "ENV_ACCESS_KEY_SECRET",
    "ENV_KMS_ENDPOINT",
    "ENV_SECURITY_TOKEN",
    "SealhouseCryptoFactory",
    "SealhouseKmsClient",
    "crypto_factory",
    "kms_client_factory",
    "resolve_settings",
]

ENV_ACCESS_KEY_ID = "SEALHOUSE_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "SEALHOUSE_ACCESS_KEY_SECRET"
ENV_SECURITY_TOKEN = "SEALHOUSE_SECURITY_TOKEN"
ENV_KMS_ENDPOINT = "SEALHOUSE_KMS_ENDPOINT"

_DEFAULT = "DEFAULT"  # pyarrow's placeholder for an unset kms_instance_url


def _require_pyarrow() -> Any:
    if _pe is None:
        raise ImportError(
            "sealhouse_kms.SealhouseKmsClient needs pyarrow: pip install "
            "'sealhouse-kms-client[pyarrow]'"
        ) from _IMPORT_ERROR
    return _pe


_Base: Any = _pe.KmsClient if _pe is not None else object


class SealhouseKmsClient(_Base):  # type: ignore[misc, valid-type]
    """A ``pyarrow.parquet.encryption.KmsClient`` over Sealhouse's KMS.

    Give it a :class:`~sealhouse_kms.KmsApi` (or the arguments to make one).
    Master key identifiers are what the KMS's ``KeyId`` accepts: a key ARN
    ``acs:kms:<region>:<uid>:key/<key-id>`` (recommended: it is what Sealhouse
    writes), a key id, an alias name ``alias/...`` or an alias ARN.
    """

    def __init__(
        self,
        api: Optional[KmsApi] = None,
        *,
        endpoint: Optional[str] = None,
        access_key_id: Optional[str] = None,
        access_key_secret: Optional[str] = None,
        security_token: Optional[str] = None,
        region: Optional[str] = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        _require_pyarrow()
        _pe.KmsClient.__init__(self)
        if api is None:
            if not endpoint or not access_key_id or not access_key_secret:
                raise ValueError(
                    "SealhouseKmsClient needs a KmsApi, or endpoint, access_key_id and "
                    "access_key_secret"
                )
            api = KmsApi(
                endpoint, access_key_id, access_key_secret, security_token, region, timeout=timeout
            )
        self.api = api

    def __repr__(self) -> str:
        return f"SealhouseKmsClient({self.api!r})"

    def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> str:
        """KMS Encrypt(KeyId=master_key_identifier, Plaintext=base64(key_bytes));
        returns the CiphertextBlob unchanged."""
        return self.api.encrypt(master_key_identifier, bytes(key_bytes))

    def unwrap_key(self, wrapped_key, master_key_identifier: str) -> bytes:
        """KMS Decrypt(CiphertextBlob=wrapped_key); returns the plaintext bytes.

        When the master key identifier names a key directly (a key ARN or a
        key id), the key the KMS decrypted under must be that key: a mismatch
        raises :class:`KmsError` with code ``MasterKeyMismatch``. (For an
        alias the check is left to the caller: only the KMS resolves aliases.)
        """
        if isinstance(wrapped_key, (bytes, bytearray)):
            wrapped_key = bytes(wrapped_key).decode("ascii")
        result = self.api.decrypt_with_metadata(wrapped_key)
        expected = key_id_of(master_key_identifier)
        if expected is not None and result.key_id != expected:
            raise KmsError(
                "MasterKeyMismatch",
                f"the wrapped key was encrypted under KMS key {result.key_id}, not under the "
                f"master key {master_key_identifier} that the file's key material names; "
                "refusing it (the key material was altered or copied from another file)",
                result.request_id or None,
            )
        return result.plaintext


def _conf_get(conf: Optional[Mapping[str, str]], name: str) -> Optional[str]:
    if not conf:
        return None
    value = conf.get(name.lower())
    return value if value else None


def resolve_settings(
    kms_connection_config: Any = None,
    *,
    endpoint: Optional[str] = None,
    access_key_id: Optional[str] = None,
    access_key_secret: Optional[str] = None,
    security_token: Optional[str] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> Dict[str, Optional[str]]:
    """The endpoint and credentials a client uses, by precedence.

    **Endpoint**, the first set of: the ``endpoint`` argument; the
    ``custom_kms_conf`` key ``sealhouse_kms_endpoint``; the connection
    config's ``kms_instance_url`` (unless pyarrow's placeholder ``DEFAULT``);
    ``$SEALHOUSE_KMS_ENDPOINT``.

    **Credentials** come as one unit (id, secret and token together, never
    mixed across sources), from the first source that gives an access key id:
    the arguments; then ``custom_kms_conf`` (``sealhouse_access_key_id``,
    ``sealhouse_access_key_secret``, ``sealhouse_security_token``); then the
    environment (``$SEALHOUSE_ACCESS_KEY_ID``, ``$SEALHOUSE_ACCESS_KEY_SECRET``,
    ``$SEALHOUSE_SECURITY_TOKEN``). So arguments beat ``custom_kms_conf``,
    which beats the environment.
    """
    env = os.environ if environ is None else environ
    conf = getattr(kms_connection_config, "custom_kms_conf", None) if kms_connection_config else None
    conf = dict(conf) if conf else {}
    instance_url = getattr(kms_connection_config, "kms_instance_url", None)
    if instance_url == _DEFAULT:
        instance_url = None

    resolved_endpoint = (
        endpoint
        or _conf_get(conf, ENV_KMS_ENDPOINT)
        or instance_url
        or env.get(ENV_KMS_ENDPOINT)
        or None
    )

    if access_key_id:
        source = "the arguments"
        creds = (access_key_id, access_key_secret, security_token)
    elif _conf_get(conf, ENV_ACCESS_KEY_ID):
        source = "custom_kms_conf"
        creds = (
            _conf_get(conf, ENV_ACCESS_KEY_ID),
            _conf_get(conf, ENV_ACCESS_KEY_SECRET),
            _conf_get(conf, ENV_SECURITY_TOKEN),
        )
    elif env.get(ENV_ACCESS_KEY_ID):
        source = "the environment"
        creds = (
            env.get(ENV_ACCESS_KEY_ID),
            env.get(ENV_ACCESS_KEY_SECRET) or None,
            env.get(ENV_SECURITY_TOKEN) or None,
        )
    else:
        raise ValueError(
            "no Sealhouse credentials: pass access_key_id and secret, set "
            "custom_kms_conf['sealhouse_access_key_id'] and ['sealhouse_access_key_secret'], "
            f"or ${ENV_ACCESS_KEY_ID} and ${ENV_ACCESS_KEY_SECRET}"
        )
    if not creds[1]:
        raise ValueError(
            f"an access key id ({creds[0]}) came from {source} without its secret; the "
            "secret must come from the same place"
        )
    if not resolved_endpoint:
        raise ValueError(
            "no KMS endpoint: pass endpoint, set custom_kms_conf['sealhouse_kms_endpoint'] or "
            f"kms_instance_url, or ${ENV_KMS_ENDPOINT} (such as http://127.0.0.1:9800)"
        )
    return {
        "endpoint": resolved_endpoint,
        "access_key_id": creds[0],
        "access_key_secret": creds[1],
        "security_token": creds[2],
        "credentials_source": source,
    }


def kms_client_factory(
    endpoint: Optional[str] = None,
    access_key_id: Optional[str] = None,
    secret: Optional[str] = None,
    security_token: Optional[str] = None,
    *,
    region: Optional[str] = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Callable[[Any], "SealhouseKmsClient"]:
    """A ``kms_client_factory`` for ``pyarrow.parquet.encryption.CryptoFactory``:
    called with a ``KmsConnectionConfig``, it returns a
    :class:`SealhouseKmsClient` with settings from :func:`resolve_settings`.

    pyarrow caches the clients it gets per ``key_access_token`` (default
    ``"DEFAULT"``) within one CryptoFactory: to use other credentials, use
    another CryptoFactory or another ``key_access_token``.
    """
    _require_pyarrow()

    def factory(kms_connection_config: Any) -> SealhouseKmsClient:
        s = resolve_settings(
            kms_connection_config,
            endpoint=endpoint,
            access_key_id=access_key_id,
            access_key_secret=secret,
            security_token=security_token,
        )
        api = KmsApi(
            s["endpoint"],
            s["access_key_id"],
            s["access_key_secret"],
            s["security_token"],
            region,
            timeout=timeout,
        )
        return SealhouseKmsClient(api)

    return factory


_DEFAULT_CACHE_LIFETIME_S = 600.0  # pyarrow's default cache_lifetime (10 minutes)

_FactoryBase: Any = _pe.CryptoFactory if _pe is not None else object


class SealhouseCryptoFactory(_FactoryBase):  # type: ignore[misc, valid-type]
    """``pyarrow.parquet.encryption.CryptoFactory`` whose KEK read cache
    really expires after ``DecryptionConfiguration.cache_lifetime``.

    pyarrow (checked up to 26.0.1) keeps the key encryption keys it unwrapped
    for reading in a per-``key_access_token`` cache whose expiry is never
    acted on: ``TwoLevelCacheWithExpiration::GetOrCreateInternalCache`` finds
    the expired entry and ``insert``s a new one, which ``std::unordered_map``
    ignores, and the read path never calls ``CheckCacheForExpiredTokens``. A
    long-lived plain CryptoFactory therefore goes on reading files of a key
    that was disabled, scheduled for deletion or whose grant was revoked, for
    as long as the process lives. This subclass records when each token's
    read cache was started and, once its lifetime has passed, flushes that
    token's caches (``remove_cache_entries_for_token``) before making new
    decryption properties, so revocation takes effect within the lifetime,
    as ``docs/kms.md`` promises for Sealhouse's own cache. (Properties made
    earlier keep the keys they already hold.)

    ``clock`` (seconds, monotonic; default :func:`time.monotonic`) is what
    the lifetime is measured on; tests pass their own to step over it.
    """

    def __init__(
        self,
        kms_client_factory: Callable[[Any], Any],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _require_pyarrow()
        super().__init__(kms_client_factory)
        self._read_cache_started: Dict[str, tuple] = {}
        self._cache_lock = threading.RLock()
        self._clock = clock

    def file_decryption_properties(
        self,
        kms_connection_config: Any,
        decryption_config: Any = None,
        parquet_file_path: Any = None,
        filesystem: Any = None,
    ) -> Any:
        token = kms_connection_config.key_access_token or _DEFAULT
        lifetime = _DEFAULT_CACHE_LIFETIME_S
        if decryption_config is not None:
            lifetime = decryption_config.cache_lifetime.total_seconds()
        with self._cache_lock:
            now = self._clock()
            started = self._read_cache_started.get(token)
            if started is not None and now > started[0] + started[1]:
                self.remove_cache_entries_for_token(token)
                started = None
            if started is None:
                self._read_cache_started[token] = (now, lifetime)
        return super().file_decryption_properties(
            kms_connection_config, decryption_config, parquet_file_path, filesystem
        )

    def remove_cache_entries_for_token(self, access_token: str) -> None:
        with self._cache_lock:
            super().remove_cache_entries_for_token(access_token)
            self._read_cache_started.pop(access_token, None)

    def remove_cache_entries_for_all_tokens(self) -> None:
        with self._cache_lock:
            super().remove_cache_entries_for_all_tokens()
            self._read_cache_started.clear()


def crypto_factory(
    endpoint: Optional[str] = None,
    access_key_id: Optional[str] = None,
    secret: Optional[str] = None,
    security_token: Optional[str] = None,
    *,
    region: Optional[str] = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> "SealhouseCryptoFactory":
    """A :class:`SealhouseCryptoFactory` (a ``pyarrow.parquet.encryption.CryptoFactory``)
    over :func:`kms_client_factory` with these arguments."""
    _require_pyarrow()
    return SealhouseCryptoFactory(
        kms_client_factory(
            endpoint, access_key_id, secret, security_token, region=region, timeout=timeout
        )
    )
