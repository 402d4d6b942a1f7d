"""A real Keycloak server for tests, from the official distribution on Maven Central.

:func:`fetch` downloads ``org.keycloak:keycloak-quarkus-dist`` once into ``.cache/keycloak/``
(to a temporary name, checked against the ``.sha1`` published next to it, then renamed, so an
interrupted download is never used) and unpacks it there (again under a temporary name).
:class:`KeycloakServer` runs ``kc.sh start-dev`` on a Temurin JDK from ``/usr/lib/jvm``, on a
free loopback port, with the realm files of ``deploy/keycloak/`` imported, a bootstrap admin,
the health endpoints on a free management port and a modest heap; it waits until
``/health/ready`` answers and stops the server (and deletes its files) on :meth:`stop` or at
interpreter exit.

Each server runs from a private home directory under ``/tmp``: the distribution's jars are
hard-linked (or symlinked) from the cache, the small writable parts (``conf``, the Quarkus
build output ``lib/quarkus``, ``data``) are copied, so concurrent servers never write into
the shared cache. The database is Keycloak's in-memory dev database: every start imports
the realm afresh.

``python -m tests.servers.keycloak fetch`` pre-fetches (``tests/run.sh`` calls it);
``python -m tests.servers.keycloak run`` starts a server and prints its URLs until Ctrl-C.

Environment
    ``MOTCUA_KEYCLOAK_DIST_URL`` overrides the download URL (a mirror; ``.sha1`` beside it);
    ``MOTCUA_KEYCLOAK_HOME`` points at an already unpacked distribution (no download);
    ``MOTCUA_JAVA_HOME`` picks the JDK.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Sequence

__all__ = [
    "KEYCLOAK_VERSION",
    "KeycloakError",
    "KeycloakServer",
    "KeycloakUnavailable",
    "RUNTIME_OPTIONS",
    "fetch",
    "find_java_home",
]

REPO = Path(__file__).resolve().parents[2]
KEYCLOAK_VERSION = "26.7.3"
DIST_URL = (
    "https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/"
    f"{KEYCLOAK_VERSION}/keycloak-quarkus-dist-{KEYCLOAK_VERSION}.zip"
)
CACHE_DIR = REPO / ".cache" / "keycloak"
REALM_DIR = REPO / "deploy" / "keycloak"
#: Java majors Keycloak 26.x runs on, best first.
SUPPORTED_JAVA = (25, 21, 17)
JVM_ROOT = Path("/usr/lib/jvm")

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-password-for-tests"


class KeycloakError(RuntimeError):
    """The server could not be fetched, started or used."""


class KeycloakUnavailable(KeycloakError):
    """Java or the distribution is not available here: Keycloak tests cannot run (skip with this reason)."""


# -- the distribution ---------------------------------------------------------------------


def dist_url() -> str:
    return os.environ.get("MOTCUA_KEYCLOAK_DIST_URL", DIST_URL)


def _zip_path(cache: Path) -> Path:
    return cache / f"keycloak-quarkus-dist-{KEYCLOAK_VERSION}.zip"


def _home_path(cache: Path) -> Path:
    return cache / f"keycloak-{KEYCLOAK_VERSION}"


def _sha1_of(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str, dest: Path, *, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
        shutil.copyfileobj(resp, out, length=1 << 20)


def fetch(cache: Path = CACHE_DIR, *, quiet: bool = False, timeout: float = 60) -> Path:
    """Make sure the unpacked distribution is in *cache*; return its home directory.

    Downloads only when the zip is absent; the zip is kept so the cache can be re-unpacked.
    Raises :class:`KeycloakUnavailable` when the download fails or does not match its SHA-1.
    """
    override = os.environ.get("MOTCUA_KEYCLOAK_HOME")
    if override:
        home = Path(override)
        if not (home / "bin" / "kc.sh").is_file():
            raise KeycloakUnavailable(f"$MOTCUA_KEYCLOAK_HOME={override} has no bin/kc.sh")
        return home
    home = _home_path(cache)
    if (home / "bin" / "kc.sh").is_file():
        return home
    cache.mkdir(parents=True, exist_ok=True)
    zip_path = _zip_path(cache)
    url = dist_url()
    if not zip_path.is_file():
        tmp = cache / f".{zip_path.name}.{os.getpid()}.part"
        started = time.monotonic()
        if not quiet:
            print(f"Downloading Keycloak {KEYCLOAK_VERSION} from {url}", file=sys.stderr, flush=True)
        try:
            with urllib.request.urlopen(url + ".sha1", timeout=timeout) as resp:
                expected = resp.read().decode().split()[0].strip().lower()
            if not re.fullmatch(r"[0-9a-f]{40}", expected):
                raise KeycloakUnavailable(f"{url}.sha1 is not a SHA-1: {expected!r}")
            _download(url, tmp, timeout=timeout)
            actual = _sha1_of(tmp)
            if actual != expected:
                raise KeycloakUnavailable(f"{url}: SHA-1 {actual} does not match the published {expected}")
            os.replace(tmp, zip_path)
        except (OSError, urllib.error.URLError) as exc:
            raise KeycloakUnavailable(f"cannot download Keycloak from {url}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        if not quiet:
            print(f"Downloaded in {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache))
    try:
        try:
            with zipfile.ZipFile(zip_path) as zf:
                zf.extractall(staging)
        except (zipfile.BadZipFile, OSError) as exc:
            zip_path.unlink(missing_ok=True)  # corrupt: the next fetch downloads again
            raise KeycloakUnavailable(f"cannot unpack {zip_path}: {exc}") from exc
        (top,) = [p for p in staging.iterdir() if p.is_dir()]
        for script in (top / "bin").glob("*.sh"):
            script.chmod(0o755)  # zipfile does not keep the mode bits
        try:
            os.replace(top, home)
        except OSError:
            if not (home / "bin" / "kc.sh").is_file():  # not unpacked concurrently by someone else
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return home


# -- Java -----------------------------------------------------------------------------------


def _java_major(java: Path) -> int | None:
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2)) if major == 1 and found.group(2) else major


def find_java_home(root: Path = JVM_ROOT) -> Path:
    """The JDK to run Keycloak on: ``$MOTCUA_JAVA_HOME``, else the newest supported Java under
    /usr/lib/jvm (Temurin preferred over other builds of the same major version)."""
    override = os.environ.get("MOTCUA_JAVA_HOME")
    if override:
        if _java_major(Path(override) / "bin" / "java") not in SUPPORTED_JAVA:
            raise KeycloakUnavailable(f"$MOTCUA_JAVA_HOME={override} is not a Java {SUPPORTED_JAVA} JDK")
        return Path(override)
    found: list[tuple[int, bool, Path]] = []
    for home in sorted(root.glob("*")) if root.is_dir() else []:
        java = home / "bin" / "java"
        if home.is_symlink() or not java.is_file():
            continue
        major = _java_major(java)
        if major in SUPPORTED_JAVA:
            found.append((major, "temurin" in home.name, home))
    if not found:
        raise KeycloakUnavailable(
            f"no Java {'/'.join(map(str, SUPPORTED_JAVA))} JDK under {root} "
            "(install e.g. temurin-21-jdk, or set $MOTCUA_JAVA_HOME)"
        )
    return max(found)[2]


# -- the server -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _link_tree(src: Path, dest: Path) -> None:
    """Hard-link every file of *src* into *dest* (read-only use), symlink when linking fails."""
    for dirpath, _dirnames, filenames in os.walk(src):
        target = dest / Path(dirpath).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in filenames:
            try:
                os.link(Path(dirpath) / name, target / name)
            except OSError:
                os.symlink(Path(dirpath) / name, target / name)


#: Options fixed at Keycloak's build step: a server started with the same ones reuses the build.
BUILD_OPTIONS = ("--db=dev-mem", "--health-enabled=true")
#: Run-time options production uses too (deploy/kubernetes/keycloak.yaml sets the same). With
#: brute-force detection on, Keycloak 26 refuses every login of a user while another login of
#: that user is in progress on the same server (``user_temporarily_disabled``), so a person
#: signing in from two devices at once, or a double click, is refused: allow concurrent logins;
#: failures still count, and the identity service throttles failed sign-ins itself.
RUNTIME_OPTIONS = ("--spi-brute-force-protector--default-brute-force-detector--allow-concurrent-requests=true",)


class KeycloakServer:
    """``kc.sh start-dev`` in a private home under /tmp, on free loopback ports.

    ``env`` adds environment variables (e.g. the client secrets the realm file reads through
    ``${...}`` placeholders). The realm files are the ``*.json`` of ``realm_dir``.
    """

    def __init__(
        self,
        *,
        realm_dir: Path = REALM_DIR,
        env: dict[str, str] | None = None,
        heap: str = "-Xms64m -Xmx512m",
        startup_timeout: float = 240.0,
        cache: Path = CACHE_DIR,
    ) -> None:
        self.realm_dir = realm_dir
        self.extra_env = dict(env or {})
        self.heap = heap
        self.startup_timeout = startup_timeout
        self.cache = cache
        self.port = 0
        self.management_port = 0
        self.admin_username = ADMIN_USERNAME
        self.admin_password = ADMIN_PASSWORD
        self.startup_seconds = 0.0
        self._base: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def issuer(self, realm: str = "motcua") -> str:
        return f"{self.url}/realms/{realm}"

    @property
    def log_path(self) -> Path:
        assert self._base is not None
        return self._base / "keycloak.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _built_cache(self) -> Path:
        key = hashlib.sha1(" ".join((KEYCLOAK_VERSION, *BUILD_OPTIONS)).encode()).hexdigest()[:12]
        return self.cache / f"built-{KEYCLOAK_VERSION}-{key}"

    def _prepare_home(self, dist: Path) -> Path:
        """A private home: jars linked from the cache, the writable parts copied."""
        home = self._base / "home"  # type: ignore[operator]
        home.mkdir()
        for name in ("bin", "conf", "themes", "providers"):
            if (dist / name).exists():
                shutil.copytree(dist / name, home / name, symlinks=True)
        (home / "lib").mkdir()
        _link_tree(dist / "lib" / "lib", home / "lib" / "lib")
        shutil.copytree(dist / "lib" / "app", home / "lib" / "app")
        shutil.copy2(dist / "lib" / "quarkus-run.jar", home / "lib" / "quarkus-run.jar")
        built = self._built_cache()
        # A build kept from an earlier start with the same build options skips the ~20 s build.
        shutil.copytree(built if (built / "quarkus-application.dat").is_file() else dist / "lib" / "quarkus",
                        home / "lib" / "quarkus")
        imports = home / "data" / "import"
        imports.mkdir(parents=True)
        for realm in sorted(self.realm_dir.glob("*.json")):
            shutil.copy2(realm, imports / realm.name)
        return home

    def _keep_build(self, home: Path) -> None:
        built = self._built_cache()
        if (built / "quarkus-application.dat").is_file():
            return
        staging = self.cache / f".built-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(home / "lib" / "quarkus", staging)
        try:
            os.replace(staging, built)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # another process kept it first

    def start(self) -> "KeycloakServer":
        if self._proc is not None:
            raise KeycloakError("the server is already started")
        java_home = find_java_home()
        dist = fetch(self.cache, quiet=True)
        self._base = Path(tempfile.mkdtemp(prefix="motcua-keycloak-"))
        atexit.register(self._atexit_stop)
        started = time.monotonic()
        try:
            home = self._prepare_home(dist)
            self.port, self.management_port = _free_port(), _free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith(("KC_", "KEYCLOAK_", "JAVA_OPTS"))}
            env.update({
                "JAVA_HOME": str(java_home),
                "JAVA_OPTS_KC_HEAP": self.heap,
                "KC_BOOTSTRAP_ADMIN_USERNAME": self.admin_username,
                "KC_BOOTSTRAP_ADMIN_PASSWORD": self.admin_password,
                **self.extra_env,
            })
            argv = [
                str(home / "bin" / "kc.sh"), "start-dev", "--import-realm", *BUILD_OPTIONS, *RUNTIME_OPTIONS,
                "--http-host=127.0.0.1", f"--http-port={self.port}",
                f"--http-management-port={self.management_port}",
                "--hostname-strict=false", "--log-level=WARN,org.keycloak.services:INFO",
            ]
            with open(self.log_path, "ab") as log:
                self._proc = subprocess.Popen(
                    argv, cwd=home, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,  # stopped as a group; Ctrl-C in a terminal reaches us
                )
            self._wait_ready()
            self.startup_seconds = time.monotonic() - started
            self._keep_build(home)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + self.startup_timeout
        ready = f"http://127.0.0.1:{self.management_port}/health/ready"
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise KeycloakError(f"Keycloak exited with {self._proc.returncode} while starting; log:\n{self.read_log()}")
            try:
                if httpx.get(ready, timeout=2).status_code == 200:
                    if httpx.get(f"{self.issuer()}/.well-known/openid-configuration", timeout=5).status_code == 200:
                        return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise KeycloakError(f"Keycloak not ready on {self.url} within {self.startup_timeout:.0f}s; "
                                    f"log:\n{self.read_log()}")
            time.sleep(0.5)

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20000:]
        except (OSError, AssertionError):
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM to the server's process group (SIGKILL after 20 s), then delete its files."""
        atexit.unregister(self._atexit_stop)
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)
            except ProcessLookupError:
                pass
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None

    def _atexit_stop(self) -> None:
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass

    def __enter__(self) -> "KeycloakServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


#: Client secrets the test server's realm gets through its ``${...}`` placeholders.
TEST_SECRETS = {
    "MOTCUA_KEYCLOAK_GATEWAY_CLIENT_SECRET": "gateway-secret-for-tests",
    "MOTCUA_KEYCLOAK_ADMIN_CLIENT_SECRET": "identity-admin-secret-for-tests",
    "MOTCUA_KEYCLOAK_COMMUNE_SAIGON_SECRET": "commune-saigon-secret-for-tests",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.servers.keycloak", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download and unpack the distribution into .cache/keycloak (once)")
    sub.add_parser("run", help="start a server with the motcua realm and print its URLs until Ctrl-C")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        try:
            home = fetch()
            java = find_java_home()
        except KeycloakUnavailable as exc:
            print(f"Keycloak tests will not run: {exc}", file=sys.stderr)
            return 1
        print(f"Keycloak {KEYCLOAK_VERSION} in {home}; Java {java}")
        return 0
    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # `kill` (SIGTERM) stops the server as Ctrl-C does

    signal.signal(signal.SIGTERM, interrupted)
    server = KeycloakServer(env=TEST_SECRETS)
    server.start()
    print(f"Keycloak {server.url} (realm issuer {server.issuer()}), admin {server.admin_username}/"
          f"{server.admin_password}, ready in {server.startup_seconds:.1f}s; client secrets {TEST_SECRETS}",
          flush=True)
    try:
        while server.running:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
