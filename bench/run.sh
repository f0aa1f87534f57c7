#!/bin/sh
# Sealhouse against the peers (issue 8): see bench/README.md. Arguments go to run.py.
exec python3 "$(dirname "$0")/run.py" "$@"
