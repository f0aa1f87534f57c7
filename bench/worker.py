"""One engine in its own process: `python worker.py ENGINE CONFIG_JSON`, then JSON
commands on standard input ({"op": "setup"} | {"op": "run", "workload": W} |
{"op": "quit"}), one JSON answer per line. Anything else the engine prints (the JVM,
chdb) goes to standard error, which bench/run.py keeps in the run's log."""

import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engines import engine_class  # noqa: E402


def main():
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints (and child processes' stdout) go to stderr
    sys.stdout = sys.stderr
    engine = engine_class(sys.argv[1])(json.loads(sys.argv[2]))
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["op"] == "setup":
                t0 = time.perf_counter()
                info = engine.setup() or {}
                reply = {"info": info, "setup_wall": time.perf_counter() - t0}
            elif cmd["op"] == "run":
                reply = {"results": engine.run(cmd["workload"])}
            elif cmd["op"] == "quit":
                engine.close()
                reply = {"bye": True}
            else:
                reply = {"error": f"unknown op {cmd['op']}"}
        except Exception:  # reported to the orchestrator, which stops the run
            reply = {"error": traceback.format_exc()}
        protocol.write(json.dumps(reply) + "\n")
        protocol.flush()
        if cmd.get("op") == "quit":
            break


if __name__ == "__main__":
    main()
