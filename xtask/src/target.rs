//! The targets a release is built for, and how each is linked.

use anyhow::{Result, bail};

#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub triple: String,
}

/// The triples the release script knows how to link and package. Windows is here so that the
/// workflow only has to enable it once the port (issue 19) is merged.
pub const KNOWN: [&str; 8] = [
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
    "x86_64-pc-windows-gnu",
];

pub fn parse_all(given: &[String]) -> Result<Vec<Target>> {
    if given.is_empty() {
        return Ok(vec![Target::parse(&host_triple()?)?]);
    }
    given.iter().map(|t| Target::parse(t)).collect()
}

/// This machine's target triple, as rustc reports it.
pub fn host_triple() -> Result<String> {
    let out = std::process::Command::new("rustc").arg("-vV").output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.lines().find_map(|l| l.strip_prefix("host: ")) {
        Some(host) => Ok(host.trim().to_string()),
        None => bail!("`rustc -vV` printed no host triple"),
    }
}

impl Target {
    pub fn parse(triple: &str) -> Result<Target> {
        if !KNOWN.contains(&triple) {
            bail!(
                "the target `{triple}` is not one the release is made for; use one of: {}",
                KNOWN.join(", ")
            );
        }
        Ok(Target {
            triple: triple.to_string(),
        })
    }

    pub fn is_linux(&self) -> bool {
        self.triple.contains("-linux-")
    }

    pub fn is_windows(&self) -> bool {
        self.triple.contains("-windows-")
    }

    pub fn arch(&self) -> &str {
        self.triple.split('-').next().unwrap_or_default()
    }

    pub fn exe(&self) -> &'static str {
        if self.is_windows() { ".exe" } else { "" }
    }

    pub fn binary_name(&self, name: &str) -> String {
        format!("{name}{}", self.exe())
    }

    /// Windows users unpack zips; everyone else gets a gzipped tar (cargo-binstall's `tgz`).
    pub fn archive_suffix(&self) -> &'static str {
        if self.is_windows() { ".zip" } else { ".tar.gz" }
    }

    /// How the binary is linked. Linux: statically and not position-independent, the build the
    /// README measures (a cache hit costs fewer instructions than `cat`: no dynamic loader, no
    /// self-relocation). Windows: the C runtime linked in, so no VC++ redistributable is
    /// needed. macOS cannot link libSystem statically, so its default build is used.
    pub fn rustflags(&self) -> &'static str {
        if self.is_linux() {
            "-C target-feature=+crt-static -C relocation-model=static"
        } else if self.triple.ends_with("-windows-msvc") {
            "-C target-feature=+crt-static"
        } else {
            ""
        }
    }

    /// `CARGO_TARGET_<TRIPLE>_<KEY>`: cargo's own per-target settings (LINKER, RUNNER).
    pub fn cargo_env(&self, key: &str) -> String {
        format!(
            "CARGO_TARGET_{}_{key}",
            self.triple.to_uppercase().replace('-', "_")
        )
    }

    pub fn release_binary(&self, name: &str) -> std::path::PathBuf {
        std::path::Path::new("target")
            .join(&self.triple)
            .join("release")
            .join(self.binary_name(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_target_is_refused_with_the_known_ones() {
        let err = Target::parse("riscv64gc-unknown-linux-gnu").unwrap_err();
        assert!(
            err.to_string().contains("x86_64-unknown-linux-gnu"),
            "{err}"
        );
    }

    #[test]
    fn each_platform_gets_its_archive_and_link() {
        let linux = Target::parse("aarch64-unknown-linux-gnu").unwrap();
        assert_eq!(linux.archive_suffix(), ".tar.gz");
        assert!(linux.rustflags().contains("relocation-model=static"));
        assert_eq!(
            linux.cargo_env("LINKER"),
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER"
        );
        let windows = Target::parse("x86_64-pc-windows-msvc").unwrap();
        assert_eq!(windows.archive_suffix(), ".zip");
        assert_eq!(windows.binary_name("rdsiam-helper"), "rdsiam-helper.exe");
        assert_eq!(
            Target::parse("aarch64-apple-darwin").unwrap().rustflags(),
            ""
        );
    }
}
