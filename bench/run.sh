#!/usr/bin/env bash
# The HTTP load benchmark (issue 7): builds the release binary, starts it on a fresh database (PostgreSQL, or with
# BENCH_STORE=sqlite an SQLite file) seeded with 10,000 users, and drives it with wrk on loopback. Each scenario gets a
# warm-up and BENCH_RUNS measured runs; the table reports the median and the spread (min-max) of requests/s and the
# median p50/p99 latency. Everything it starts it stops. Results go to stdout and to bench/results/<revision>.md.
#
#   bash bench/run.sh                  (or: just bench)
#   bash bench/run.sh --users 1000000  (or: just bench --users 1000000)
#
# --users N (PostgreSQL only): N users in all instead, a realistic population (names, addresses, roles, statuses,
# sign-ins: see bench/seed-users.sql) written by SQL, and the admin lists' scenarios (search-prefix, filter-role,
# sort-created, sort-created-deep) run by default besides the others; results in bench/results/<revision>-users<N>.md.
#
# Settings (environment): BENCH_PG (postgres://postgres@127.0.0.1:5432), BENCH_DURATION (10 s a run), BENCH_WARMUP
# (5 s), BENCH_RUNS (3), BENCH_THREADS (wrk threads, 2), BENCH_SCENARIOS (all; a space-separated subset of the names
# below), BENCH_REFRESH_SESSIONS (300000 single-use refresh tokens for the refresh scenario), BENCH_STORE (postgres;
# sqlite runs every scenario but refresh, whose seeded tokens need PostgreSQL's sha256()), BENCH_BIN (a users-server
# binary to run instead of building one, for before/after pairs).
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=
while [ $# -gt 0 ]; do
  case $1 in
    --users) USERS=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
    --users=*) USERS=${1#--users=}; shift ;;
    *) echo "bench: unknown argument $1 (the only one is --users N)" >&2; exit 1 ;;
  esac
done
# The admin and user0 are made through the service; the seed writes the others. Its usernames are a name and the
# user's number, 20 characters at most up to 9,999,999.
if [ -n "$USERS" ] && ! { [[ $USERS =~ ^[0-9]+$ ]] && [ "$USERS" -ge 3 ] && [ "$USERS" -le 9999999 ]; }; then
  echo "bench: --users takes a number of users from 3 to 9999999, not '$USERS'" >&2
  exit 1
fi

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-5}
RUNS=${BENCH_RUNS:-3}
export BENCH_THREADS=${BENCH_THREADS:-2}
REFRESH_SESSIONS=${BENCH_REFRESH_SESSIONS:-300000}
STORE=${BENCH_STORE:-postgres}
case $STORE in
  postgres) SCENARIOS=${BENCH_SCENARIOS:-"live current-16 current-64 users-list api-users login refresh login-storm"} ;;
  sqlite) SCENARIOS=${BENCH_SCENARIOS:-"live current-16 current-64 users-list api-users login login-storm"} ;;
  *) echo "bench: BENCH_STORE is postgres or sqlite, not $STORE" >&2; exit 1 ;;
esac
if [ -n "$USERS" ]; then
  [ "$STORE" = postgres ] || { echo "bench: --users needs PostgreSQL (the seed is PostgreSQL's SQL)" >&2; exit 1; }
  # Searches and sorts measure something only on a population like a real one.
  SCENARIOS=${BENCH_SCENARIOS:-"$SCENARIOS search-prefix filter-role sort-created sort-created-deep"}
fi
DB=users_bench_$$
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
WORK=$(mktemp -d)
PASSWORD='bench password of some length'

command -v wrk > /dev/null || { echo "bench: wrk is needed (Debian: apt-get install wrk)" >&2; exit 1; }
if [ "$STORE" = postgres ]; then
  command -v psql > /dev/null || { echo "bench: psql is needed" >&2; exit 1; }
else
  command -v sqlite3 > /dev/null || { echo "bench: sqlite3 is needed (Debian: apt-get install sqlite3)" >&2; exit 1; }
fi

if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN
else
  echo "--- building the release binary"
  cargo build --release --locked -p users-server
  BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/users-server
fi

server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2> /dev/null && wait "$server_pid" 2> /dev/null
  [ "$STORE" = postgres ] && psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" > /dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
sql() { psql -q -v ON_ERROR_STOP=1 -X "$PG/$DB" "$@"; }

if [ "$STORE" = postgres ]; then
  echo "--- database $DB"
  psql -q "$PG/postgres" -c "CREATE DATABASE $DB"
  export DATABASE_URL=$PG/$DB
else
  echo "--- database $WORK/users.db"
  export DATABASE_URL=sqlite://$WORK/users.db
fi
export PORT JWT_KEYS_DIR=$WORK/keys RUST_LOG=warn
# One address sends everything here: the per-address limit on /auth/* would measure itself.
export USERS__RATE_LIMIT__AUTH_PER_MINUTE=0
unset JWT_SECRET JWT_ALGORITHM JWT_SIGNING_KEY_ID
"$BIN" migrate > /dev/null
echo "$PASSWORD" | "$BIN" create-admin --email admin@bench.example > /dev/null

(cd "$WORK" && exec "$BIN" serve > "$WORK/server.log" 2>&1) &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "$BASE/health/ready" > /dev/null && break; sleep 0.1; done

post() { curl -sf "$BASE$1" -H 'content-type: application/json' -d "$2"; }
field() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

if [ -n "$USERS" ]; then
  echo "--- seeding $USERS users in all (bench/seed-users.sql) and $REFRESH_SESSIONS refresh sessions"
else
  echo "--- seeding 10,000 users and $REFRESH_SESSIONS refresh sessions"
fi
post /auth/register "{\"email\":\"user0@bench.example\",\"password\":\"$PASSWORD\"}" > /dev/null
# The other users share user0's password hash: hashing 10,000 passwords would take minutes and measure nothing.
# Sign-ins cycle over 9,999 accounts: user0 to user9998, or with --users the first 9,999 not suspended.
seq -f 'user%.0f@bench.example' 0 9998 > "$WORK/login-emails"
if [ "$STORE" = sqlite ]; then
  sqlite3 -bail "$WORK/users.db" <<SQL
PRAGMA busy_timeout = 5000;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 9998)
INSERT INTO users (object_id, email, username, password_hash, first_name, last_name, created_at, updated_at)
SELECT printf('%024x', 1000000 + i), 'user' || i || '@bench.example', 'user' || i, u.password_hash, 'Bench',
       'User ' || i, u.created_at, u.updated_at
FROM n, (SELECT password_hash, created_at, updated_at FROM users WHERE email = 'user0@bench.example') AS u;
INSERT INTO user_roles (user_id, role_id) SELECT id, 2 FROM users WHERE id NOT IN (SELECT user_id FROM user_roles);
SQL
  # The sign-in key of each email (its lower-cased form; these are ASCII), on the revisions that have it, so that a
  # BENCH_BIN from before it can be measured with the same script.
  if [ "$(sqlite3 "$WORK/users.db" "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'email_key'")" = 1 ]; then
    sqlite3 -bail "$WORK/users.db" "PRAGMA busy_timeout = 5000; UPDATE users SET email_key = lower(email) WHERE email_key IS NULL;"
  fi
  sqlite3 -bail "$WORK/users.db" "PRAGMA busy_timeout = 5000; ANALYZE;"
  echo "users: $(sqlite3 "$WORK/users.db" 'SELECT count(*) FROM users')"
else
  if [ -n "$USERS" ]; then
    # The admin and user0 are there already.
    sql -c "SET seed.users = $((USERS - 2))" \
      -c "SELECT set_config('seed.password_hash', password_hash, false) FROM users WHERE email = 'user0@bench.example'" \
      -f bench/seed-users.sql > /dev/null
    # Outside the seed's transaction, as it says why.
    sql -c "VACUUM users, user_roles"
    sql -tA -c "SELECT email FROM users WHERE email <> 'admin@bench.example' AND suspended_at IS NULL
                ORDER BY id LIMIT 9999" > "$WORK/login-emails"
  else
    sql <<SQL
INSERT INTO users (object_id, email, email_key, username, password_hash, first_name, last_name, created_at, updated_at)
SELECT substr(md5('bench' || i), 1, 24), 'user' || i || '@bench.example', 'user' || i || '@bench.example', 'user' || i,
       (SELECT password_hash FROM users WHERE email = 'user0@bench.example'), 'Bench', 'User ' || i, now(), now()
FROM generate_series(1, 9998) AS i;
INSERT INTO user_roles (user_id, role_id) SELECT id, 2 FROM users WHERE id NOT IN (SELECT user_id FROM user_roles);
SQL
  fi
  sql <<SQL
-- Single-use refresh tokens for the refresh scenario: token = base64url(sha256('refresh' || i)), stored as the
-- service stores them, base64url(sha256(token)).
CREATE TEMP TABLE bench_tokens AS
SELECT i, rtrim(translate(encode(sha256(convert_to('refresh' || i, 'UTF8')), 'base64'), '+/', '-_'), '=') AS token
FROM generate_series(1, $REFRESH_SESSIONS) AS i;
WITH owner AS (SELECT id FROM users WHERE email = 'user0@bench.example'),
     new_sessions AS (
       INSERT INTO sessions (user_id, created_at, expires_at)
       SELECT owner.id, now(), now() + interval '1 day' FROM owner, generate_series(1, $REFRESH_SESSIONS)
       RETURNING id)
INSERT INTO refresh_tokens (token_hash, session_id, created_at)
SELECT rtrim(translate(encode(sha256(convert_to(t.token, 'UTF8')), 'base64'), '+/', '-_'), '='), s.id, now()
FROM (SELECT id, row_number() OVER (ORDER BY id) AS i FROM new_sessions) s JOIN bench_tokens t USING (i);
\copy (SELECT token FROM bench_tokens ORDER BY i) TO '$WORK/refresh-tokens'
ANALYZE;
SQL
  echo "users: $(sql -tA -c 'SELECT count(*) FROM users'), sessions: $(sql -tA -c 'SELECT count(*) FROM sessions')"
fi

USER_TOKEN=$(post /auth/login "{\"email\":\"user0@bench.example\",\"password\":\"$PASSWORD\"}" | field '["access_token"]')
ADMIN_TOKEN=$(post /auth/login "{\"email\":\"admin@bench.example\",\"password\":\"$PASSWORD\"}" | field '["access_token"]')

# run_wrk CONNECTIONS SECONDS PATH [env assignments...] -> prints the RESULT line
run_wrk() {
  local connections=$1 seconds=$2 path=$3
  shift 3
  env "$@" wrk -t"$BENCH_THREADS" -c"$connections" -d"${seconds}s" --timeout 10s -s bench/wrk.lua "$BASE$path" \
    | grep '^RESULT'
}

RESULTS=$WORK/results
: > "$RESULTS"
# scenario NAME CONNECTIONS PATH [env...]: a warm-up, then RUNS measured runs, one line each in $RESULTS.
scenario() {
  local name=$1 connections=$2 path=$3
  shift 3
  echo "--- $name: $connections connections, $path"
  run_wrk "$connections" "$WARMUP" "$path" "$@" > /dev/null
  for run in $(seq 1 "$RUNS"); do
    local line
    line=$(run_wrk "$connections" "$DURATION" "$path" "$@")
    echo "  run $run: $line"
    echo "$name $connections $line" >> "$RESULTS"
  done
}

token_env=(BENCH_TOKEN="$USER_TOKEN")
admin_env=(BENCH_TOKEN="$ADMIN_TOKEN")
login_env=(BENCH_METHOD=POST BENCH_LOGIN_EMAILS="$WORK/login-emails" BENCH_LOGIN_PASSWORD="$PASSWORD")
for name in $SCENARIOS; do
  case $name in
    live) scenario live 64 /health/live ;;
    current-16) scenario current-16 16 /users/current "${token_env[@]}" ;;
    current-64) scenario current-64 64 /users/current "${token_env[@]}" ;;
    users-list) scenario users-list 64 "/users/?limit=50" "${admin_env[@]}" ;;
    api-users) scenario api-users 64 "/api/users?page=100&limit=100" "${admin_env[@]}" ;;
    # The admin lists at 16 connections: a search by the start of a common last name (Smith and others: more matches
    # than are counted), a role's members (1%), the newest users first, and a page of them 40,000 deep.
    search-prefix) scenario search-prefix 16 "/api/users?q=smi&limit=20" "${admin_env[@]}" ;;
    filter-role) scenario filter-role 16 "/api/users?role=admin&limit=20" "${admin_env[@]}" ;;
    sort-created) scenario sort-created 16 "/api/users?sort=createdAt&order=desc&limit=20" "${admin_env[@]}" ;;
    sort-created-deep)
      scenario sort-created-deep 16 "/api/users?sort=createdAt&order=desc&page=2000&limit=20" "${admin_env[@]}" ;;
    login) scenario login 16 /auth/login "${login_env[@]}" ;;
    refresh)
      [ "$STORE" = postgres ] || { echo "bench: the refresh scenario needs PostgreSQL" >&2; exit 1; }
      # Each thread reads its share of the tokens; the warm-up uses some too, and no token is presented twice.
      split -n "l/$((RUNS + 1))" -d "$WORK/refresh-tokens" "$WORK/refresh-part-"
      echo "--- refresh: 64 connections, /auth/refresh (every request a rotation)"
      part=0
      for run in $(seq 0 "$RUNS"); do
        file=$(printf '%s/refresh-part-%02d' "$WORK" "$part")
        part=$((part + 1))
        seconds=$DURATION
        [ "$run" -eq 0 ] && seconds=$WARMUP
        line=$(run_wrk 64 "$seconds" /auth/refresh BENCH_METHOD=POST BENCH_REFRESH_TOKENS="$file")
        [ "$run" -eq 0 ] && continue
        echo "  run $run: $line"
        echo "refresh 64 $line" >> "$RESULTS"
      done
      ;;
    login-storm)
      # Logins at saturation while a second client, 4 connections, measures GET /users/current.
      echo "--- login-storm: 32 connections logging in, 4 connections on /users/current"
      for run in $(seq 1 "$RUNS"); do
        env "${login_env[@]}" wrk -t1 -c32 -d"$((DURATION + 2))s" --timeout 10s -s bench/wrk.lua "$BASE/auth/login" \
          | grep '^RESULT' > "$WORK/storm-logins" &
        storm=$!
        sleep 1
        line=$(env BENCH_THREADS=1 "${token_env[@]}" wrk -t1 -c4 -d"${DURATION}s" -s bench/wrk.lua "$BASE/users/current" \
          | grep '^RESULT')
        wait "$storm"
        echo "  run $run: current $line; logins $(cat "$WORK/storm-logins")"
        echo "login-storm 4 $line" >> "$RESULTS"
        echo "login-storm-logins 32 $(cat "$WORK/storm-logins")" >> "$RESULTS"
      done
      ;;
    *) echo "bench: unknown scenario $name" >&2; exit 1 ;;
  esac
  echo "  server peak RSS so far: $(awk '/VmHWM/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$server_pid/status")"
done

peak_rss_kib=$(awk '/VmHWM/ { print $2 }' "/proc/$server_pid/status")
failures=$(awk '{ sum += $5 } END { print sum + 0 }' "$RESULTS")
revision=${BENCH_REVISION:-$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo "+changes")}
mkdir -p bench/results
report=bench/results/$revision.md
[ "$STORE" = postgres ] || report=bench/results/$revision-$STORE.md
[ -z "$USERS" ] || report=bench/results/$revision-users$USERS.md
python3 - "$RESULTS" "$revision" "$(nproc)" "$peak_rss_kib" "$failures" "$DURATION" "$RUNS" "$STORE" "${USERS:-10000}" \
  > "$report" <<'PY'
import statistics, sys
from collections import OrderedDict
path, revision, cores, rss_kib, failures, duration, runs, store, users = sys.argv[1:]
rows = OrderedDict()
for line in open(path):
    name, connections, _, requests, errors, seconds, p50, p99 = line.split()
    rows.setdefault((name, connections), []).append(
        (int(requests) / float(seconds), int(errors), int(p50) / 1000, int(p99) / 1000))
print(f"Revision {revision} on {store}, {int(users):,} users; {cores} cores; Argon2id m=19456 KiB, t=2, p=1; {runs} runs of {duration} s after a warm-up;")
print(f"server peak RSS {int(rss_kib) / 1024:.1f} MiB; failed requests {failures}.")
print()
print("| scenario | connections | requests/s (median) | spread (min-max) | p50 ms | p99 ms | errors |")
print("|---|---|---|---|---|---|---|")
for (name, connections), results in rows.items():
    rates = [r[0] for r in results]
    print(f"| {name} | {connections} | {statistics.median(rates):,.0f} | {min(rates):,.0f}-{max(rates):,.0f} "
          f"| {statistics.median(r[2] for r in results):.2f} | {statistics.median(r[3] for r in results):.2f} "
          f"| {sum(r[1] for r in results)} |")
PY
echo
cat "$report"
echo
echo "(written to $report)"
