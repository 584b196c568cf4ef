# syntax=docker/dockerfile:1
# Multi-stage image of flow: the build stage compiles the workspace; the
# runtime stage holds the binaries, cron and the status server, and runs the
# flow folder mounted at /flow every minute.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# How the bundled SQLite is compiled (see docs/performance-export.md).
COPY .cargo .cargo
COPY host host
COPY plugins plugins
COPY tests tests
RUN cargo build --release --locked --workspace --bins

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends cron curl ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin flow \
    && mkdir -p /var/log/flow /flow \
    && chown flow:flow /var/log/flow /flow
COPY --from=build \
    /src/target/release/flow \
    /src/target/release/job-timestamp \
    /src/target/release/job-zscore \
    /src/target/release/job-merge \
    /src/target/release/db-export \
    /usr/local/bin/
COPY crontab /etc/cron.d/flow
COPY docker/entrypoint /usr/local/bin/flow-entrypoint
RUN chmod 0644 /etc/cron.d/flow
ENV FLOW_DIR=/flow
VOLUME /flow
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/flow-entrypoint"]
