# syntax=docker/dockerfile:1
# rdsiam-helper as a container: the proxy sidecar (or any command). FROM scratch, with the same
# root that `cargo xtask image` builds with buildah from the release binary
# (xtask/src/image.rs; keep the two alike):
#   /usr/local/bin/rdsiam-helper                 static glibc, non-PIE (the release's link)
#   /etc/ssl/certs/ca-certificates.crt           public CAs, for the AWS endpoints (STS, SSO)
#   /etc/rdsiam-helper/rds-global-bundle.pem     the RDS CA bundle, for `ca_bundle`
#   /etc/rdsiam-helper/config.toml               mounted by you (a ConfigMap in Kubernetes)
#   /tmp (1777)                                  the token cache (an emptyDir)
# run as user 65532:65532 (distroless's nonroot).
#
#   docker build -t rdsiam-helper .
#   docker run --rm -v ~/.config/rdsiam-helper/config.toml:/etc/rdsiam-helper/config.toml:ro \
#     rdsiam-helper proxy prod --listen 0.0.0.0:5432 --allow-non-loopback

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY xtask ./xtask
COPY src ./src
RUN triple=$(rustc -vV | sed -n 's/^host: //p') \
 && RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
    cargo build --release --locked --package rdsiam-helper --target "$triple" \
 && mkdir -p /root-fs/usr/local/bin /root-fs/etc/ssl/certs /root-fs/etc/rdsiam-helper /root-fs/tmp \
 && chmod 1777 /root-fs/tmp \
 && install -m 0755 "target/$triple/release/rdsiam-helper" /root-fs/usr/local/bin/ \
 && install -m 0644 /etc/ssl/certs/ca-certificates.crt /root-fs/etc/ssl/certs/
ADD --chmod=0644 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /root-fs/etc/rdsiam-helper/rds-global-bundle.pem

FROM scratch
COPY --from=build /root-fs/ /
ENV RDSIAM_HELPER_CONFIG=/etc/rdsiam-helper/config.toml \
    RDSIAM_HELPER_CACHE_DIR=/tmp/rdsiam-helper/cache \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    HOME=/tmp
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/rdsiam-helper"]
CMD ["--help"]
