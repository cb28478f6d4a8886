#!/usr/bin/env bash
# Schemathesis against the release binary on PostgreSQL: every built-in check, a fixed seed and a bounded number of
# examples, once as an admin and once as a plain user. Zero failures or the script fails.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${SCHEMATHESIS_EXAMPLES:-50}
SEED=${SCHEMATHESIS_SEED:-42}
PG=postgres://postgres@127.0.0.1:5432
DB=users_schemathesis_$$
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
WORK=$(mktemp -d)

echo "--- installing schemathesis $SCHEMATHESIS_VERSION"
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"

echo "--- building the release binary"
cargo build --release --locked -p users-server
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/users-server

server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $DB"
unset JWT_SECRET JWT_ALGORITHM JWT_SIGNING_KEY_ID
export DATABASE_URL=$PG/$DB PORT JWT_KEYS_DIR=$WORK/keys
# Thousands of requests from one address: the per-address limit on /auth/* would answer most of them with 429 and
# leave the endpoints behind it untested. Its own HTTP tests cover it.
export USERS__RATE_LIMIT__AUTH_PER_MINUTE=0
"$BIN" migrate
echo 'correct horse battery staple' | "$BIN" create-admin --email admin@example.com
(cd "$WORK" && exec "$BIN" serve > "$WORK/server.log" 2>&1) &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "$BASE/health/ready" > /dev/null && break; sleep 0.1; done

token() { # email password -> access token (signing up first when asked to)
  python3 - "$BASE" "$@" <<'PY'
import json, sys, urllib.request
base, path, email, password = sys.argv[1:5]
request = urllib.request.Request(base + path, json.dumps({"email": email, "password": password}).encode(),
                                 {"content-type": "application/json"})
print(json.load(urllib.request.urlopen(request))["access_token"])
PY
}

status=0
for who in admin user; do
  # Each run's token is made just before it: the admin's run may end, suspend or delete any account (its own
  # sessions too), and the user's run must not start signed out by it.
  if [ "$who" = admin ]; then
    bearer=$(token /auth/login admin@example.com 'correct horse battery staple')
  else
    bearer=$(token /auth/register user@example.com 'tr0ub4dor and three more')
  fi
  echo "--- schemathesis as $who: all checks, seed $SEED, $EXAMPLES examples"
  "$WORK/venv/bin/st" run "$BASE/openapi.json" --header "Authorization: Bearer $bearer" \
    --checks all --seed "$SEED" --max-examples "$EXAMPLES" --workers 2 --no-color || status=1
done
if [ "$status" -ne 0 ]; then
  echo "--- server log (last 50 lines)"; tail -n 50 "$WORK/server.log"
fi
exit "$status"
