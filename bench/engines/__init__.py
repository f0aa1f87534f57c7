"""The engines of the peer benchmark, by worker name (see bench/README.md)."""


def engine_class(name):
    # Imported lazily: each worker process loads only its own engine's packages.
    if name == "sealhouse":
        from .sealhouse import Sealhouse as cls
    elif name == "ceiling":
        from .ceiling import Ceiling as cls
    elif name == "chdb":
        from .chdb_engine import Chdb as cls
    elif name == "spark":
        from .spark import Spark as cls
    elif name == "postgres":
        from .postgres import Postgres as cls
    elif name == "tink":
        from .tink_engine import Tink as cls
    elif name == "pyarrow":
        from .pyarrow_engine import Pyarrow as cls
    else:
        raise ValueError(f"unknown engine {name}")
    return cls


WORKERS = ["sealhouse", "ceiling", "chdb", "spark", "postgres", "tink", "pyarrow"]
