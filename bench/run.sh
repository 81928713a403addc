#!/usr/bin/env bash
# Whole-process benchmark: the cache hit against `cat` of the same cache file, a cold signing
# with static credentials, and `aws rds generate-db-auth-token` when installed, side by side in
# one run. Prints a Markdown table (medians) for the README.
#
#   bench/run.sh                 # builds and measures the release binary as shipped
#   BIN=/path/to/binary bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench needs hyperfine (apt install hyperfine)" >&2; exit 1; }

if [ -z "${BIN:-}" ]; then
  # The shipped Linux binary links glibc statically (see "Performance" in the README).
  triple=x86_64-unknown-linux-gnu
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target $triple >&2
  BIN=target/$triple/release/rdsiam-helper
fi
BIN=$(readlink -f "$BIN")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME=$work
mkdir -p "$HOME/.aws" "$HOME/.config/rdsiam-helper"
cat > "$HOME/.aws/credentials" <<'CREDS'
[bench]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
CREDS
cat > "$HOME/.config/rdsiam-helper/config.toml" <<'CONF'
[connections.prod]
host = "prod.cluster-abc123.us-east-1.rds.amazonaws.com"
user = "jane_doe"
database = "app"
aws_profile = "bench"
CONF
export AWS_EC2_METADATA_DISABLED=true
"$BIN" pg prod >/dev/null
cache_file=$(ls "$HOME"/.cache/rdsiam-helper/*.json)

hyperfine -N --warmup 100 --runs 3000 --export-json "$work/hot.json" \
  -n cat "cat $cache_file" \
  -n "rdsiam-helper pg prod (cache hit)" "$BIN pg prod" >&2
hyperfine -N --warmup 10 --runs 300 --export-json "$work/cold.json" \
  -n "rdsiam-helper pg prod --no-cache (static credentials)" "$BIN pg prod --no-cache" >&2
if command -v aws >/dev/null; then
  AWS_PROFILE=bench hyperfine -N --warmup 2 --runs 15 --export-json "$work/aws.json" \
    -n "aws rds generate-db-auth-token" \
    "aws rds generate-db-auth-token --hostname prod.cluster-abc123.us-east-1.rds.amazonaws.com --port 5432 --username jane_doe --region us-east-1" >&2
fi

rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
python3 - "$work" "$BIN" "$(rss "$BIN" pg prod)" "$(rss "$BIN" pg prod --no-cache)" \
  "$(command -v aws >/dev/null && AWS_PROFILE=bench rss aws rds generate-db-auth-token --hostname h.us-east-1.rds.amazonaws.com --port 5432 --username u --region us-east-1 || echo)" <<'PY'
import json, os, sys
work, binary, rss_hot, rss_cold, rss_aws = sys.argv[1:6]
rows = []
for name in ("hot", "cold", "aws"):
    path = os.path.join(work, name + ".json")
    if os.path.exists(path):
        rows += json.load(open(path))["results"]
cat = next(r for r in rows if r["command"] == "cat")
rss = {"rdsiam-helper pg prod (cache hit)": rss_hot,
       "rdsiam-helper pg prod --no-cache (static credentials)": rss_cold,
       "aws rds generate-db-auth-token": rss_aws}
print("| command | median | ratio to cat | max RSS |")
print("|---|---|---|---|")
for r in rows:
    kib = rss.get(r["command"], "")
    mem = f"{int(kib) / 1024:.1f} MiB" if kib.strip() else ""
    print(f"| {r['command']} | {r['median'] * 1000:.2f} ms | {r['median'] / cat['median']:.2f}x | {mem} |")
print(f"\nbinary: {os.path.getsize(binary) / 1e6:.2f} MB ({binary})")
PY
