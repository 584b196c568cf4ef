# syntax=docker/dockerfile:1
# Multi-stage image of flow:
#   runtime  Debian slim with cron, tini, curl and the entry point, no binaries;
#   build    compiles the workspace in the Rust image;
#   (last)   the runtime stage with the binaries: the image `docker build` makes.
# The runtime stage comes first so that `docker build --target runtime`
# needs neither the Rust image nor the half-hour build: the project's test
# (scripts/docker-test) builds it and adds the workspace's freshly built
# binaries the way the last stage adds the release ones.
#
# The entry point adopts the owner of the mounted flow folder for the user
# `flow`, so every pass runs as that owner; see docker/entrypoint.

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends cron curl ca-certificates tini tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && rm -f /etc/cron.d/* /etc/cron.daily/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin flow \
    && mkdir -p /flow
COPY crontab /etc/cron.d/flow
COPY docker/entrypoint /usr/local/bin/flow-entrypoint
COPY docker/healthcheck /usr/local/bin/flow-healthcheck
RUN chmod 0644 /etc/cron.d/flow \
    && chmod 0755 /usr/local/bin/flow-entrypoint /usr/local/bin/flow-healthcheck
ENV FLOW_DIR=/flow
VOLUME /flow
EXPOSE 8000
# The first minute's pass creates the state database /healthz reads, so the
# start period covers it; before a folder is usable the check prints why.
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
    CMD ["/usr/local/bin/flow-healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/flow-entrypoint"]

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# How the bundled SQLite is compiled (see docs/performance-export.md).
COPY .cargo .cargo
COPY host host
COPY plugins plugins
COPY tests tests
RUN cargo build --release --locked --workspace --bins

FROM runtime
COPY --from=build \
    /src/target/release/flow \
    /src/target/release/job-timestamp \
    /src/target/release/job-zscore \
    /src/target/release/job-merge \
    /src/target/release/db-export \
    /usr/local/bin/
