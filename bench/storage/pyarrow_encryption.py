"""pyarrow writing and reading the table of the storage-encryption bench
(crates/sql/benches/storage_encryption.rs) with and without Parquet modular
encryption (AES_GCM_V1, uniform encryption, double wrapping), medians of
--runs, printed as ratios to the unencrypted run. The KMS is an in-process
stand-in that only masks keys (called once per file; not secure, bench
only): this measures the format's encryption cost."""

import argparse
import base64
import datetime
import os
import statistics
import tempfile
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe


MASK = bytes(range(1, 33))


class LocalKms(pe.KmsClient):
    """Masks keys with a fixed pad: a stand-in KMS for timing only."""

    def __init__(self, _config):
        super().__init__()

    def wrap_key(self, key_bytes, master_key_identifier):
        return base64.b64encode(bytes(a ^ b for a, b in zip(key_bytes, MASK))).decode()

    def unwrap_key(self, wrapped_key, master_key_identifier):
        return bytes(a ^ b for a, b in zip(base64.b64decode(wrapped_key), MASK))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    n = args.rows
    ids = pa.array(range(1, n + 1), pa.int64())
    tel = pc.cast(pc.add(ids, 13900000000), pa.string())
    note = pc.binary_join_element_wise(
        "note-", pc.cast(pc.remainder(pc.multiply(ids, 7919), 1000003), pa.string()), "-padding-text", ""
    )
    table = pa.table({"id": ids, "tel": tel, "note": note})
    factory = pe.CryptoFactory(LocalKms)
    config = pe.KmsConnectionConfig()
    enc = pe.EncryptionConfiguration(footer_key="footer", uniform_encryption=True, double_wrapping=True)
    dec = pe.DecryptionConfiguration(cache_lifetime=datetime.timedelta(minutes=10))
    results = {}
    with tempfile.TemporaryDirectory() as d:
        for mode in ["unencrypted", "encrypted"]:
            writes, reads = [], []
            for _ in range(args.runs):
                path = os.path.join(d, f"{mode}.parquet")
                kwargs = {"compression": "snappy", "row_group_size": 256 * 1024}
                read_kwargs = {}
                if mode == "encrypted":
                    kwargs["encryption_properties"] = factory.file_encryption_properties(config, enc)
                    read_kwargs["decryption_properties"] = factory.file_decryption_properties(config, dec)
                t = time.perf_counter()
                pq.write_table(table, path, **kwargs)
                writes.append(time.perf_counter() - t)
                t = time.perf_counter()
                back = pq.read_table(path, **read_kwargs)
                reads.append(time.perf_counter() - t)
                assert back.num_rows == n
            results[mode] = (statistics.median(writes), statistics.median(reads))
    bw, br = results["unencrypted"]
    print(f"pyarrow {pa.__version__} Parquet modular encryption, same data, medians of {args.runs}")
    print(f"{'mode':<12} {'write':>12} {'vs plain':>10} {'read':>12} {'vs plain':>10}")
    for mode, (w, r) in results.items():
        print(f"{mode:<12} {w:>10.3} s {w / bw:>9.3}x {r:>10.3} s {r / br:>9.3}x")


if __name__ == "__main__":
    main()
