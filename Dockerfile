# syntax=docker/dockerfile:1
# The kube-oidc-publisher image: the shipped (`dist` profile) binary on distroless, running as a
# numeric non-root user. Build from the repository root:
#   docker build -t registry.example.com/kube-oidc-publisher:0.1.0 .
# CI does not run docker (no engine there); deploy/check.py checks this file instead: the Rust
# version against Cargo.lock, the build command, the runtime libraries against `ldd` of the
# binary, the user against the manifests' runAsUser, the entrypoint against the binary's name.

# The shipped profile, `dist` (Cargo.toml: release + fat LTO, one codegen unit, panic=abort):
# smaller code, so a no-op sync faults in fewer pages (docs/benchmarks.md). Two more settings for
# the shipped binary only, each worth about 1 MiB of a no-op sync's peak RSS (docs/benchmarks.md,
# "Static OpenSSL and packed relocations"): OpenSSL, which only josekit uses, linked statically
# from Debian 12's libssl-dev (only the objects used, no libssl/libcrypto relocations or symbol
# tables at start-up); and packed relative relocations (`-z pack-relative-relocs`, DT_RELR,
# glibc >= 2.36 as in Debian 12): the binary stays position-independent, its 0.9 MB relocation
# table becomes 10 KB. CI tests the faster building `release` profile; the source is the same.
# Bookworm, like the runtime below: glibc is linked dynamically. The Rust version must build
# every locked dependency (some need 1.94.1, more than Cargo.toml's rust-version).
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    OPENSSL_STATIC=1 OPENSSL_LIB_DIR="/usr/lib/$(gcc -print-multiarch)" OPENSSL_INCLUDE_DIR=/usr/include \
    RUSTFLAGS="-C link-arg=-Wl,-z,pack-relative-relocs" \
    cargo build --profile dist --locked --bin kube-oidc-publisher \
    && install -D -m 0755 target/dist/kube-oidc-publisher /out/kube-oidc-publisher

# glibc, libgcc, CA certificates (for the public host's TLS chain and AWS), and a `nonroot`
# user, 65532; nothing else: no shell, no package manager. (Its libssl3 is no longer used.)
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/kube-oidc-publisher /usr/local/bin/kube-oidc-publisher
# Numeric, so that Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kube-oidc-publisher"]
CMD ["--help"]
