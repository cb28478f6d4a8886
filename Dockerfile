# users-server in a small image. Build: docker build -t users-server .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p users-server

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/users users && mkdir -p /var/lib/users && chown users /var/lib/users
COPY --from=build /src/target/release/users-server /usr/local/bin/users-server
USER users
WORKDIR /var/lib/users
ENV HOST=0.0.0.0 PORT=8080
EXPOSE 8080
ENTRYPOINT ["users-server"]
CMD ["serve"]
