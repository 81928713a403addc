#!/bin/sh
# Installs the rdsiam-helper release for this machine: picks the archive for the platform,
# checks it against the release's SHA256SUMS, and only then installs it.
#
#   curl -fsSL https://github.com/rdsiam-helper/rdsiam-helper/releases/latest/download/install.sh | sh
#
# Settings, from the environment:
#   RDSIAM_HELPER_VERSION      the version to install, e.g. 0.1.0 (default: the latest release)
#   RDSIAM_HELPER_INSTALL_DIR  where the binary goes (default: ~/.local/bin)
#   RDSIAM_HELPER_MAN_DIR      where the man page goes (default: ~/.local/share/man)
#   RDSIAM_HELPER_BASE_URL     the folder holding the archives and SHA256SUMS (default: the
#                              GitHub release; any curl URL, e.g. file:///path/to/dist)
set -eu

repo=https://github.com/rdsiam-helper/rdsiam-helper

fail() {
  echo "install.sh: error: $*" >&2
  exit 1
}

# The release's target triple for this machine (the archives are named after it).
platform() {
  case "$(uname -m)" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) fail "no release archive for the processor $(uname -m); build from source: $repo#build-from-source" ;;
  esac
  case "$(uname -s)" in
    Linux) echo "$arch-unknown-linux-gnu" ;;
    Darwin) echo "$arch-apple-darwin" ;;
    *) fail "no release archive for $(uname -s) here; on Windows, see $repo#install" ;;
  esac
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  else
    fail "neither sha256sum nor shasum is installed: cannot check the download"
  fi
}

command -v curl >/dev/null 2>&1 || fail "curl is needed to download the release"
command -v tar >/dev/null 2>&1 || fail "tar is needed to unpack the release"

target=$(platform)
if [ -n "${RDSIAM_HELPER_BASE_URL:-}" ]; then
  base=${RDSIAM_HELPER_BASE_URL%/}
elif [ -n "${RDSIAM_HELPER_VERSION:-}" ]; then
  base="$repo/releases/download/v${RDSIAM_HELPER_VERSION#v}"
else
  base="$repo/releases/latest/download"
fi
bin_dir=${RDSIAM_HELPER_INSTALL_DIR:-$HOME/.local/bin}
man_dir=${RDSIAM_HELPER_MAN_DIR:-$HOME/.local/share/man}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

curl -fsSL "$base/SHA256SUMS" -o "$work/SHA256SUMS" || fail "cannot download $base/SHA256SUMS"
# The one archive for this platform, and its sum, as the release lists them.
line=$(grep -E "^[0-9a-f]{64}  rdsiam-helper-[^ ]+-$target\.tar\.gz\$" "$work/SHA256SUMS" | tail -n 1 || true)
[ -n "$line" ] || fail "the release at $base has no archive for $target"
expected=${line%% *}
archive=${line##* }
curl -fsSL "$base/$archive" -o "$work/$archive" || fail "cannot download $base/$archive"
actual=$(sha256 "$work/$archive")
[ "$actual" = "$expected" ] ||
  fail "$archive does not match SHA256SUMS (expected $expected, got $actual): not installed"

tar -xzf "$work/$archive" -C "$work"
folder="$work/${archive%.tar.gz}"
mkdir -p "$bin_dir" "$man_dir/man1"
# Copied next to the old binary, then renamed over it: a running proxy keeps its old file.
cp "$folder/rdsiam-helper" "$bin_dir/.rdsiam-helper.new"
chmod 755 "$bin_dir/.rdsiam-helper.new"
mv -f "$bin_dir/.rdsiam-helper.new" "$bin_dir/rdsiam-helper"
cp "$folder/doc/rdsiam-helper.1" "$man_dir/man1/rdsiam-helper.1"

echo "installed $("$bin_dir/rdsiam-helper" --version) ($target) in $bin_dir" >&2
case ":$PATH:" in
  *":$bin_dir:"*) ;;
  *) echo "note: $bin_dir is not on your PATH; add it, e.g. in ~/.profile: export PATH=\"$bin_dir:\$PATH\"" >&2 ;;
esac
echo "shell completion: see 'Shell completion and man page' in $repo#readme" >&2
