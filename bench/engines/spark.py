"""Apache Spark through `pyspark`, local mode (local[*]), tables as Parquet files.

aes_encrypt(x, key, 'GCM'): Spark draws a random 12-byte IV per value
(java.security.SecureRandom) and returns iv || ciphertext || tag. Deterministic:
Spark has no SIV mode; its deterministic option is aes_encrypt(x, key, 'ECB')
(no integrity). CPU: the JVM's (and this process's) user + system time from /proc.
"""

import os

from .common import BASE11, Clock, check_equal, check_max, descendants, result

KEY = "6b" * 32  # hex of a 32-byte key


class Spark:
    name = "spark"
    workloads = {"enc11", "dec11", "det11", "enc1k", "dec1k"}

    def __init__(self, cfg):
        self.cfg = cfg
        caps = cfg["caps"].get("spark", {})
        self.rows11 = min(cfg["rows11"], caps.get("11", 1 << 62))
        self.rows1k = min(cfg["rows1k"], caps.get("1k", 1 << 62))
        self.dir = os.path.join(cfg["workdir"], "spark")

    def pids(self):
        return [os.getpid()] + descendants(os.getpid())

    def q(self, sql):
        return self.spark.sql(sql).collect()

    def setup(self):
        import pyspark
        from pyspark.sql import SparkSession

        self.spark = (
            SparkSession.builder.master("local[*]")
            .appName("sealhouse-peer-bench")
            .config("spark.driver.memory", "6g")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.local.dir", os.path.join(self.dir, "tmp"))
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")
        k = f"unhex('{KEY}')"
        n, m = self.rows11, self.rows1k
        p = lambda t: os.path.join(self.dir, t)  # noqa: E731
        self.spark.range(n).selectExpr(f"cast(id + {BASE11} as string) as x").write.mode("overwrite").parquet(p("t11"))
        self.spark.range(m).selectExpr("lpad(cast(id as string), 1024, 'x') as x").write.mode("overwrite").parquet(p("t1k"))
        for t in ("t11", "t1k"):
            self.spark.read.parquet(p(t)).createOrReplaceTempView(t)
            e = "e" + t[1:]
            self.spark.sql(f"SELECT x, aes_encrypt(x, {k}, 'GCM') AS c FROM {t}").write.mode("overwrite").parquet(p(e))
            self.spark.read.parquet(p(e)).createOrReplaceTempView(e)
        return {"version": pyspark.__version__, "engine": self.spark.version}

    def run(self, workload):
        k = f"unhex('{KEY}')"
        if workload.startswith(("enc", "det")):
            size, table, rows = (1024, "t1k", self.rows1k) if workload.endswith("1k") else (11, "t11", self.rows11)
            mode = "ECB" if workload == "det11" else "GCM"
            with Clock(self.pids) as c:
                r = self.q(f"SELECT hex(max(aes_encrypt(x, {k}, '{mode}'))), count(1) FROM {table}")[0]
            max_hex, count = r[0], r[1]
            plain = self.q(f"SELECT hex(aes_decrypt(unhex('{max_hex}'), {k}, '{mode}'))")[0][0]
            ok, check = check_max(size, rows, count, bytes.fromhex(plain))
            if mode == "ECB":
                again = self.q(f"SELECT hex(aes_encrypt(unhex('{plain}'), {k}, 'ECB'))")[0][0]
                ok, check = ok and again == max_hex, check + f"; re-encrypting gives the same ciphertext: {again == max_hex}"
            what = f"max(aes_encrypt(x, key, '{mode}')) FROM {table} (Parquet)"
        else:
            table, rows = ("e1k", self.rows1k) if workload.endswith("1k") else ("e11", self.rows11)
            with Clock(self.pids) as c:
                r = self.q(f"SELECT count_if(aes_decrypt(c, {k}, 'GCM') = cast(x as binary)) FROM {table}")[0]
            ok, check = check_equal(rows, r[0])
            what = f"count_if(aes_decrypt(c, key, 'GCM') = x) FROM {table} (Parquet)"
        return [result("spark", workload, rows, c, ok, check, what)]

    def close(self):
        self.spark.stop()
