#!/usr/bin/env bash
# Keeps the Splunk app's version in step with Cargo.toml (used by package.sh, tested by
# tests/app_conf.rs).
#
#   scripts/app_version.sh cargo-version <Cargo.toml>     print [package] version
#   scripts/app_version.sh build-number <version>         print the app.conf build number
#   scripts/app_version.sh set <app.conf> <version>       write version into [launcher], [id], [install]
#   scripts/app_version.sh set-manifest <app.manifest> <version>   write info.id.version
#
# Invariants: `set` writes exactly the [launcher] version, the [id] version and the [install]
# build, and fails (non-zero, file untouched) when the version is not semver or a setting is missing.
set -euo pipefail

die() { echo "app_version.sh: $*" >&2; exit 1; }

# Semver 2.0: MAJOR.MINOR.PATCH with optional -prerelease and +build (AppInspect checks semver).
SEMVER_RE='^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$'

cargo_version() {
  local manifest=$1 v
  [[ -f $manifest ]] || die "no such file: $manifest"
  # The first `version = "..."` inside [package]; other tables end the search.
  v=$(awk '
    /^\[/ { in_pkg = ($0 ~ /^\[package\][[:space:]]*$/) ; next }
    in_pkg && /^[[:space:]]*version[[:space:]]*=/ {
      line = $0; sub(/^[^=]*=[[:space:]]*"/, "", line); sub(/".*$/, "", line); print line; exit
    }' "$manifest")
  [[ -n $v ]] || die "$manifest: no version = \"...\" in [package]"
  [[ $v =~ $SEMVER_RE ]] || die "$manifest: version '$v' is not semver"
  printf '%s\n' "$v"
}

build_number() {
  local v=$1
  [[ $v =~ $SEMVER_RE ]] || die "version '$v' is not semver"
  # 10#: numbers with leading zeros are not octal.
  printf '%d\n' $(( 10#${BASH_REMATCH[1]} * 1000000 + 10#${BASH_REMATCH[2]} * 1000 + 10#${BASH_REMATCH[3]} ))
}

set_version() {
  local conf=$1 v=$2 build tmp
  [[ -f $conf ]] || die "no such file: $conf"
  build=$(build_number "$v")
  tmp=$(mktemp "${conf}.XXXXXX")
  # Count what was rewritten so a missing setting is an error, not a silent no-op.
  if ! awk -v ver="$v" -v build="$build" '
      /^[[:space:]]*\[/ { sec = $0; gsub(/[[:space:]]/, "", sec) }
      sec == "[launcher]" && /^[[:space:]]*version[[:space:]]*=/ { print "version = " ver; n_l++; next }
      sec == "[id]"       && /^[[:space:]]*version[[:space:]]*=/ { print "version = " ver; n_i++; next }
      sec == "[install]"  && /^[[:space:]]*build[[:space:]]*=/   { print "build = " build; n_b++; next }
      { print }
      END {
        if (n_l != 1) { print "[launcher] version found " n_l+0 " times, expected once" > "/dev/stderr"; exit 1 }
        if (n_i != 1) { print "[id] version found " n_i+0 " times, expected once" > "/dev/stderr"; exit 1 }
        if (n_b != 1) { print "[install] build found " n_b+0 " times, expected once" > "/dev/stderr"; exit 1 }
      }' "$conf" > "$tmp"; then
    rm -f "$tmp"
    die "$conf: cannot set version"
  fi
  chmod --reference="$conf" "$tmp" 2>/dev/null || true
  mv "$tmp" "$conf"
}

set_manifest_version() {
  local manifest=$1 v=$2
  [[ -f $manifest ]] || die "no such file: $manifest"
  [[ $v =~ $SEMVER_RE ]] || die "version '$v' is not semver"
  python3 - "$manifest" "$v" <<'PY' || die "$manifest: cannot set version"
import json, sys
path, version = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as f:
    doc = json.load(f)
ident = doc.get("info", {}).get("id")
if not isinstance(ident, dict) or "version" not in ident:
    sys.exit(f"{path}: no info.id.version")
ident["version"] = version
with open(path + ".tmp", "w", encoding="utf-8") as f:
    f.write(json.dumps(doc, indent=2) + "\n")
PY
  mv "$manifest.tmp" "$manifest"
}

case ${1:-} in
  cargo-version) [[ $# -eq 2 ]] || die "usage: $0 cargo-version <Cargo.toml>"; cargo_version "$2" ;;
  build-number)  [[ $# -eq 2 ]] || die "usage: $0 build-number <version>"; build_number "$2" ;;
  set-manifest)  [[ $# -eq 3 ]] || die "usage: $0 set-manifest <app.manifest> <version>"; set_manifest_version "$2" "$3" ;;
  set)           [[ $# -eq 3 ]] || die "usage: $0 set <app.conf> <version>"; set_version "$2" "$3" ;;
  *) die "usage: $0 cargo-version <Cargo.toml> | build-number <version> | set <app.conf> <version> | set-manifest <app.manifest> <version>" ;;
esac
