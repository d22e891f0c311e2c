"""images/registry_config.py: the host's apt and pip settings, turned into build secrets."""

from __future__ import annotations

import configparser
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "images" / "registry_config.py"


def _load():
    module_spec = importlib.util.spec_from_file_location("registry_config", SCRIPT)
    assert module_spec and module_spec.loader
    module = importlib.util.module_from_spec(module_spec)
    sys.modules["registry_config"] = module  # dataclasses look their module up by name
    module_spec.loader.exec_module(module)
    return module


rc = _load()

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.test/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.test/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://off.test/debian
Suites: bookworm
Components: main
Enabled: no
"""


def test_deb822_paragraphs_comments_and_disabled_entries():
    sources = rc.parse_deb822_sources(DEB822)
    assert [s.uris for s in sources] == [
        ("http://mirror.test/debian",),
        ("http://mirror.test/debian-security",),
    ]
    assert sources[0].suites == ("bookworm", "bookworm-updates")
    assert sources[0].signed_by == "/usr/share/keyrings/debian-archive-keyring.gpg"


def test_one_line_format_with_options_and_comments():
    text = (
        "# a comment\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://a.test/debian bookworm main contrib # tail\n"
        "deb-src http://a.test/debian bookworm main\n"
        "deb http://b.test/debian-security bookworm-security main\n"
        "not a source line\n"
    )
    sources = rc.parse_one_line_sources(text)
    assert sources[0] == rc.AptSource(
        ("deb",), ("http://a.test/debian",), ("bookworm",), ("main", "contrib"), "/k.gpg"
    )
    assert sources[1].types == ("deb-src",)
    assert rc.debian_mirrors(sources) == rc.DebianMirrors(
        "http://a.test/debian", "http://b.test/debian-security"
    )


def test_host_sources_reads_what_apt_reads_and_nothing_else(tmp_path: Path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "extra.list").write_text("deb http://c.test/x stable main\n")
    (tmp_path / "sources.list.d" / "cloud.list.disabled-by-farm").write_text(
        "deb http://d.test/y bookworm main\n"
    )
    sources = rc.host_sources(tmp_path)
    assert {s.uris[0] for s in sources} == {
        "http://mirror.test/debian",
        "http://mirror.test/debian-security",
        "http://c.test/x",
    }
    assert rc.debian_mirrors(sources) == rc.DebianMirrors(
        "http://mirror.test/debian", "http://mirror.test/debian-security"
    )


def test_no_debian_source_is_a_clear_error():
    sources = rc.parse_one_line_sources("deb http://c.test/ubuntu jammy main\n")
    with pytest.raises(rc.ConfigError, match="no enabled apt source serves 'bookworm main'.*DEBIAN_MIRROR"):
        rc.debian_mirrors(sources)


def test_generated_debian_sources_round_trip():
    mirrors = rc.DebianMirrors("http://m.test/debian", "http://m.test/security")
    assert rc.debian_mirrors(rc.parse_deb822_sources(rc.deb822_for(mirrors))) == mirrors
    only_archive = rc.parse_deb822_sources(rc.deb822_for(rc.DebianMirrors("http://m.test/debian", None)))
    assert [s.suites for s in only_archive] == [("bookworm", "bookworm-updates")]


def test_pip_config_env_wins_and_host_paths_are_copied_or_dropped(tmp_path: Path):
    cert = tmp_path / "ca.crt"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    listing = (
        "global.index-url='https://files.test/simple'\n"
        f"global.cert='{tmp_path / 'missing.crt'}'\n"
        f":env:.cert='{cert}'\n"
        ":env:.default-timeout='180'\n"
        ":env:.find-links='/opt/wheels'\n"
        "user.index-url='https://ignored.test/simple'\n"
    )
    settings = rc.parse_pip_config_list(listing)
    assert settings == {
        "index-url": "https://files.test/simple",
        "cert": str(cert),
        "default-timeout": "180",
        "find-links": "/opt/wheels",
    }
    out = tmp_path / "out"
    out.mkdir()
    text, notes = rc.pip_conf_for(settings, out)
    conf = configparser.ConfigParser()
    conf.read_string(text)
    assert dict(conf["global"]) == {
        "cert": "/run/secrets/pip-cert.pem",
        "default-timeout": "180",
        "index-url": "https://files.test/simple",
    }
    assert (out / "pip-cert.pem").read_text() == cert.read_text()
    assert notes == ["pip setting find-links='/opt/wheels' names a host path: not used in the build"]


def test_pip_cert_that_does_not_exist_is_an_error(tmp_path: Path):
    with pytest.raises(rc.ConfigError, match="pip setting cert='/nope.crt': no such file"):
        rc.pip_conf_for({"cert": "/nope.crt"}, tmp_path)


def test_apt_settings_keep_registry_access_only(tmp_path: Path):
    dump = rc.parse_apt_config_dump(
        'Acquire::http::Proxy "http://proxy.test:3128";\n'
        'Acquire::Check-Valid-Until "false";\n'
        'APT::Install-Recommends "1";\n'
        'Acquire::https::Proxy "";\n'
        'Dir::Etc::sourcelist "sources.list";\n'
    )
    settings = rc.apt_settings(dump)
    assert settings == {
        "Acquire::http::Proxy": "http://proxy.test:3128",
        "Acquire::Check-Valid-Until": "false",
    }
    conf = rc.apt_conf_for(settings, tmp_path, with_sources=True).splitlines()
    assert conf == [
        'Dir::Etc::SourceList "/dev/null";',
        'Dir::Etc::SourceParts "/run/secrets";',
        'Acquire::Check-Valid-Until "false";',
        'Acquire::http::Proxy "http://proxy.test:3128";',
    ]
    assert rc.apt_conf_for({}, tmp_path, with_sources=False) == ""


def test_apt_ca_file_is_copied(tmp_path: Path):
    ca = tmp_path / "apt-ca.pem"
    ca.write_text("pem")
    out = tmp_path / "out"
    out.mkdir()
    conf = rc.apt_conf_for({"Acquire::https::CaInfo": str(ca)}, out, with_sources=False)
    assert conf == 'Acquire::https::CaInfo "/run/secrets/apt-cainfo.pem";\n'
    assert (out / "apt-cainfo.pem").read_text() == "pem"


def test_write_config_writes_the_secret_files(tmp_path: Path, monkeypatch):
    outputs = {
        "apt-config": 'Acquire::Retries "3";\n',
        "pip": "global.index-url='https://files.test/simple'\n",
    }
    monkeypatch.setattr(rc, "_run", lambda cmd: outputs["apt-config" if cmd[0] == "apt-config" else "pip"])
    monkeypatch.setattr(rc.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setenv("DEBIAN_MIRROR", "http://m.test/debian")
    monkeypatch.delenv("DEBIAN_SECURITY_MIRROR", raising=False)
    out = tmp_path / "reg"
    out.mkdir()
    (out / "stale.pem").write_text("old")
    assert rc.write_config(out) == []
    assert sorted(p.name for p in out.iterdir()) == ["apt.conf", "debian.sources", "mirror", "pip.conf"]
    assert (out / "mirror").read_text() == "http://m.test/debian\n"
    assert 'Acquire::Retries "3";' in (out / "apt.conf").read_text()
    assert "index-url = https://files.test/simple" in (out / "pip.conf").read_text()
