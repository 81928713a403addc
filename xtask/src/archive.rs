//! One archive per target: a single folder named like the archive, holding the binary, the man
//! page, the completions, the README and the licences (ripgrep's layout).

use crate::assets::{Assets, COMPLETIONS};
use crate::manifest::Package;
use crate::target::Target;
use anyhow::{Context, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// (file on disk, path inside the archive's folder, executable)
type Entry = (PathBuf, String, bool);

pub const LICENCES: [&str; 2] = ["LICENSE-MIT", "LICENSE-APACHE"];

pub fn write(
    package: &Package,
    version: &str,
    target: &Target,
    assets: &Assets,
    out: &Path,
) -> Result<PathBuf> {
    let stem = package.archive_stem(version, &target.triple);
    let path = out.join(format!("{stem}{}", target.archive_suffix()));
    let entries = entries(package, target, assets);
    if target.is_windows() {
        zip(&path, &stem, &entries)?;
    } else {
        tar_gz(&path, &stem, &entries)?;
    }
    Ok(path)
}

fn entries(package: &Package, target: &Target, assets: &Assets) -> Vec<Entry> {
    let mut entries: Vec<Entry> = vec![(
        target.release_binary(&package.name),
        target.binary_name(&package.name),
        true,
    )];
    for doc in ["README.md"].into_iter().chain(LICENCES) {
        entries.push((PathBuf::from(doc), doc.to_string(), false));
    }
    entries.push((assets.man_page(), "doc/rdsiam-helper.1".into(), false));
    for (_, file) in COMPLETIONS {
        entries.push((assets.completion(file), format!("complete/{file}"), false));
    }
    entries
}

/// Deterministic headers (owner 0, a fixed time, mode 0755 or 0644): the same binary gives
/// the same archive and the same sum.
pub fn tar_gz(path: &Path, stem: &str, entries: &[Entry]) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (source, name, _) in entries {
        tar.append_path_with_name(source, format!("{stem}/{name}"))
            .with_context(|| format!("cannot archive {}", source.display()))?;
    }
    tar.into_inner()?.finish()?.sync_all()?;
    Ok(())
}

pub fn zip(path: &Path, stem: &str, entries: &[Entry]) -> Result<()> {
    use zip::write::SimpleFileOptions;
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    for (source, name, executable) in entries {
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(if *executable { 0o755 } else { 0o644 });
        zip.start_file(format!("{stem}/{name}"), options)?;
        let bytes =
            std::fs::read(source).with_context(|| format!("cannot read {}", source.display()))?;
        zip.write_all(&bytes)?;
    }
    zip.finish()?.sync_all()?;
    Ok(())
}
