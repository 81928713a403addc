# syntax=docker/dockerfile:1
# rdsiam-helper as a container: the proxy sidecar (or any command). A static binary on
# distroless, running as a non-root user.
#
#   docker build -t rdsiam-helper .
#   docker run --rm -v ~/.config/rdsiam-helper:/etc/rdsiam-helper:ro rdsiam-helper proxy prod \
#     --listen 0.0.0.0:5432 --allow-non-loopback
#
# Static: Rust on musl (Alpine's default target) links everything, libc included, so the image
# needs no libc. The RDS CA bundle is fetched at build time; point `ca_bundle` at it.

FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked && cp target/release/rdsiam-helper /rdsiam-helper

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /rdsiam-helper /usr/local/bin/rdsiam-helper
ADD --chmod=0444 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /etc/rdsiam-helper/rds-global-bundle.pem
# The config comes from a mount (a ConfigMap in Kubernetes); the token cache lives in a
# writable folder of the non-root user's own (an emptyDir).
ENV RDSIAM_HELPER_CONFIG=/etc/rdsiam-helper/config.toml \
    RDSIAM_HELPER_CACHE_DIR=/tmp/rdsiam-helper/cache
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/rdsiam-helper"]
CMD ["--help"]
