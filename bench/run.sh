#!/usr/bin/env bash
# Whole-process benchmark: the cache hit (with a one-connection and a 1,000-connection config)
# against `cat` of the same cache file, cold signings from a static profile and from
# environment credentials, and `aws rds generate-db-auth-token` when installed, side by side
# in one run. Prints a Markdown table (medians, and callgrind instruction counts when valgrind
# is installed: those repeat exactly, where times vary by about 10%) for the README.
#
#   bench/run.sh                 # the release archive's binary for this machine (cargo xtask dist)
#   TARGET=x86_64-unknown-linux-musl bench/run.sh   # the same for another target that runs here
#   ARCHIVE=rdsiam-helper-0.1.0-x86_64-unknown-linux-gnu.tar.gz bench/run.sh   # a downloaded one
#   BIN=target/release/rdsiam-helper bench/run.sh   # or any other build, e.g. the dynamic one
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench needs hyperfine (apt install hyperfine)" >&2; exit 1; }

if [ -z "${BIN:-}" ]; then
  if [ -z "${ARCHIVE:-}" ]; then
    # What a user installs: the release script's archive, built as a tag builds it.
    triple=${TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
    cargo xtask dist --target "$triple" --out "target/bench/$triple" >&2
    ARCHIVE=$(ls "target/bench/$triple"/rdsiam-helper-*-"$triple".tar.gz)
  fi
  unpacked=target/bench/unpacked
  rm -rf "$unpacked" && mkdir -p "$unpacked"
  tar -xzf "$ARCHIVE" -C "$unpacked"
  BIN=$(ls "$unpacked"/*/rdsiam-helper)
  echo "measuring $BIN from $ARCHIVE" >&2
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
# The same connection among 999 others: the hit reads (and validates) the whole file.
big=$work/big.toml
cp "$HOME/.config/rdsiam-helper/config.toml" "$big"
for i in $(seq 1 999); do
  printf '\n[connections.db%d]\nhost = "db%d.cluster-abc123.us-east-1.rds.amazonaws.com"\nuser = "jane_doe"\ndatabase = "app"\naws_profile = "bench"\n' "$i" "$i" >> "$big"
done
export AWS_EC2_METADATA_DISABLED=true
"$BIN" pg prod >/dev/null
cache_file=$(ls "$HOME"/.cache/rdsiam-helper/*.json)
host=prod.cluster-abc123.us-east-1.rds.amazonaws.com
env_creds=(AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY)

hot=cat; big_hit="rdsiam-helper pg prod (cache hit, 1,000 connections)"
hyperfine -N --warmup 100 --runs 3000 --export-json "$work/hot.json" \
  -n cat "cat $cache_file" \
  -n "rdsiam-helper pg prod (cache hit)" "$BIN pg prod" \
  -n "$big_hit" "$BIN --config $big pg prod" >&2
hyperfine -N --warmup 10 --runs 300 --export-json "$work/cold.json" \
  -n "rdsiam-helper pg prod --no-cache (static profile)" "$BIN pg prod --no-cache" >&2
env "${env_creds[@]}" hyperfine -N --warmup 10 --runs 300 --export-json "$work/cold_env.json" \
  -n "rdsiam-helper token --no-cache (environment credentials)" \
  "$BIN token --host $host --user jane_doe --no-cache" >&2
if command -v aws >/dev/null; then
  AWS_PROFILE=bench hyperfine -N --warmup 2 --runs 15 --export-json "$work/aws.json" \
    -n "aws rds generate-db-auth-token" \
    "aws rds generate-db-auth-token --hostname prod.cluster-abc123.us-east-1.rds.amazonaws.com --port 5432 --username jane_doe --region us-east-1" >&2
fi

rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
instructions() {
  command -v valgrind >/dev/null || return 0
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
    sed -n 's/.*refs: *//p' | tr -d ,
}
measure() { echo "$1=$(rss "${@:2}"),$(instructions "${@:2}")"; }
{
  measure "cat" cat "$cache_file"
  measure "rdsiam-helper pg prod (cache hit)" "$BIN" pg prod
  measure "$big_hit" "$BIN" --config "$big" pg prod
  measure "rdsiam-helper pg prod --no-cache (static profile)" "$BIN" pg prod --no-cache
  (export "${env_creds[@]}"
   measure "rdsiam-helper token --no-cache (environment credentials)" \
     "$BIN" token --host $host --user jane_doe --no-cache)
  if command -v aws >/dev/null; then
    AWS_PROFILE=bench measure "aws rds generate-db-auth-token" \
      aws rds generate-db-auth-token --hostname $host --port 5432 --username jane_doe --region us-east-1
  fi
} > "$work/extra.txt"
python3 - "$work" "$BIN" <<'PY'
import json, os, sys
work, binary = sys.argv[1:3]
rows = []
for name in ("hot", "cold", "cold_env", "aws"):
    path = os.path.join(work, name + ".json")
    if os.path.exists(path):
        rows += json.load(open(path))["results"]
extra = dict(line.rstrip("\n").split("=", 1) for line in open(os.path.join(work, "extra.txt")))
cat = next(r for r in rows if r["command"] == "cat")
print("| command | median | ratio to cat | instructions | max RSS |")
print("|---|---|---|---|---|")
for r in rows:
    kib, instr = extra.get(r["command"], ",").split(",")
    mem = f"{int(kib) / 1024:.1f} MiB" if kib.strip() and r["command"] != "cat" else ""
    ins = f"{int(instr) / 1000:,.0f} k" if instr.strip() else ""
    print(f"| {r['command']} | {r['median'] * 1000:.2f} ms | {r['median'] / cat['median']:.2f}x | {ins} | {mem} |")
print(f"\nbinary: {os.path.getsize(binary) / 1e6:.2f} MB ({binary})")
PY
