# sipbench in a container: `docker build -t sipbench .` (deploy/k8s uses the image `sipbench`).
# Multi-stage: the build needs Rust, a C compiler and OpenSSL's headers (the openssl backend);
# the runtime image holds the binary, OpenSSL's library and the CA roots, and runs as a user
# without privileges.
FROM rust:1-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked && strip target/release/sipbench

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home sipbench
COPY --from=build /src/target/release/sipbench /usr/local/bin/sipbench
USER 10001
ENTRYPOINT ["sipbench"]
CMD ["--help"]
