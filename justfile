# The everyday recipes. `just --list` shows them. Install just with `cargo install just`.

# Run the service on the embedded SQLite store (./data); pass a DATABASE_URL to use PostgreSQL instead.
run *args:
    cargo run -p users-server -- {{args}}

# Run every test. Database tests use DATABASE_URL (default: local PostgreSQL) and are skipped loudly without one.
test:
    cargo test --workspace

# Format check and clippy with warnings as errors, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# What CI runs: start PostgreSQL if needed, lint, test (with CI=true a missing database is a failure).
ci:
    bash .ci/run

# Start PostgreSQL in Docker (needs a Docker engine; this repository's CI machines have none).
db-up: _docker
    docker compose -f docker-compose.yml -f docker-compose.db-port.yml up -d db
    @echo "PostgreSQL is up: DATABASE_URL=postgres://users:users@127.0.0.1:5432/users"

# Stop the Docker PostgreSQL (needs a Docker engine).
db-down: _docker
    docker compose -f docker-compose.yml -f docker-compose.db-port.yml down

_docker:
    @docker info >/dev/null 2>&1 || { echo "this recipe needs a running Docker engine, and there is none here: use a local PostgreSQL and set DATABASE_URL instead" >&2; exit 1; }

# Create an admin; the password is read from standard input.
create-admin email:
    cargo run -q -p users-server -- create-admin --email {{email}}

# Build the optimised binary.
release:
    cargo build --release -p users-server

# The HTTP load benchmark on a fresh PostgreSQL database (needs wrk and psql); see BENCHMARKS.md. `just bench --users
# 1000000` seeds a million users and adds the admin lists' scenarios.
bench *args:
    bash bench/run.sh {{args}}

# The criterion micro-benchmarks (profile validation, JWT issue/verify, one Argon2id hash); see BENCHMARKS.md.
bench-micro:
    cargo bench -p users-benches

# The reliability suite: kill -9 during writes, PostgreSQL restarts and black holes, a stalled listener, a full
# disk; slow, needs root and restarts the local PostgreSQL (see chaos/chaos.py).
chaos *scenarios:
    bash chaos/run.sh {{scenarios}}
