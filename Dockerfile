# Slipway's own image: both binaries, on a slim Debian.
#   docker build -t slipway .
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p slipway-api-bin -p slipway-worker-bin \
 && cp target/release/slipway-api target/release/slipway-worker /usr/local/bin/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 git \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/slipway/work /var/lib/slipway/repos
COPY --from=build /usr/local/bin/slipway-api /usr/local/bin/slipway-worker /usr/local/bin/
# git: the API serves pushes, clones and fetches at /git/<app>.git with git's own
# upload-pack and receive-pack.
# Both processes talk to the Docker socket (the worker to build and run, the API for
# /ready), which needs root or the host's docker group; compose runs them as root.
ENV PORT=8080
EXPOSE 8080
CMD ["slipway-api"]
