#!/usr/bin/env bash
# How fast `users-server import` brings users over: USERS accounts without hashes (default 20,000), each with a
# username and names, into a fresh SQLite store and a fresh PostgreSQL database, with a release binary; then the same
# file again, where every line is skipped. Prints users per minute for each. A measurement, not a test: nothing here
# passes or fails on a time.
#
#   crates/server/tests/import_speed.sh [USERS]
#
# Honours CARGO_TARGET_DIR. PostgreSQL is the server of DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres);
# it needs `psql` to create and drop the database it imports into, and is passed over when it does not answer.
set -euo pipefail

users=${1:-20000}
server_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
root=$(cd "$(dirname "$0")/../../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

(cd "$root" && cargo build --release -p users-server --bin users-server)
bin=$target/release/users-server

work=$(mktemp -d)
database=users_import_speed_$$
cleanup() {
    rm -rf "$work"
    psql "$server_url" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

seq 1 "$users" | awk '{ printf "{\"email\": \"user%d@import.example\", \"username\": \"user%d\", \"first_name\": \"First%d\", \"last_name\": \"Last%d\", \"email_verified\": true}\n", $1, $1, $1, $1 }' \
    > "$work/users.jsonl"

# Runs the import in folder $1 (DATABASE_URL $2, or the embedded store when empty), labelled $3.
timed_import() {
    local folder=$1 url=$2 label=$3 start end summary
    mkdir -p "$folder"
    start=$(date +%s.%N)
    if [[ -n $url ]]; then
        summary=$(cd "$folder" && DATABASE_URL=$url "$bin" import "$work/users.jsonl" 2>/dev/null | tail -n 1)
    else
        summary=$(cd "$folder" && env -u DATABASE_URL "$bin" import "$work/users.jsonl" 2>/dev/null | tail -n 1)
    fi
    end=$(date +%s.%N)
    awk -v label="$label" -v users="$users" -v start="$start" -v end="$end" -v summary="$summary" 'BEGIN {
        seconds = end - start
        printf "%-32s %6.2f s  %9.0f users/minute  (%s)\n", label, seconds, users * 60 / seconds, summary
    }'
}

echo "$users users without hashes, $(nproc) cores, $("$bin" --version 2>/dev/null || echo users-server)"
timed_import "$work/sqlite" "" "SQLite, into an empty store"
timed_import "$work/sqlite" "" "SQLite, again (all skipped)"
if psql "$server_url" -qc "CREATE DATABASE $database" >/dev/null 2>&1; then
    url=${server_url%/*}/$database
    timed_import "$work/postgres" "$url" "PostgreSQL, into an empty store"
    timed_import "$work/postgres" "$url" "PostgreSQL, again (all skipped)"
else
    echo "PostgreSQL at $server_url did not answer: passed over"
fi
