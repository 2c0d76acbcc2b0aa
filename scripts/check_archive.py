#!/usr/bin/env python3
"""Check a packaged Splunk app archive against the rules AppInspect and splunkd enforce
(used by package.sh; tests/app_package.rs checks the same archive independently).

    check_archive.py <app.tgz> <app_id> <version> <executable>...

Checks: gzip tar; every entry under one top folder named <app_id>; no `./` or absolute or `..`
paths; no dot-files, `local/`, `local.meta`, `*.pyc`, `__pycache__`; only regular files and
directories (no links or devices); owner and group 0; directories 0755, files 0644, the named
executables (paths relative to the app folder) 0755 and x86_64 ELF; the required app files
present; app.conf [launcher] and [id] versions and app.manifest info.id.version equal
<version>.

Exit status 0 when every check passes; 1 with one line per problem otherwise.
Standard library only.
"""

import configparser
import json
import sys
import tarfile

REQUIRED = [
    "app.manifest",
    "README.md",
    "README/inputs.conf.spec",
    "default/app.conf",
    "default/commands.conf",
    "default/searchbnf.conf",
    "default/macros.conf",
    "default/savedsearches.conf",
    "default/transforms.conf",
    "default/inputs.conf",
    "metadata/default.meta",
]
FORBIDDEN_NAMES = {"local", "local.meta", "__pycache__", "passwords.conf"}
ELF_X86_64 = 62


def elf_machine(data):
    """e_machine of a 64-bit little-endian ELF, or None when data is not one."""
    if len(data) < 20 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    return int.from_bytes(data[18:20], "little")


def conf_versions(text):
    # Splunk .conf files allow `#` comments and repeated keys; strict=False tolerates the latter.
    cp = configparser.ConfigParser(interpolation=None, strict=False, comment_prefixes=("#", ";"))
    cp.read_string(text)
    return cp.get("launcher", "version", fallback=None), cp.get("id", "version", fallback=None)


def check(path, app_id, version, executables):
    problems = []
    try:
        tf = tarfile.open(path, "r:gz")
    except (OSError, tarfile.TarError) as e:
        return [f"{path}: not a gzip tar archive: {e}"]
    with tf:
        members = tf.getmembers()
        if not members:
            return [f"{path}: empty archive"]
        names = {}
        for m in members:
            n = m.name
            if n.startswith("./") or n.startswith("/") or n == ".":
                problems.append(f"{n}: entry must not start with './' or '/'")
                continue
            parts = n.rstrip("/").split("/")
            if parts[0] != app_id:
                problems.append(f"{n}: outside the single top folder {app_id}/")
            if ".." in parts:
                problems.append(f"{n}: '..' in path")
            if any(p.startswith(".") for p in parts):
                problems.append(f"{n}: dot-file or dot-directory")
            if any(p in FORBIDDEN_NAMES for p in parts[1:]) or n.endswith(".pyc"):
                problems.append(f"{n}: must not be shipped (local/, local.meta, passwords.conf, *.pyc)")
            if not (m.isfile() or m.isdir()):
                problems.append(f"{n}: not a regular file or directory (links and devices are rejected)")
            if m.uid != 0 or m.gid != 0:
                problems.append(f"{n}: owner {m.uid}:{m.gid}, expected 0:0")
            rel = "/".join(parts[1:])
            mode = m.mode & 0o7777
            if m.isdir():
                want = 0o755
            elif rel in executables:
                want = 0o755
            else:
                want = 0o644
            if mode != want:
                problems.append(f"{n}: mode {mode:04o}, expected {want:04o}")
            names[rel] = m
        if "" not in names:
            problems.append(f"{app_id}/: the top folder has no directory entry")
        for req in REQUIRED + list(executables):
            if req not in names or not names[req].isfile():
                problems.append(f"{app_id}/{req}: missing")
        for exe in executables:
            m = names.get(exe)
            if m is not None and m.isfile():
                head = tf.extractfile(m).read(64)
                machine = elf_machine(head)
                if machine is None:
                    problems.append(f"{app_id}/{exe}: not a 64-bit little-endian ELF file")
                elif machine != ELF_X86_64:
                    problems.append(f"{app_id}/{exe}: ELF machine {machine}, expected x86_64 ({ELF_X86_64})")
        m = names.get("default/app.conf")
        if m is not None and m.isfile():
            text = tf.extractfile(m).read().decode("utf-8", "replace")
            try:
                launcher, ident = conf_versions(text)
            except configparser.Error as e:
                problems.append(f"{app_id}/default/app.conf: cannot parse: {e}")
            else:
                for label, got in (("[launcher] version", launcher), ("[id] version", ident)):
                    if got != version:
                        problems.append(f"{app_id}/default/app.conf: {label} is {got!r}, expected {version!r}")
        m = names.get("app.manifest")
        if m is not None and m.isfile():
            try:
                ident = json.loads(tf.extractfile(m).read().decode("utf-8"))["info"]["id"]
            except (ValueError, KeyError, TypeError) as e:
                problems.append(f"{app_id}/app.manifest: no info.id: {e}")
            else:
                if ident.get("name") != app_id or ident.get("version") != version:
                    problems.append(
                        f"{app_id}/app.manifest: info.id is {ident.get('name')!r} {ident.get('version')!r}, "
                        f"expected {app_id!r} {version!r}")
    return problems


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    problems = check(argv[1], argv[2], argv[3], argv[4:])
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
