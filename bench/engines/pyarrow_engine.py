"""pyarrow: Parquet modular encryption (storage encryption), in this process.

The table (id BIGINT, tel STRING of 11 B), N rows, is built in memory at setup.
- insert_storage: pq.write_table with FileEncryptionProperties from a CryptoFactory:
  AES_GCM_V1, uniform encryption (every column and the footer under one footer key),
  double wrapping, the data keys wrapped by an in-process KMS client (Tink AES-GCM
  under a master key). insert_plain: the same write without encryption. Both snappy,
  pyarrow's defaults otherwise.
- scan_storage / scan_plain: pq.read_table (with FileDecryptionProperties for the
  encrypted file), then the same check as Sealhouse's scan, in Arrow compute:
  count of rows whose tel equals cast(13900000000 + id as string), and sum(id).
CPU: this process's CPU time (pyarrow's threads included).
"""

import base64
import os

from .common import BASE11, Clock, result


class Pyarrow:
    name = "pyarrow"
    workloads = {"insert_storage", "scan_storage", "insert_plain", "scan_plain"}

    def __init__(self, cfg):
        self.rows = cfg["rows11"]
        self.dir = os.path.join(cfg["workdir"], "pyarrow")

    def setup(self):
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet.encryption as pe
        import tink
        from tink import aead

        aead.register()
        master = tink.new_keyset_handle(aead.aead_key_templates.AES256_GCM).primitive(aead.Aead)

        class TinkKms(pe.KmsClient):
            """Wraps data keys with AES-GCM under an in-process master key."""

            def __init__(self, _config):
                super().__init__()

            def wrap_key(self, key_bytes, master_key_identifier):
                return base64.b64encode(master.encrypt(key_bytes, master_key_identifier.encode())).decode()

            def unwrap_key(self, wrapped_key, master_key_identifier):
                return master.decrypt(base64.b64decode(wrapped_key), master_key_identifier.encode())

        os.makedirs(self.dir, exist_ok=True)
        self.pa, self.pc, self.pe = pa, pc, pe
        self.factory = pe.CryptoFactory(lambda cfg: TinkKms(cfg))
        self.kms = pe.KmsConnectionConfig()
        ids = pa.array(range(self.rows), type=pa.int64())
        tel = pc.cast(pc.add(ids, BASE11), pa.string())
        self.table = pa.table({"id": ids, "tel": tel})
        return {"version": pa.__version__}

    def path(self, workload):
        return os.path.join(self.dir, "storage.parquet" if workload.endswith("storage") else "plain.parquet")

    def run(self, workload):
        import pyarrow.parquet as pq

        pa, pc, pe = self.pa, self.pc, self.pe
        n = self.rows
        encrypted = workload.endswith("storage")
        if workload.startswith("insert"):
            with Clock() as c:
                props = None
                if encrypted:
                    props = self.factory.file_encryption_properties(
                        self.kms, pe.EncryptionConfiguration(footer_key="footer", uniform_encryption=True,
                                                             encryption_algorithm="AES_GCM_V1"))
                pq.write_table(self.table, self.path(workload), encryption_properties=props)
            stored = pq.ParquetFile(self.path(workload), decryption_properties=self.decryption() if encrypted else None).metadata.num_rows
            ok, check = stored == n, f"{stored}/{n} rows stored (every value checked by the scan workload)"
            what = "pq.write_table(" + ("AES_GCM_V1, uniform: every column + footer" if encrypted else "no encryption") + ")"
        else:
            with Clock() as c:
                t = pq.read_table(self.path(workload), decryption_properties=self.decryption() if encrypted else None)
                ids = t.column("id")
                equal = pc.equal(t.column("tel"), pc.cast(pc.add(ids, BASE11), pa.string()))
                cnt = pc.sum(pc.cast(equal, pa.int64())).as_py()
                total = pc.sum(pc.if_else(equal, ids, 0)).as_py()
            ok = cnt == n and total == n * (n - 1) // 2
            check = f"{cnt}/{n} rows equal their expected value; sum(id) {'matches' if total == n * (n - 1) // 2 else 'WRONG'}"
            what = "pq.read_table(" + ("with decryption properties" if encrypted else "") + "), then count where tel = cast(13900000000 + id), sum(id)"
        return [result("pyarrow", workload, n, c, ok, check, what)]

    def decryption(self):
        return self.factory.file_decryption_properties(self.kms, self.pe.DecryptionConfiguration())

    def close(self):
        pass
