//! What the release needs from the package's Cargo.toml: its name, version and where it lives.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;

#[derive(serde::Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub description: String,
    pub repository: String,
    pub license: String,
}

#[derive(serde::Deserialize)]
struct Manifest {
    package: Package,
}

/// The workspace root: the folder above xtask/.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ is inside the workspace")
        .to_path_buf()
}

impl Package {
    pub fn load() -> Result<Package> {
        let path = workspace_root().join("Cargo.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let manifest: Manifest =
            toml::from_str(&text).with_context(|| format!("{}: [package]", path.display()))?;
        Ok(manifest.package)
    }

    /// The version to release: Cargo.toml's, which a given version (or tag `vX.Y.Z`) must
    /// equal, since the binary reports Cargo.toml's and the packages are named after it.
    pub fn checked_version(&self, given: Option<&str>) -> Result<String> {
        let Some(given) = given else {
            return Ok(self.version.clone());
        };
        let given = given.strip_prefix('v').unwrap_or(given);
        if given != self.version {
            bail!(
                "the version {given} is not Cargo.toml's {}; set `version = \"{given}\"` in \
                 Cargo.toml (and commit it) before tagging",
                self.version
            );
        }
        Ok(given.to_string())
    }

    /// The download folder of a release on GitHub, as the tag `v{version}` publishes it.
    pub fn download_base(&self, version: &str) -> String {
        format!(
            "{}/releases/download/v{version}",
            self.repository.trim_end_matches('/')
        )
    }

    /// `rdsiam-helper-0.1.0-x86_64-unknown-linux-gnu`: an archive's name without its
    /// extension, and the one folder inside it (cargo-binstall's metadata names the same).
    pub fn archive_stem(&self, version: &str, triple: &str) -> String {
        format!("{}-{version}-{triple}", self.name)
    }
}

#[cfg(test)]
mod tests {
    //! cargo-binstall finds the archives through Cargo.toml's templates: they must expand to
    //! the names `dist` writes, for every target.
    use super::*;
    use crate::target::{KNOWN, Target};

    fn expand(template: &str, package: &Package, triple: &str, target: &Target) -> String {
        template
            .replace("{ repo }", &package.repository)
            .replace("{ version }", &package.version)
            .replace("{ name }", &package.name)
            .replace("{ target }", triple)
            .replace("{ bin }", &package.name)
            .replace("{ binary-ext }", target.exe())
    }

    #[test]
    fn binstall_metadata_names_the_archives_dist_writes() {
        let package = Package::load().unwrap();
        let text = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        let manifest: toml::Value = toml::from_str(&text).unwrap();
        let binstall = &manifest["package"]["metadata"]["binstall"];
        for triple in KNOWN {
            let target = Target::parse(triple).unwrap();
            let setting = |key: &str| {
                binstall
                    .get("overrides")
                    .and_then(|o| o.get(triple))
                    .and_then(|o| o.get(key))
                    .or_else(|| binstall.get(key))
                    .and_then(|v| v.as_str())
                    .unwrap()
                    .to_string()
            };
            let stem = package.archive_stem(&package.version, triple);
            assert_eq!(
                expand(&setting("pkg-url"), &package, triple, &target),
                format!(
                    "{}/{stem}{}",
                    package.download_base(&package.version),
                    target.archive_suffix()
                ),
                "{triple}"
            );
            let format = if target.is_windows() { "zip" } else { "tgz" };
            assert_eq!(setting("pkg-fmt"), format, "{triple}");
            assert_eq!(
                expand(&setting("bin-dir"), &package, triple, &target),
                format!("{stem}/{}", target.binary_name(&package.name))
            );
        }
    }

    #[test]
    fn a_tag_must_match_cargo_toml() {
        let package = Package::load().unwrap();
        let tag = format!("v{}", package.version);
        assert_eq!(
            package.checked_version(Some(&tag)).unwrap(),
            package.version
        );
        let err = package.checked_version(Some("v99.0.0")).unwrap_err();
        assert!(
            err.to_string().contains("set `version = \"99.0.0\"`"),
            "{err}"
        );
    }
}
