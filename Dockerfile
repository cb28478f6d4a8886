# users-server in a small image. Build: docker build -t users-server .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p users-server

FROM debian:bookworm-slim
# The keys folder exists in the image so that a named volume mounted there starts owned by the service user.
RUN useradd --system --home /var/lib/users users \
    && install -d -o users -m 0700 /var/lib/users /var/lib/users/jwt-keys
COPY --from=build /src/target/release/users-server /usr/local/bin/users-server
USER users
WORKDIR /var/lib/users
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
ENTRYPOINT ["users-server"]
CMD ["serve"]
