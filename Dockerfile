# Sluice in a container: `docker build -t sluice:local .`; compose.yaml runs a whole demo cluster.
# The image runs `sluice` (any subcommand) as an unprivileged user, with /data as its home.

# The web UI (web/ -> web/dist), which the manager embeds in the binary.
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM rust:1-bookworm AS builder
# librdkafka is built from source by rdkafka (its default features: make and a C/C++ compiler,
# zlib; no cmake, no curl); openssl-sys links libssl (MySQL and Redis TLS). The rust image has
# them already; they are listed so that a change of base image fails here, loudly.
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ make pkg-config libssl-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
COPY --from=web /web/dist web/dist
RUN cargo build --release --locked --bin sluice \
    && install -m 0755 target/release/sluice /usr/local/bin/sluice

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --create-home \
        --shell /usr/sbin/nologin sluice
COPY --from=builder /usr/local/bin/sluice /usr/local/bin/sluice
USER sluice
WORKDIR /data
ENTRYPOINT ["sluice"]
CMD ["--help"]
