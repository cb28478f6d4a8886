# users-server in a small image. Build: docker build -t users-server .
# Run: docker run -p 8080:8080 -v users-data:/data users-server   (SQLite and the signing keys live in /data)
#
# Base images are pinned to exact versions so that a rebuild gives the same toolchain and libc; bump them on purpose
# (and pin by digest, image@sha256:..., where your registry policy asks for it).
ARG RUST_IMAGE=rust:1.95.0-slim-bookworm
ARG RUNTIME_IMAGE=debian:12.11-slim

# Dependencies are built in a layer of their own, from a recipe of the manifests alone (cargo-chef): a change to the
# service's code rebuilds only the service, not the few hundred crates under it.
FROM ${RUST_IMAGE} AS chef
RUN cargo install cargo-chef --version 0.1.73 --locked
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --package users-server --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --package users-server

FROM ${RUNTIME_IMAGE}
# CA certificates, for TLS to a managed PostgreSQL whose certificate a public CA issued:
# DATABASE_URL=postgres://...?sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /data users \
    && install -d -o users -m 0700 /data /data/jwt-keys
COPY --from=build /src/target/release/users-server /usr/local/bin/users-server
USER users
WORKDIR /data
# Everything the service keeps (the SQLite database, the signing keys, the generated secrets) is under /data: one
# volume to mount and back up. A named volume mounted there starts owned by the service user.
ENV HOST=0.0.0.0 PORT=8080 \
    DATABASE_URL=sqlite:///data/users.db \
    JWT_KEYS_DIR=/data/jwt-keys \
    USERS__AUTH__JWT_SECRET_FILE=/data/jwt-secret
VOLUME ["/data"]
EXPOSE 8080
# Ready, not merely alive: an instance whose database is out of reach is reported unhealthy.
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 CMD ["users-server", "healthcheck"]
# SIGTERM (docker stop) lets in-flight requests finish within server.shutdown_timeout_secs (30 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["users-server"]
CMD ["serve"]
