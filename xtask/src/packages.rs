//! The Linux packages, made by their tools from the binary `dist` built: cargo-deb and
//! cargo-generate-rpm read `[package.metadata.deb]` and `[package.metadata.generate-rpm]` in
//! Cargo.toml, whose assets are the release binary and `target/assets`.

use crate::target::Target;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn build(target: &Target, out: &Path) -> Result<Vec<PathBuf>> {
    let before = listing(out)?;
    // --no-build: the binary is the one in the archive, not a second build; --no-strip: the
    // release profile strips already, and a cross strip would need the target's binutils.
    run(Command::new("cargo")
        .args([
            "deb",
            "--no-build",
            "--no-strip",
            "--target",
            &target.triple,
        ])
        .arg("--output")
        .arg(out))
    .context("cargo-deb (install it with `cargo install --locked cargo-deb`)")?;
    run(Command::new("cargo")
        .args(["generate-rpm", "--target", &target.triple])
        .arg("--output")
        .arg(out))
    .context("cargo-generate-rpm (install it with `cargo install --locked cargo-generate-rpm`)")?;
    let mut made: Vec<PathBuf> = listing(out)?
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    made.sort();
    Ok(made)
}

fn listing(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::read_dir(dir)?
        .map(|e| Ok(e?.path()))
        .collect::<Result<_>>()
}

fn run(command: &mut Command) -> Result<()> {
    let status = command.status()?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}
