"""Collect this machine's package-registry settings (apt and pip) for an image build.

The images are built with the same package sources the host uses: its Debian mirror (for
debootstrap and apt inside the build), its apt ``Acquire::`` settings (proxies, TLS, validity
checks) and its pip configuration (index, proxy, CA bundle, timeouts). Nothing of that is written
into the project: it is read from the host at build time into OUTDIR, whose files
``images/build.sh`` hands to the build as build secrets (``--secret id=FILE,src=OUTDIR/FILE``);
the Dockerfiles mount them in the RUN steps that download (``RUN --mount=type=secret,...``), so
they never end up in an image layer. Without them (a plain ``docker build``) the base image's own
settings apply.

Files (each optional; the secret ids the Dockerfiles use):
``pip.conf`` (``PIP_CONFIG_FILE``), ``pip-cert.pem`` and ``pip-client-cert.pem`` (named by it),
``apt.conf`` (``APT_CONFIG``), ``apt-cainfo.pem`` (named by it), ``debian.sources`` (the host's
Debian mirrors: apt.conf makes apt read it instead of the image's own source lists; mounting it
over the image's file would not do, buildah 1.28 deletes a secret's target file after the step),
``mirror`` (debootstrap only).

    python3 images/registry_config.py OUTDIR            # write OUTDIR/{pip.conf,apt.conf,...}
    python3 images/registry_config.py --mirror          # print the host's Debian mirror URI

Standard library only: it runs with the host's ``python3`` before any virtual environment exists.
"""

from __future__ import annotations

import argparse
import configparser
import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Where a RUN step sees the secrets (the default target of RUN --mount=type=secret).
MOUNT_POINT = "/run/secrets"
RELEASE = "bookworm"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

# The apt settings that say how a registry is reached (never which packages are pinned or kept).
APT_KEY_PREFIXES = (
    "Acquire::http::Proxy",
    "Acquire::https::Proxy",
    "Acquire::ftp::Proxy",
    "Acquire::http::Timeout",
    "Acquire::https::Timeout",
    "Acquire::Retries",
    "Acquire::Check-Valid-Until",
    "Acquire::Check-Date",
    "Acquire::https::CaInfo",
    "Acquire::https::Verify-Peer",
    "Acquire::https::Verify-Host",
)
# pip settings naming files on the host: copied into OUTDIR and rewritten to MOUNT_POINT.
PIP_FILE_KEYS = ("cert", "client-cert")
# pip settings that only make sense on the host (local paths, the host's own pip state).
PIP_HOST_ONLY_KEYS = ("find-links", "cache-dir", "log", "src", "target", "prefix", "root", "user")


class ConfigError(Exception):
    """The host's package-registry configuration cannot be used for a build."""


@dataclass(frozen=True)
class AptSource:
    """One enabled apt source entry (one-line or deb822 format)."""

    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str | None = None


@dataclass(frozen=True)
class DebianMirrors:
    """The host's Debian archive and security archive for RELEASE."""

    archive: str
    security: str | None


def parse_one_line_sources(text: str) -> list[AptSource]:
    """Parse ``sources.list`` format: ``deb [opt=val ...] URI SUITE [COMPONENT...]``."""
    out: list[AptSource] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        signed_by = None
        options = re.match(r"^(\S+)\s+\[([^\]]*)\]\s*(.*)$", line)
        if options:
            kind, opts, rest = options.groups()
            for opt in opts.split():
                key, _, value = opt.partition("=")
                if key == "signed-by":
                    signed_by = value
            words = [kind, *rest.split()]
        else:
            words = line.split()
        if len(words) < 3 or words[0] not in ("deb", "deb-src"):
            continue
        out.append(AptSource((words[0],), (words[1],), (words[2],), tuple(words[3:]), signed_by))
    return out


def parse_deb822_sources(text: str) -> list[AptSource]:
    """Parse the deb822 ``.sources`` format (paragraphs of ``Field: value``; ``Enabled: no`` skips)."""
    out: list[AptSource] = []
    for paragraph in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        current = None
        for raw in paragraph.splitlines():
            if raw.startswith("#"):
                continue
            if raw[:1] in (" ", "\t") and current:
                fields[current] += " " + raw.strip()
                continue
            key, sep, value = raw.partition(":")
            if sep:
                current = key.strip().lower()
                fields[current] = value.strip()
        if not fields.get("uris") or fields.get("enabled", "yes").lower() == "no":
            continue
        out.append(
            AptSource(
                tuple(fields.get("types", "deb").split()),
                tuple(fields["uris"].split()),
                tuple(fields.get("suites", "").split()),
                tuple(fields.get("components", "").split()),
                fields.get("signed-by") or None,
            )
        )
    return out


def host_sources(etc_apt: Path) -> list[AptSource]:
    """Every enabled source apt reads (sources.list, sources.list.d/*.list and *.sources)."""
    out: list[AptSource] = []
    main = etc_apt / "sources.list"
    if main.is_file():
        out.extend(parse_one_line_sources(main.read_text(encoding="utf-8", errors="replace")))
    parts = etc_apt / "sources.list.d"
    for path in sorted(parts.glob("*")) if parts.is_dir() else []:
        text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        if path.suffix == ".list":
            out.extend(parse_one_line_sources(text))
        elif path.suffix == ".sources":
            out.extend(parse_deb822_sources(text))
    return out


def debian_mirrors(sources: Iterable[AptSource], release: str = RELEASE) -> DebianMirrors:
    """The archive serving ``RELEASE main`` and the one serving ``RELEASE-security``."""
    archive = security = None
    for src in sources:
        if "deb" not in src.types or "main" not in src.components:
            continue
        if archive is None and release in src.suites:
            archive = src.uris[0]
        if security is None and f"{release}-security" in src.suites:
            security = src.uris[0]
    if archive is None:
        raise ConfigError(
            f"no enabled apt source serves '{release} main' on this machine "
            "(looked in /etc/apt/sources.list and /etc/apt/sources.list.d); "
            "set DEBIAN_MIRROR to a Debian mirror URI"
        )
    return DebianMirrors(archive, security)


def deb822_for(mirrors: DebianMirrors, release: str = RELEASE) -> str:
    """The ``debian.sources`` a Debian image uses, pointing at the host's mirrors."""
    blocks = [
        f"Types: deb\nURIs: {mirrors.archive}\nSuites: {release} {release}-updates\n"
        f"Components: main\nSigned-By: {DEBIAN_KEYRING}\n"
    ]
    if mirrors.security:
        blocks.append(
            f"Types: deb\nURIs: {mirrors.security}\nSuites: {release}-security\n"
            f"Components: main\nSigned-By: {DEBIAN_KEYRING}\n"
        )
    return "\n".join(blocks)


def parse_apt_config_dump(text: str) -> dict[str, str]:
    """``apt-config dump`` lines (``Key "value";``) as a dict."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r'^(\S+)\s+"(.*)";$', line.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


def apt_settings(dump: dict[str, str]) -> dict[str, str]:
    """The registry-access settings among the host's apt configuration (case-insensitive keys)."""
    prefixes = tuple(p.lower() for p in APT_KEY_PREFIXES)
    return {k: v for k, v in dump.items() if v and k.lower().startswith(prefixes)}


def parse_pip_config_list(text: str) -> dict[str, str]:
    """``pip config list`` output (``section.key='value'``) as one flat dict; env wins over files.

    Only the ``global``, ``install`` and ``download`` sections and pip's environment variables
    (``:env:``) apply to ``pip install``.
    """
    by_origin: dict[str, dict[str, str]] = {"files": {}, "env": {}}
    for line in text.splitlines():
        m = re.match(r"^(:env:|[a-z]+)\.([A-Za-z0-9_-]+)='(.*)'$", line.strip())
        if not m:
            continue
        section, key, value = m.groups()
        if section == ":env:":
            by_origin["env"][key] = value
        elif section in ("global", "install", "download"):
            by_origin["files"][key] = value
    return {**by_origin["files"], **by_origin["env"]}


def pip_conf_for(settings: dict[str, str], outdir: Path) -> tuple[str, list[str]]:
    """A pip.conf for the build (host files copied into OUTDIR) and notes about dropped keys."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser["global"] = {}
    notes: list[str] = []
    for key, value in sorted(settings.items()):
        if key in PIP_HOST_ONLY_KEYS:
            notes.append(f"pip setting {key}={value!r} names a host path: not used in the build")
            continue
        if key in PIP_FILE_KEYS:
            src = Path(value)
            if not src.is_file():
                raise ConfigError(f"pip setting {key}={value!r}: no such file")
            name = f"pip-{key}.pem"
            shutil.copyfile(src, outdir / name)
            value = f"{MOUNT_POINT}/{name}"
        parser["global"][key] = value
    buf = io.StringIO()
    parser.write(buf)
    return buf.getvalue(), notes


def apt_conf_for(settings: dict[str, str], outdir: Path, *, with_sources: bool) -> str:
    """An apt.conf for the build: the host's access settings, and (with_sources) the host's Debian
    mirrors from the mounted ``debian.sources`` instead of the image's own source lists."""
    lines = []
    if with_sources:
        lines += ['Dir::Etc::SourceList "/dev/null";', f'Dir::Etc::SourceParts "{MOUNT_POINT}";']
    for key, value in sorted(settings.items()):
        if key.lower() == "acquire::https::cainfo":
            src = Path(value)
            if not src.is_file():
                raise ConfigError(f"apt setting {key}={value!r}: no such file")
            shutil.copyfile(src, outdir / "apt-cainfo.pem")
            value = f"{MOUNT_POINT}/apt-cainfo.pem"
        lines.append(f'{key} "{value}";')
    return "".join(line + "\n" for line in lines)


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ConfigError(f"{' '.join(cmd)} failed: {exc}") from exc


def host_mirrors() -> DebianMirrors:
    override = os.environ.get("DEBIAN_MIRROR")
    if override:
        return DebianMirrors(override, os.environ.get("DEBIAN_SECURITY_MIRROR") or None)
    return debian_mirrors(host_sources(Path("/etc/apt")))


def write_config(outdir: Path, python: str = "python3") -> list[str]:
    """Write OUTDIR/{pip.conf, apt.conf, debian.sources, mirror}; return notes for the log."""
    outdir.mkdir(parents=True, exist_ok=True)
    for old in outdir.iterdir():
        if old.is_file():
            old.unlink()
    notes: list[str] = []
    try:
        mirrors = host_mirrors()
    except ConfigError as exc:  # e.g. an Ubuntu host building with Docker: the image's own sources
        notes.append(f"{exc}; the images keep their own apt sources")
    else:
        (outdir / "debian.sources").write_text(deb822_for(mirrors))
        (outdir / "mirror").write_text(mirrors.archive + "\n")
    apt_dump = _run(["apt-config", "dump"]) if shutil.which("apt-config") else ""
    settings = apt_settings(parse_apt_config_dump(apt_dump))
    with_sources = (outdir / "debian.sources").is_file()
    (outdir / "apt.conf").write_text(apt_conf_for(settings, outdir, with_sources=with_sources))
    pip_list = _run([python, "-m", "pip", "config", "list"])
    pip_conf, pip_notes = pip_conf_for(parse_pip_config_list(pip_list), outdir)
    (outdir / "pip.conf").write_text(pip_conf)
    return notes + pip_notes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("outdir", nargs="?", type=Path, help="directory to write the configuration into")
    p.add_argument("--mirror", action="store_true", help="print the host's Debian mirror and exit")
    p.add_argument("--python", default="python3", help="the Python whose pip configuration is read")
    args = p.parse_args(argv)
    try:
        if args.mirror:
            print(host_mirrors().archive)
            return 0
        if args.outdir is None:
            p.error("OUTDIR is required (or --mirror)")
        for note in write_config(args.outdir, args.python):
            print(f"registry_config: {note}", file=sys.stderr)
    except ConfigError as exc:
        print(f"registry_config: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
