"""An external engine's read path: a Sealhouse table's encrypted Parquet files
read straight into a ``pyarrow.Table`` with the engine's own role.

This is what the spec's Hologres does with MaxCompute data encrypted under a
customer's key (BYOK), with pyarrow as the engine. Setup and rules are in
``docs/external-engines.md``:

1. a role that trusts the external-engine service (``hologres.aliyuncs.com``)
   with a policy allowing ``kms:Decrypt`` (and Encrypt, GenerateDataKey,
   DescribeKey) on the CMK;
2. ``sealhouse external-engine credentials --role-arn <ARN>``: that role's STS
   credentials, as JSON;
3. ``sealhouse external-engine manifest <project>.<table>``: the table's files
   and encryption, as JSON;
4. ``ExternalEngine(endpoint, credentials).read_manifest(manifest)``.

Readable: AES256 (Parquet modular encryption) files under a customer's own
CMK (BYOK), and plain Parquet files. Not readable, refused before any key is
asked for, with :class:`ExternalEngineError`: files under a project's default
key (it lives in the warehouse service's account, which no customer principal
can be granted) and Sealhouse's segmented AESCTR/RC4 files (our own format).

Unwrapped key information is cached for ``cache_lifetime_seconds`` (24 hours
by default, as the spec says): after the CMK is disabled, reads go on working
from the cache until the lifetime has passed, then fail.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from typing import Any, Callable, Iterable, List, Mapping, Optional, Sequence, Union

from .api import DEFAULT_TIMEOUT, KmsApi, KmsError
from .parquet import SealhouseCryptoFactory, SealhouseKmsClient, _require_pyarrow

__all__ = [
    "DEFAULT_CACHE_LIFETIME_SECONDS",
    "ExternalEngine",
    "ExternalEngineError",
    "SERVICE_ACCOUNT",
]

#: How long unwrapped key information is kept: 24 hours, as the spec says.
DEFAULT_CACHE_LIFETIME_SECONDS = 86400.0

#: The account that owns the warehouse's default storage keys (nobody can
#: sign as it; ``crates/storage/src/encryption/mod.rs``).
SERVICE_ACCOUNT = "0000000000000000"

_SEGMENTED_MAGIC = b"SHSEG\x00\x00"
_SEGMENTED_CIPHERS = {1: "AESCTR", 2: "RC4"}
_KEY_ARN = re.compile(r"^acs:kms:[^:]*:([^:]*):key/.+$")

DEFAULT_KEY_MESSAGE = (
    "{what} is encrypted with the project's default key {arn}, which belongs to the "
    "warehouse service's account " + SERVICE_ACCOUNT + ": only BYOK projects are readable "
    "by external engines. To read this data here, create a project encrypted with your own "
    "key (CREATE PROJECT <name> ENCRYPTION ALGORITHM AES256 KEY '<your CMK ARN>') and copy "
    "the table into it (CREATE TABLE <name>.<table> AS SELECT * FROM <project>.<table>); "
    "or query it through the warehouse (sealhouse sql, or sealhouse serve over the "
    "PostgreSQL wire protocol)"
)

SEGMENTED_MESSAGE = (
    "{what} is in Sealhouse's segmented format ({algorithm}: whole files encrypted in "
    "Sealhouse's own format), which external engines cannot read: external engines read "
    "AES256 (Parquet modular encryption) BYOK projects. Read this table through the "
    "warehouse (sealhouse serve over the PostgreSQL wire protocol, or sealhouse sql), or "
    "copy it into an AES256 BYOK project (CREATE PROJECT <name> ENCRYPTION ALGORITHM "
    "AES256 KEY '<your CMK ARN>'; CREATE TABLE <name>.<table> AS SELECT * FROM "
    "<project>.<table>)"
)

# What to do, by KMS error code; appended to the KMS's own message.
_KMS_HINTS = {
    "Forbidden.NoPermission": (
        "the external engine's role needs kms:Decrypt on the project's CMK: attach a policy "
        "allowing it (such as AliyunHologresEncryptionDefaultRolePolicy) to the role"
    ),
    "Rejected.Disabled": (
        "the project's CMK is disabled; key information cached from earlier reads is used "
        "only until cache_lifetime_seconds has passed"
    ),
    "Rejected.PendingDeletion": (
        "the project's CMK is scheduled for deletion; its owner can cancel that with "
        "CancelKeyDeletion"
    ),
    "InvalidSecurityToken.Expired": (
        "the STS credentials have expired: get new ones with sealhouse external-engine "
        "credentials --role-arn <ARN>"
    ),
}


class ExternalEngineError(Exception):
    """Why an external engine could not read a file: ``code``, ``message``,
    the ``path`` concerned (if any) and the KMS ``request_id`` (for errors
    the KMS answered).

    Codes: ``DefaultKeyNotReadable`` and ``SegmentedFileNotReadable`` (what
    external engines cannot read, refused before any key is asked for),
    ``InvalidManifest``, ``FileNotReadable`` (missing or not Parquet), and
    the KMS's own codes (``Forbidden.NoPermission``, ``Rejected.Disabled``,
    ...) with its message verbatim followed by what to do; the
    :class:`~sealhouse_kms.KmsError` is the ``__cause__``.
    """

    def __init__(
        self,
        code: str,
        message: str,
        path: Optional[str] = None,
        request_id: Optional[str] = None,
    ) -> None:
        self.code = code
        self.message = message
        self.path = path
        self.request_id = request_id
        super().__init__(code, message, path, request_id)

    def __str__(self) -> str:
        rid = f" (request id {self.request_id})" if self.request_id else ""
        return f"{self.code}: {self.message}{rid}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"path={self.path!r}, request_id={self.request_id!r})"
        )

    def __reduce__(self):
        return (type(self), (self.code, self.message, self.path, self.request_id))

    @classmethod
    def _from_kms(cls, error: KmsError, path: Optional[str]) -> "ExternalEngineError":
        message = error.message
        hint = _KMS_HINTS.get(error.code)
        if hint:
            message = f"{message}; {hint}"
        if path:
            message = f"reading {path}: {message}"
        return cls(error.code, message, path, error.request_id)


def default_key_error(what: str, arn: str, path: Optional[str] = None) -> ExternalEngineError:
    return ExternalEngineError(
        "DefaultKeyNotReadable", DEFAULT_KEY_MESSAGE.format(what=what, arn=arn), path
    )


def segmented_error(what: str, algorithm: str, path: Optional[str] = None) -> ExternalEngineError:
    return ExternalEngineError(
        "SegmentedFileNotReadable", SEGMENTED_MESSAGE.format(what=what, algorithm=algorithm), path
    )


def _key_account(master_key_identifier: str) -> Optional[str]:
    m = _KEY_ARN.match(master_key_identifier or "")
    return m.group(1) if m else None


class _ExternalKmsClient(SealhouseKmsClient):
    """The engine's KMS client: refuses the warehouse's default keys (named
    by the file's key material) before asking the KMS anything."""

    def unwrap_key(self, wrapped_key, master_key_identifier: str) -> bytes:
        if _key_account(master_key_identifier) == SERVICE_ACCOUNT:
            raise default_key_error("this file", master_key_identifier)
        return super().unwrap_key(wrapped_key, master_key_identifier)


def _credentials(
    credentials: Union[None, str, Mapping[str, Any]],
    access_key_id: Optional[str],
    access_key_secret: Optional[str],
    security_token: Optional[str],
) -> tuple:
    if credentials is not None:
        if access_key_id or access_key_secret or security_token:
            raise ValueError("give either credentials or access_key_id/access_key_secret, not both")
        if isinstance(credentials, (str, bytes)):
            try:
                credentials = json.loads(credentials)
            except ValueError:
                raise ValueError(
                    "credentials text is not JSON: pass what sealhouse external-engine "
                    "credentials prints"
                ) from None
        if not isinstance(credentials, Mapping):
            raise ValueError("credentials must be a mapping with AccessKeyId and AccessKeySecret")
        access_key_id = credentials.get("AccessKeyId")
        access_key_secret = credentials.get("AccessKeySecret")
        security_token = credentials.get("SecurityToken")
    if not access_key_id or not access_key_secret:
        raise ValueError(
            "ExternalEngine needs credentials (the JSON of sealhouse external-engine credentials, "
            "with AccessKeyId, AccessKeySecret and SecurityToken) or access_key_id and "
            "access_key_secret"
        )
    return access_key_id, access_key_secret, security_token or None


class ExternalEngine:
    """Reads Sealhouse tables' files with one role's credentials.

    - ``endpoint``: the KMS, as ``sealhouse kms serve`` prints it
      (``http://127.0.0.1:9800``).
    - ``credentials``: what ``sealhouse external-engine credentials`` prints
      (a mapping, or its JSON text: ``AccessKeyId``, ``AccessKeySecret``,
      ``SecurityToken``); or ``access_key_id`` / ``access_key_secret`` /
      ``security_token`` instead.
    - ``cache_lifetime_seconds``: how long unwrapped key information is kept
      and reused without asking the KMS (default 86400, 24 hours). After the
      CMK is disabled, files already read keep reading until it has passed.
    - ``clock``: monotonic seconds the lifetime is measured on (tests).
    - ``filesystem``: the ``pyarrow.fs.FileSystem`` that ``s3://`` paths (a
      table kept in a bucket, ``sealhouse --storage-url``) are read through,
      with the engine's own storage credentials, e.g. ``pyarrow.fs.
      S3FileSystem(access_key=..., secret_key=..., endpoint_override=...)``.
      Without one, ``pyarrow.fs.FileSystem.from_uri`` makes one from the
      AWS_* environment. Local paths are read from the local disk.

    One engine keeps one key cache: make one per role and reuse it.
    """

    def __init__(
        self,
        endpoint: str,
        credentials: Union[None, str, Mapping[str, Any]] = None,
        *,
        access_key_id: Optional[str] = None,
        access_key_secret: Optional[str] = None,
        security_token: Optional[str] = None,
        cache_lifetime_seconds: float = DEFAULT_CACHE_LIFETIME_SECONDS,
        region: Optional[str] = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        filesystem: Any = None,
    ) -> None:
        self._pe = _require_pyarrow()
        self._filesystem = filesystem
        if not cache_lifetime_seconds or cache_lifetime_seconds <= 0:
            raise ValueError("cache_lifetime_seconds must be a positive number of seconds")
        key_id, secret, token = _credentials(
            credentials, access_key_id, access_key_secret, security_token
        )
        self.cache_lifetime_seconds = float(cache_lifetime_seconds)
        self._api = KmsApi(endpoint, key_id, secret, token, region, timeout=timeout)
        api = self._api
        self._factory = SealhouseCryptoFactory(lambda _config: _ExternalKmsClient(api), clock=clock)

    def __repr__(self) -> str:
        return (
            f"ExternalEngine(endpoint={self._api.url!r}, access_key_id="
            f"{self._api.access_key_id!r}, cache_lifetime_seconds={self.cache_lifetime_seconds})"
        )

    def forget_keys(self) -> None:
        """Drops every cached key: the next read asks the KMS again."""
        self._factory.remove_cache_entries_for_all_tokens()

    # -- reading ----------------------------------------------------------------

    def read_manifest(
        self, manifest: Union[str, bytes, Mapping[str, Any]], columns: Optional[Sequence[str]] = None
    ) -> Any:
        """The rows of a table, from what ``sealhouse external-engine
        manifest`` printed (a mapping or its JSON text), as a
        ``pyarrow.Table`` with the table's columns in order (or ``columns``).

        Refuses a default-key or an AESCTR/RC4 project before reading."""
        m = _manifest(manifest)
        name = f"table {m['project']}.{m['table']}"
        enc = m.get("encryption")
        if enc:
            algorithm = str(enc.get("algorithm", "")).upper()
            if algorithm in ("AESCTR", "RC4"):
                raise segmented_error(name, algorithm)
            if enc.get("key") == "default" or _key_account(enc.get("key_arn", "")) == SERVICE_ACCOUNT:
                raise default_key_error(name, enc.get("key_arn", "(unknown)"))
        paths = []
        for f in m["files"]:
            if f.get("format") == "segmented":
                raise segmented_error(f["path"], f.get("encryption") or "AESCTR/RC4", f["path"])
            paths.append(f["path"])
        names = [c["name"] for c in m["columns"]]
        if not paths:
            return _empty_table(m["columns"], columns)
        return self.read_files(paths, columns=list(columns) if columns else names)

    def read_files(self, paths: Iterable[str], columns: Optional[Sequence[str]] = None) -> Any:
        """The rows of these files, one ``pyarrow.Table``."""
        import pyarrow as pa

        tables = [self.read_file(p, columns) for p in paths]
        if not tables:
            raise ExternalEngineError("InvalidManifest", "no files given to read")
        return pa.concat_tables(tables, promote_options="default")

    def read_file(self, path: str, columns: Optional[Sequence[str]] = None) -> Any:
        """The rows of one Parquet file Sealhouse wrote (encrypted or plain)."""
        import pyarrow.parquet as pq

        path = str(path)
        filesystem, where = self._locate(path)
        _check_file(path, filesystem, where)
        props = self._factory.file_decryption_properties(
            self._pe.KmsConnectionConfig(),
            self._pe.DecryptionConfiguration(
                cache_lifetime=datetime.timedelta(seconds=self.cache_lifetime_seconds)
            ),
        )
        try:
            return pq.read_table(
                where, columns=columns, decryption_properties=props, filesystem=filesystem
            )
        except ExternalEngineError as e:
            if e.path is None:
                e.path = path
                e.message = f"reading {path}: {e.message}"
            raise
        except KmsError as e:
            raise ExternalEngineError._from_kms(e, path) from e


    def _locate(self, path: str) -> Any:
        """The filesystem ``path`` is read through (``None``: the local disk)
        and the path within it."""
        if not path.startswith("s3://"):
            return None, path
        if self._filesystem is not None:
            return self._filesystem, path[len("s3://") :]
        from pyarrow import fs as pafs

        try:
            return pafs.FileSystem.from_uri(path)
        except Exception as e:  # pyarrow raises ArrowInvalid/OSError here
            raise ExternalEngineError(
                "FileNotReadable",
                f"cannot reach {path}: {e}; pass ExternalEngine(filesystem=pyarrow.fs.S3FileSystem(...)) "
                "with the engine's storage credentials, or set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY "
                "and AWS_ENDPOINT_URL",
                path,
            ) from e


def _check_file(path: str, filesystem: Any = None, where: Optional[str] = None) -> None:
    """Sniffs the magic numbers: segmented files are refused by name,
    anything else that is not Parquet is reported as such. ``where`` is
    ``path`` within ``filesystem`` (``None``: the local disk)."""
    try:
        if filesystem is None:
            with open(path, "rb") as f:
                head = f.read(9)
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - 4))
                tail = f.read(4)
        else:
            with filesystem.open_input_file(where or path) as f:
                size = f.size()
                head = f.read(9)
                f.seek(max(0, size - 4))
                tail = f.read(4)
    except OSError as e:
        raise ExternalEngineError(
            "FileNotReadable",
            f"cannot open {path}: {e.strerror or e}; is the manifest current (sealhouse "
            "external-engine manifest) and the data directory mounted here?",
            path,
        ) from None
    if head[:7] == _SEGMENTED_MAGIC:
        algorithm = _SEGMENTED_CIPHERS.get(head[8], "unknown cipher") if len(head) > 8 else "?"
        raise segmented_error(path, algorithm, path)
    if head[:4] not in (b"PAR1", b"PARE") or tail not in (b"PAR1", b"PARE"):
        raise ExternalEngineError(
            "FileNotReadable",
            f"{path} is not a Parquet file (it starts with neither PAR1 nor PARE)",
            path,
        )


def _manifest(manifest: Union[str, bytes, Mapping[str, Any]]) -> Mapping[str, Any]:
    if isinstance(manifest, (str, bytes)):
        try:
            manifest = json.loads(manifest)
        except ValueError:
            raise ExternalEngineError(
                "InvalidManifest",
                "the manifest is not JSON: pass what sealhouse external-engine manifest prints",
            ) from None
    if not isinstance(manifest, Mapping):
        manifest = {}
    missing = [k for k in ("project", "table", "columns", "files") if k not in manifest]
    if missing:
        raise ExternalEngineError(
            "InvalidManifest",
            f"the manifest lacks {', '.join(missing)}: pass what sealhouse "
            "external-engine manifest prints",
        )
    return manifest


_ARROW_TYPES = {
    "STRING": "string",
    "BINARY": "binary",
    "TINYINT": "int8",
    "SMALLINT": "int16",
    "INT": "int32",
    "BIGINT": "int64",
    "FLOAT": "float32",
    "DOUBLE": "float64",
    "BOOLEAN": "bool_",
    "DATE": "date32",
}


def _arrow_type(name: str) -> Any:
    import pyarrow as pa

    if name in _ARROW_TYPES:
        return getattr(pa, _ARROW_TYPES[name])()
    if name == "DATETIME":
        return pa.timestamp("ms")
    if name == "TIMESTAMP":
        return pa.timestamp("ns")
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(-?\d+)\)", name)
    if m:
        return pa.decimal128(int(m.group(1)), int(m.group(2)))
    raise ExternalEngineError("InvalidManifest", f"the manifest names an unknown column type {name!r}")


def _empty_table(columns: List[Mapping[str, str]], wanted: Optional[Sequence[str]]) -> Any:
    import pyarrow as pa

    schema = pa.schema([(c["name"], _arrow_type(c["type"])) for c in columns])
    table = schema.empty_table()
    return table.select(list(wanted)) if wanted else table
