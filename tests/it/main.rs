//! The integration tests: one binary, one module per family (as ripgrep's `tests/` is), all
//! driving the built `rdsiam-helper` through the harness in `common/`. Run one family with
//! `cargo test --test it FAMILY::`. They use Unix permissions, signals and the servers' Unix
//! tools throughout, so the binary is built on Unix only.
#![cfg(unix)]

mod common;

mod basics;
mod clients;
mod cold_path;
mod completion;
mod doctor;
mod dsql;
mod edges;
mod hardening;
mod jdbc;
mod login;
mod pgpass;
mod proxy;
// They check Linux artifacts with Linux tools (qemu-user, podman, tar of the Linux archives).
#[cfg(target_os = "linux")]
mod release;
mod reliability;
mod servers_smoke;
mod sso;
// The Windows .exe under Wine (Debian's wine64), next to the Linux binary's tests.
#[cfg(target_os = "linux")]
mod windows;
