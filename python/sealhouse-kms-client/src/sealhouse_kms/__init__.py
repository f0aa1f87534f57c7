"""Sealhouse KMS client for Python, and pyarrow Parquet encryption through it.

- :class:`KmsApi`: a minimal signed (ACS3-HMAC-SHA256) client of the KMS HTTP
  API served by ``sealhouse kms serve``; errors are :class:`KmsError`.
- :class:`SealhouseKmsClient`, :func:`kms_client_factory`,
  :func:`crypto_factory`: pyarrow's ``KmsClient`` over it (needs the
  ``pyarrow`` extra; imported on first use).
- :class:`ExternalEngine`: an external engine's read path, a Sealhouse
  table's encrypted files into a ``pyarrow.Table`` with the engine's own
  role; errors are :class:`ExternalEngineError` (docs/external-engines.md).
"""

from .api import DecryptResult, KmsApi, KmsConnectionError, KmsError, parse_endpoint
from .signing import Signer, SignError

__version__ = "0.1.0"

__all__ = [
    "DecryptResult",
    "ExternalEngine",
    "ExternalEngineError",
    "KmsApi",
    "KmsConnectionError",
    "KmsError",
    "SealhouseCryptoFactory",
    "SealhouseKmsClient",
    "SignError",
    "Signer",
    "crypto_factory",
    "kms_client_factory",
    "parse_endpoint",
    "resolve_settings",
]

_PARQUET = (
    "SealhouseCryptoFactory",
    "SealhouseKmsClient",
    "crypto_factory",
    "kms_client_factory",
    "resolve_settings",
)


_EXTERNAL = ("ExternalEngine", "ExternalEngineError")


def __getattr__(name):  # PEP 562: pyarrow is imported only when asked for
    if name in _EXTERNAL:
        from . import external

        return getattr(external, name)
    if name in _PARQUET:
        from . import parquet

        return getattr(parquet, name)
    raise AttributeError(f"module 'sealhouse_kms' has no attribute {name!r}")
