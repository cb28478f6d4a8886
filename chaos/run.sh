#!/usr/bin/env bash
# The reliability suite (just chaos): builds the release binary, then breaks it on purpose, each scenario printing
# its pass criterion and its verdict. Not part of the default test run: it takes minutes, restarts the local
# PostgreSQL cluster and mounts a tmpfs (run it as root on a machine of your own). Name scenarios to run only those:
#   bash chaos/run.sh kill9-sqlite disk-full-sqlite
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p users-server
exec python3 chaos/chaos.py "$@"
