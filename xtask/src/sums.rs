//! SHA256SUMS in the format `sha256sum -c` checks: `<hex>  <file name>`, one line a file.

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub const FILE: &str = "SHA256SUMS";

#[derive(Clone, Debug, PartialEq)]
pub struct Sum {
    pub sha256: String,
    pub file: String,
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Sums every regular file of `dir` but the sums file itself, sorted by name.
pub fn write(dir: &Path) -> Result<PathBuf> {
    let mut names: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file() && name != FILE {
            names.push(name);
        }
    }
    names.sort();
    let mut text = String::new();
    for name in names {
        text.push_str(&format!("{}  {name}\n", sha256_file(&dir.join(&name))?));
    }
    let path = dir.join(FILE);
    std::fs::write(&path, text)?;
    Ok(path)
}

pub fn read(path: &Path) -> Result<Vec<Sum>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&text).with_context(|| format!("{}", path.display()))
}

pub fn parse(text: &str) -> Result<Vec<Sum>> {
    let mut sums = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let Some((hex, file)) = line.split_once("  ") else {
            bail!("line {}: not `<sha256>  <file>`", n + 1);
        };
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("line {}: `{hex}` is not a SHA-256 in hex", n + 1);
        }
        sums.push(Sum {
            sha256: hex.to_ascii_lowercase(),
            file: file.trim_start_matches('*').to_string(),
        });
    }
    Ok(sums)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_sums_read_back_and_match_the_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.tar.gz"), b"bee").unwrap();
        std::fs::write(dir.path().join("a.zip"), b"").unwrap();
        let sums = read(&write(dir.path()).unwrap()).unwrap();
        assert_eq!(sums.len(), 2);
        assert_eq!(sums[0].file, "a.zip");
        // The empty input's SHA-256, from FIPS 180-2's examples.
        assert_eq!(
            sums[0].sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sums[1].sha256,
            sha256_file(&dir.path().join("b.tar.gz")).unwrap()
        );
    }

    #[test]
    fn a_bad_line_is_named() {
        let err = parse("abc  x.tar.gz\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
