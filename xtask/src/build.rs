//! The one release build of a target.

use crate::manifest::Package;
use crate::target::{Target, host_triple};
use anyhow::{Context, Result, bail};
use std::process::Command;

/// `cargo build --release --locked --target T` with the target's link flags. The explicit
/// `--target` keeps RUSTFLAGS off build scripts and proc-macros, which must stay dynamic.
pub fn release(package: &Package, target: &Target) -> Result<()> {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .args(["build", "--release", "--locked", "--package", &package.name])
        .args(["--target", &target.triple])
        .env("RUSTFLAGS", target.rustflags());
    if let Some((key, linker)) = cross_linker(target)? {
        eprintln!("xtask: linking {} with {linker} ({key})", target.triple);
        cargo.env(key, linker);
    }
    eprintln!("xtask: building {}", target.triple);
    let status = cargo.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("the release build for {} failed ({status})", target.triple);
    }
    let binary = target.release_binary(&package.name);
    if !binary.is_file() {
        bail!("the build left no {}", binary.display());
    }
    Ok(())
}

/// A Linux cross build needs the target's C toolchain as linker (Debian and Ubuntu name it
/// `aarch64-linux-gnu-gcc`); a linker set in the environment wins.
fn cross_linker(target: &Target) -> Result<Option<(String, String)>> {
    let key = target.cargo_env("LINKER");
    let host = host_triple()?;
    if !target.is_linux() || std::env::var_os(&key).is_some() || host == target.triple {
        return Ok(None);
    }
    if !host.contains("-linux-") || host.split('-').next() == Some(target.arch()) {
        return Ok(None);
    }
    let gnu = format!("{}-linux-gnu-gcc", target.arch());
    Ok(Some((key, gnu)))
}
