# syntax=docker/dockerfile:1
# Multi-stage image of flow: the build stage compiles the workspace; the
# runtime stage holds the binaries, cron, tini and the status server, and
# runs the flow folder mounted at /flow every minute as the user who owns
# that folder (see docker/entrypoint).

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# How the bundled SQLite is compiled (see docs/performance-export.md).
COPY .cargo .cargo
COPY host host
COPY plugins plugins
COPY tests tests
# The release build with the three jobs linked statically (scripts/build-release).
COPY scripts/build-release scripts/
COPY scripts/lib/static-job-rustc scripts/lib/
RUN scripts/build-release --locked --bins

FROM debian:bookworm-slim
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
COPY --from=build \
    /src/target/release/flow \
    /src/target/release/job-timestamp \
    /src/target/release/job-zscore \
    /src/target/release/job-merge \
    /src/target/release/db-export \
    /usr/local/bin/
ENV FLOW_DIR=/flow
VOLUME /flow
EXPOSE 8000
# The first minute's pass creates the state database /healthz reads, so the
# start period covers it; while the folder cannot be used the check says why.
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
    CMD ["/usr/local/bin/flow-healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/flow-entrypoint"]
