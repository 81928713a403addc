//! `cargo xtask`: the release of rdsiam-helper, from a version to what a person installs.
//!
//! `dist` builds each target once (LTO is slow) and makes everything else from that one binary:
//! the archives, the `.deb` and `.rpm`, and the sums. `recipes` turns a release's sums into the
//! Homebrew formula and the Scoop manifest; `image` puts a Linux binary into a `FROM scratch`
//! image with buildah. Each step calls the real tool (cargo, cargo-deb, cargo-generate-rpm,
//! buildah) and writes formats with their crates (tar, zip, serde_json).

mod archive;
mod assets;
mod build;
// The image is built with buildah, on Linux.
#[cfg(unix)]
mod image;
mod manifest;
mod packages;
mod recipes;
mod sums;
mod target;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Release tooling for rdsiam-helper")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the release binaries and archive each with its man page, completions, README and
    /// licence; write SHA256SUMS over everything in the output folder
    Dist {
        /// The version being released (a tag `v0.1.0` is accepted); must be Cargo.toml's
        #[arg(long)]
        version: Option<String>,
        /// A target triple to build; repeat for more (default: this machine's)
        #[arg(long = "target")]
        targets: Vec<String>,
        /// Also make a .deb (cargo-deb) and an .rpm (cargo-generate-rpm) for each Linux target
        #[arg(long)]
        packages: bool,
        /// Where the release files go
        #[arg(long, default_value = "target/dist")]
        out: PathBuf,
    },
    /// Write SHA256SUMS over the files of a folder (e.g. the archives gathered from CI jobs)
    Sums { dir: PathBuf },
    /// Write the Homebrew formula and the Scoop manifest for the archives a SHA256SUMS names
    Recipes {
        /// The release's SHA256SUMS
        #[arg(long)]
        sums: PathBuf,
        #[arg(long)]
        version: Option<String>,
        #[arg(long, default_value = "target/recipes")]
        out: PathBuf,
    },
    /// Build the container image (FROM scratch: the static binary, a CA bundle, /tmp) with
    /// buildah, and export it as an OCI archive
    Image {
        /// The Linux target whose release binary goes in (built by `dist`)
        #[arg(long, default_value = "x86_64-unknown-linux-gnu")]
        target: String,
        #[arg(long)]
        version: Option<String>,
        /// The public CA bundle for the AWS endpoints (STS, SSO)
        #[arg(long, default_value = "/etc/ssl/certs/ca-certificates.crt")]
        ca_bundle: PathBuf,
        /// The RDS CA bundle (global-bundle.pem), if at hand, for `ca_bundle` in configs
        #[arg(long)]
        rds_ca_bundle: Option<PathBuf>,
        #[arg(long, default_value = "target/image")]
        out: PathBuf,
    },
}

fn main() {
    if let Err(err) = run(Cli::parse().command) {
        eprintln!("xtask: error: {err:#}");
        std::process::exit(1);
    }
}

fn run(command: Command) -> Result<()> {
    let package = manifest::Package::load()?;
    std::env::set_current_dir(manifest::workspace_root())?;
    match command {
        Command::Dist {
            version,
            targets,
            packages,
            out,
        } => {
            let version = package.checked_version(version.as_deref())?;
            let targets = target::parse_all(&targets)?;
            dist(&package, &version, &targets, packages, &out)
        }
        Command::Sums { dir } => sums::write(&dir).map(|_| ()),
        Command::Recipes { sums, version, out } => {
            let version = package.checked_version(version.as_deref())?;
            recipes::write(&package, &version, &sums::read(&sums)?, &out)
        }
        Command::Image {
            target,
            version,
            ca_bundle,
            rds_ca_bundle,
            out,
        } => {
            let version = package.checked_version(version.as_deref())?;
            let target = target::Target::parse(&target)?;
            #[cfg(unix)]
            return image::build(
                &package,
                &version,
                &target,
                &ca_bundle,
                rds_ca_bundle.as_deref(),
                &out,
            );
            #[cfg(not(unix))]
            anyhow::bail!("the image is built with buildah, on Linux")
        }
    }
}

/// Each target is built once; the documents come from the first binary that runs here (they
/// are the same for every target), so a cross build needs no second, native build.
fn dist(
    package: &manifest::Package,
    version: &str,
    targets: &[target::Target],
    packages: bool,
    out: &std::path::Path,
) -> Result<()> {
    std::fs::create_dir_all(out)?;
    for target in targets {
        build::release(package, target)?;
    }
    let assets = assets::generate(package, targets)?;
    for target in targets {
        let path = archive::write(package, version, target, &assets, out)?;
        println!("{}", path.display());
        if packages && target.is_linux() {
            for path in packages::build(target, out)? {
                println!("{}", path.display());
            }
        }
    }
    let sums = sums::write(out)?;
    println!("{}", sums.display());
    Ok(())
}
