"""The Keycloak harness fetches safely and picks a supported Java (no Keycloak started here:
the provider tests start the real one)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from tests.servers.keycloak import KEYCLOAK_VERSION, KeycloakUnavailable, fetch, find_java_home


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A local HTTP mirror holding a small distribution zip and its .sha1."""
    root = tmp_path / "mirror"
    root.mkdir()
    archive = root / "dist.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"keycloak-{KEYCLOAK_VERSION}/bin/kc.sh", "#!/bin/sh\necho kc\n")
        zf.writestr(f"keycloak-{KEYCLOAK_VERSION}/lib/lib/main/a.jar", "jar")
    (root / "dist.zip.sha1").write_text(hashlib.sha1(archive.read_bytes()).hexdigest())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("MOTCUA_KEYCLOAK_HOME", raising=False)
    monkeypatch.setenv("MOTCUA_KEYCLOAK_DIST_URL", f"http://127.0.0.1:{server.server_port}/dist.zip")
    yield root
    server.shutdown()


def test_fetch_downloads_checks_and_unpacks_once(mirror, tmp_path):
    cache = tmp_path / "cache"
    home = fetch(cache, quiet=True)
    assert (home / "bin" / "kc.sh").read_text().startswith("#!/bin/sh")
    assert (home / "bin" / "kc.sh").stat().st_mode & 0o111  # executable after unzip
    (mirror / "dist.zip").unlink()  # a second fetch needs nothing from the network
    assert fetch(cache, quiet=True) == home
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_a_download_that_does_not_match_its_sha1_is_never_used(mirror, tmp_path):
    (mirror / "dist.zip.sha1").write_text("0" * 40)
    cache = tmp_path / "cache"
    with pytest.raises(KeycloakUnavailable, match="does not match"):
        fetch(cache, quiet=True)
    assert sorted(p.name for p in cache.iterdir()) == []  # neither the zip nor a partial file


def test_an_unreachable_mirror_is_reported_as_unavailable(tmp_path, monkeypatch):
    monkeypatch.delenv("MOTCUA_KEYCLOAK_HOME", raising=False)
    monkeypatch.setenv("MOTCUA_KEYCLOAK_DIST_URL", "http://127.0.0.1:9/none.zip")
    with pytest.raises(KeycloakUnavailable, match="cannot download"):
        fetch(tmp_path / "cache", quiet=True, timeout=5)


def _fake_jdk(root: Path, name: str, version: str) -> Path:
    java = root / name / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f'#!/bin/sh\necho \'openjdk version "{version}" 2026-01-01\' >&2\n')
    java.chmod(0o755)
    return root / name


def test_the_newest_supported_java_is_chosen(tmp_path, monkeypatch):
    monkeypatch.delenv("MOTCUA_JAVA_HOME", raising=False)
    _fake_jdk(tmp_path, "java-17-openjdk-amd64", "17.0.12")
    _fake_jdk(tmp_path, "java-11-openjdk-amd64", "11.0.2")
    _fake_jdk(tmp_path, "temurin-26-jdk-amd64", "26.0.1")  # not supported by this Keycloak
    newest = _fake_jdk(tmp_path, "temurin-21-jdk-amd64", "21.0.5")
    assert find_java_home(tmp_path) == newest


def test_no_supported_java_is_reported_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.delenv("MOTCUA_JAVA_HOME", raising=False)
    _fake_jdk(tmp_path, "java-11-openjdk-amd64", "11.0.2")
    with pytest.raises(KeycloakUnavailable, match="no Java 25/21/17 JDK"):
        find_java_home(tmp_path)
