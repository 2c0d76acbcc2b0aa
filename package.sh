#!/usr/bin/env bash
# Build, package and validate the Splunk app t1651_cloud_admin_command.
#
#   ./package.sh                  build static binaries, package, run every check (the default)
#   ./package.sh --skip-validate  skip slim and AppInspect (quick local runs)
#
# Steps: static musl release build of t1651detect and t1651_cloud_audit -> stage app/ plus the
# binaries in linux_x86_64/bin/ -> version from Cargo.toml into app.conf -> normalise modes ->
# reproducible dist/t1651_cloud_admin_command-<version>.tgz -> archive layout check -> binaries
# static (ldd) -> getinfo / --scheme probes under `env -i` from the unpacked package ->
# `slim validate` and `splunk-appinspect inspect --mode precert --included-tags cloud`.
# Every check runs even when an earlier one failed; the exit status is 1 if any failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
APP_ID=t1651_cloud_admin_command
TARGET=x86_64-unknown-linux-musl
BINS=(t1651detect t1651_cloud_audit)
PLATFORM_BIN=linux_x86_64/bin
# Pinned so a package is judged the same way on every run; override to try newer releases.
APPINSPECT_REQ=${APPINSPECT_REQ:-splunk-appinspect==4.3.1}
SLIM_REQ=${SLIM_REQ:-splunk-packaging-toolkit==1.2.8}

OUT_DIR=$ROOT/dist
SRC_APP=$ROOT/app
BIN_DIR=""
SKIP_BUILD=0
SKIP_VALIDATE=0
SKIP_BINARY_CHECKS=0

usage() {
  cat <<EOF
Usage: $0 [options]
  --skip-validate        skip slim validate and AppInspect
  --skip-binary-checks   skip the ldd and env -i probe checks of the binaries
  --skip-build           do not run cargo; use target/$TARGET/release/
  --bin-dir DIR          take the binaries from DIR instead of building them (implies --skip-build)
  --out-dir DIR          write the archive and reports to DIR (default: dist/)
  --app-dir DIR          package DIR instead of app/ (tests)
  -h, --help             this text
EOF
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --skip-validate) SKIP_VALIDATE=1 ;;
    --skip-binary-checks) SKIP_BINARY_CHECKS=1 ;;
    --skip-build) SKIP_BUILD=1 ;;
    --bin-dir) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; BIN_DIR=$(cd "$2" && pwd); SKIP_BUILD=1; shift ;;
    --app-dir) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; SRC_APP=$(cd "$2" && pwd); shift ;;
    --out-dir) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; mkdir -p "$2"; OUT_DIR=$(cd "$2" && pwd); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "package.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

FAILED=()
SUMMARY=()
log()  { printf '==> %s\n' "$*"; }
ok()   { printf '[ OK ] %s\n' "$*"; }
fail() { printf '[FAIL] %s\n' "$*" >&2; FAILED+=("$1"); }
die()  { printf 'package.sh: %s\n' "$*" >&2; exit 1; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/t1651-package.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- version
VERSION=$("$ROOT/scripts/app_version.sh" cargo-version "$ROOT/Cargo.toml")
TGZ=$OUT_DIR/$APP_ID-$VERSION.tgz
log "$APP_ID $VERSION"

# ---------------------------------------------------------------- build
ensure_musl_toolchain() {
  # Output captured first: with pipefail, `grep -q` closing the pipe early would read as "missing".
  local installed
  installed=$(rustup target list --installed 2>/dev/null || true)
  if ! grep -qx "$TARGET" <<<"$installed"; then
    log "installing Rust target $TARGET"
    rustup target add "$TARGET"
  fi
  # C code in dependencies (e.g. ring) needs a musl C compiler.
  if ! command -v musl-gcc >/dev/null; then
    log "installing musl-tools"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools >/dev/null
  fi
}

if [[ -z $BIN_DIR ]]; then
  BIN_DIR=$ROOT/target/$TARGET/release
  if [[ $SKIP_BUILD -eq 0 ]]; then
    ensure_musl_toolchain
    log "cargo build --release --target $TARGET"
    (cd "$ROOT" && CC_x86_64_unknown_linux_musl=musl-gcc \
      cargo build --release --target "$TARGET" $(printf -- '--bin %s ' "${BINS[@]}"))
  fi
fi
for b in "${BINS[@]}"; do
  [[ -f $BIN_DIR/$b ]] || die "binary $BIN_DIR/$b not found (build it, or pass --bin-dir)"
done

# ---------------------------------------------------------------- stage
STAGE=$WORK/stage
APP_DIR=$STAGE/$APP_ID
log "staging $SRC_APP in $APP_DIR"
[[ -d $SRC_APP/default ]] || die "$SRC_APP/default not found"
# Things AppInspect fails or splunkd mishandles are errors in the source tree, not silently dropped.
[[ ! -e $SRC_APP/local ]] || die "$SRC_APP/local/ exists: settings belong in default/"
links=$(find "$SRC_APP" -type l -print -quit)
[[ -z $links ]] || die "symlinks in $SRC_APP: $links"
junk=$(find "$SRC_APP" \( -name local.meta -o -name '*.pyc' -o -name __pycache__ -o -name passwords.conf \) -print -quit)
[[ -z $junk ]] || die "must not be packaged: $junk"
# Dot-files (editor swap files, .DS_Store) are left out, as slim does, with a warning.
dots=$(cd "$SRC_APP" && find . -mindepth 1 -name '.*' | sed 's|^\./||')
[[ -z $dots ]] || printf 'warning: not packaging dot-files: %s\n' "$(echo "$dots" | tr '\n' ' ')" >&2
mkdir -p "$APP_DIR/$PLATFORM_BIN"
(cd "$SRC_APP" && tar --exclude='.*' -cf - -- *) | tar -C "$APP_DIR" -xf -
for b in "${BINS[@]}"; do cp "$BIN_DIR/$b" "$APP_DIR/$PLATFORM_BIN/$b"; done
"$ROOT/scripts/app_version.sh" set "$APP_DIR/default/app.conf" "$VERSION"
"$ROOT/scripts/app_version.sh" set-manifest "$APP_DIR/app.manifest" "$VERSION"
find "$APP_DIR" -type d -exec chmod 0755 {} +
find "$APP_DIR" -type f -exec chmod 0644 {} +
for b in "${BINS[@]}"; do chmod 0755 "$APP_DIR/$PLATFORM_BIN/$b"; done

# ---------------------------------------------------------------- archive
# Reproducible: sorted names, owner 0, fixed mtime (last commit), gzip without name/timestamp.
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
  SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)
fi
mkdir -p "$OUT_DIR"
rm -f "$TGZ"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" --format=gnu \
  -C "$STAGE" -cf - "$APP_ID" | gzip -n -9 > "$TGZ.tmp"
mv "$TGZ.tmp" "$TGZ"
SUMMARY+=("archive: $TGZ ($(stat -c %s "$TGZ") bytes, sha256 $(sha256sum "$TGZ" | cut -c1-16)...)")
for b in "${BINS[@]}"; do SUMMARY+=("  $PLATFORM_BIN/$b: $(stat -c %s "$APP_DIR/$PLATFORM_BIN/$b") bytes"); done

EXES=()
for b in "${BINS[@]}"; do EXES+=("$PLATFORM_BIN/$b"); done
if out=$(python3 "$ROOT/scripts/check_archive.py" "$TGZ" "$APP_ID" "$VERSION" "${EXES[@]}" 2>&1); then
  ok "archive layout (one top folder, no ./, no dot-files, modes, owner 0, version $VERSION)"
else
  fail "archive-layout" ; printf '%s\n' "$out" >&2
fi

# ---------------------------------------------------------------- binaries
if [[ $SKIP_BINARY_CHECKS -eq 0 ]]; then
  UNPACKED=$WORK/unpacked
  mkdir -p "$UNPACKED"
  tar -C "$UNPACKED" -xzf "$TGZ"
  UAPP=$UNPACKED/$APP_ID
  for b in "${BINS[@]}"; do
    # ldd exits non-zero for static files; its words are what matter.
    lddout=$(ldd "$UAPP/$PLATFORM_BIN/$b" 2>&1 || true)
    if grep -qE 'not a dynamic executable|statically linked' <<<"$lddout"; then
      ok "static binary: $b ($(head -1 <<<"$lddout" | sed 's/^[[:space:]]*//'))"
    else
      fail "static-$b"; printf '       ldd says: %s\n' "$lddout" >&2
    fi
  done
  if out=$(python3 "$ROOT/scripts/probe_binaries.py" getinfo "$UAPP/$PLATFORM_BIN/t1651detect" 2>&1); then
    ok "getinfo probe under env -i from the unpacked package: $out"
  else
    fail "getinfo-probe"; printf '       %s\n' "$out" >&2
  fi
  if out=$(python3 "$ROOT/scripts/probe_binaries.py" scheme "$UAPP/$PLATFORM_BIN/t1651_cloud_audit" \
            "$UAPP/README/inputs.conf.spec" 2>&1); then
    ok "t1651_cloud_audit --scheme under env -i: $out"
  else
    fail "scheme-probe"; printf '       %s\n' "$out" >&2
  fi
else
  log "skipping binary checks (--skip-binary-checks)"
fi

# ---------------------------------------------------------------- validate
ensure_venv() {  # ensure_venv <dir> <requirement> <executable>
  local dir=$1 req=$2 exe=$3
  if [[ ! -x $dir/bin/$exe ]] || ! "$dir/bin/python" -m pip show -q "${req%%[=<>]*}" >/dev/null 2>&1 \
     || { [[ $req == *==* ]] && [[ $("$dir/bin/python" -m pip show "${req%%==*}" 2>/dev/null | sed -n 's/^Version: //p') != "${req##*==}" ]]; }; then
    log "creating $dir with $req"
    python3 -m venv "$dir"
    "$dir/bin/python" -m pip install -q "$req"
  fi
}

if [[ $SKIP_VALIDATE -eq 0 ]]; then
  # python-magic (AppInspect) needs the system libmagic.
  libs=$(ldconfig -p 2>/dev/null || true)
  if ! grep -q 'libmagic\.so\.1' <<<"$libs"; then
    log "installing libmagic1"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmagic1 >/dev/null
  fi
  ensure_venv "$ROOT/.venv-slim" "$SLIM_REQ" slim
  ensure_venv "$ROOT/.venv-appinspect" "$APPINSPECT_REQ" splunk-appinspect

  SLIM_LOG=$OUT_DIR/slim-validate.log
  set +e
  (cd "$WORK" && "$ROOT/.venv-slim/bin/slim" validate "$TGZ") > "$SLIM_LOG" 2>&1
  rc=$?
  set -e
  slim_errors=$(grep -c '\[ERROR\]' "$SLIM_LOG" || true)
  slim_warnings=$(grep -c '\[WARNING\]' "$SLIM_LOG" || true)
  SUMMARY+=("slim validate: rc $rc, $slim_errors errors, $slim_warnings warnings ($SLIM_LOG)")
  if [[ $rc -eq 0 && $slim_errors -eq 0 ]]; then
    ok "slim validate ($slim_warnings warnings)"
    grep '\[WARNING\]' "$SLIM_LOG" | sed 's/^/       /' | head -20 || true
  else
    fail "slim-validate"; grep -E '\[(ERROR|WARNING)\]' "$SLIM_LOG" | sed 's/^/       /' >&2 || tail -20 "$SLIM_LOG" >&2
  fi

  REPORT=$OUT_DIR/appinspect-report.json
  rm -f "$REPORT"
  set +e
  "$ROOT/.venv-appinspect/bin/splunk-appinspect" inspect "$TGZ" --mode precert --included-tags cloud \
    --skip-trusted-libraries-update --data-format json --output-file "$REPORT" --max-messages all \
    > "$OUT_DIR/appinspect.log" 2>&1
  rc=$?
  set -e
  set +e
  out=$(python3 "$ROOT/scripts/appinspect_report.py" "$REPORT" 2>&1)
  prc=$?
  set -e
  printf '%s\n' "$out" | sed 's/^/       /'
  SUMMARY+=("$(head -1 <<<"$out") (rc $rc, $REPORT)")
  if [[ $prc -eq 0 ]]; then
    ok "AppInspect precert, cloud tag: no failures, no errors"
  else
    fail "appinspect"; tail -5 "$OUT_DIR/appinspect.log" >&2
  fi
else
  log "skipping slim and AppInspect (--skip-validate)"
fi

# ---------------------------------------------------------------- summary
echo
echo "Summary"
for line in "${SUMMARY[@]}"; do echo "  $line"; done
if [[ ${#FAILED[@]} -gt 0 ]]; then
  echo "  FAILED steps: ${FAILED[*]}" >&2
  exit 1
fi
echo "  all checks passed"
