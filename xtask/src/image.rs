//! The container image, FROM scratch: the static release binary, a CA bundle for the AWS
//! endpoints, an empty /etc/rdsiam-helper for the mounted config, and /tmp for the cache. The
//! Dockerfile assembles the same root. Built with buildah, exported as an OCI archive.

use crate::manifest::Package;
use crate::target::Target;
use anyhow::{Context, Result, bail};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The image's user: distroless's `nonroot`, by number (a scratch image has no /etc/passwd).
pub const USER: &str = "65532:65532";

pub const ENV: [&str; 4] = [
    "RDSIAM_HELPER_CONFIG=/etc/rdsiam-helper/config.toml",
    "RDSIAM_HELPER_CACHE_DIR=/tmp/rdsiam-helper/cache",
    "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
    "HOME=/tmp",
];

pub fn build(
    package: &Package,
    version: &str,
    target: &Target,
    ca_bundle: &Path,
    rds_ca_bundle: Option<&Path>,
    out: &Path,
) -> Result<()> {
    if !target.is_linux() {
        bail!(
            "the image holds a Linux binary; `{}` is not one",
            target.triple
        );
    }
    let binary = target.release_binary(&package.name);
    if !binary.is_file() {
        bail!(
            "no release binary {}; run `cargo xtask dist --target {}` first",
            binary.display(),
            target.triple
        );
    }
    let root = PathBuf::from("target/image-root").join(&target.triple);
    root_folder(&root, &binary, ca_bundle, rds_ca_bundle)?;
    std::fs::create_dir_all(out)?;
    let arch = match target.arch() {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let tag = format!("localhost/{}:{version}-{arch}", package.name);
    let ctr = buildah(&["from", "--arch", arch, "scratch"])?;
    let result = (|| {
        buildah(&["copy", &ctr, &format!("{}/", root.display()), "/"])?;
        let mut config: Vec<String> = vec!["config".into(), "--user".into(), USER.into()];
        for env in ENV {
            config.extend(["--env".into(), env.into()]);
        }
        config.extend([
            "--entrypoint".into(),
            r#"["/usr/local/bin/rdsiam-helper"]"#.into(),
            "--cmd".into(),
            "--help".into(),
            "--label".into(),
            format!("org.opencontainers.image.version={version}"),
            "--label".into(),
            format!("org.opencontainers.image.source={}", package.repository),
            "--label".into(),
            format!("org.opencontainers.image.licenses={}", package.license),
            ctr.clone(),
        ]);
        buildah(&config.iter().map(String::as_str).collect::<Vec<_>>())?;
        buildah(&["commit", "--rm", &ctr, &tag])
    })();
    if result.is_err() {
        let _ = buildah(&["rm", &ctr]);
    }
    result?;
    let archive = out.join(format!("{}-{version}-{arch}.oci.tar", package.name));
    let _ = std::fs::remove_file(&archive);
    buildah(&["push", &tag, &format!("oci-archive:{}", archive.display())])?;
    println!("{tag}\n{}", archive.display());
    Ok(())
}

/// The image's whole file system, laid out in a folder.
fn root_folder(
    root: &Path,
    binary: &Path,
    ca_bundle: &Path,
    rds_ca_bundle: Option<&Path>,
) -> Result<()> {
    if root.exists() {
        std::fs::remove_dir_all(root)?;
    }
    let place = |from: &Path, to: &str, mode: u32| -> Result<()> {
        let dest = root.join(to);
        std::fs::create_dir_all(dest.parent().expect("a path in the root"))?;
        std::fs::copy(from, &dest).with_context(|| format!("cannot copy {}", from.display()))?;
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode))?;
        Ok(())
    };
    place(binary, "usr/local/bin/rdsiam-helper", 0o755)?;
    place(ca_bundle, "etc/ssl/certs/ca-certificates.crt", 0o644)?;
    if let Some(rds) = rds_ca_bundle {
        place(rds, "etc/rdsiam-helper/rds-global-bundle.pem", 0o644)?;
    }
    std::fs::create_dir_all(root.join("etc/rdsiam-helper"))?;
    // The cache lives here: writable by the image's user, sticky like any /tmp.
    std::fs::create_dir_all(root.join("tmp"))?;
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
    Ok(())
}

/// Runs buildah and returns its stdout (the container id for `from`).
fn buildah(args: &[&str]) -> Result<String> {
    let out = Command::new("buildah")
        .args(args)
        .output()
        .context("cannot run buildah (Debian: apt-get install buildah)")?;
    if !out.status.success() {
        bail!(
            "`buildah {}` failed: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
