"""Install the pinned `buf` CLI from the npm registry once, and locate it.

buf ships on npm as ``@bufbuild/buf`` plus one optional dependency per
platform (``@bufbuild/buf-linux-x64`` ...) that holds the real Go binary;
``node_modules/.bin/buf`` is a small Node wrapper around it.  We return the
platform binary when it is there (no Node start-up per call) and fall back to
the wrapper otherwise.

The install goes to ``<repo>/.cache/npm-buf`` and happens only when the
binary of the pinned version is not already there.
"""

from __future__ import annotations

import fcntl
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

BUF_VERSION = "1.75.0"
BUF_NPM_PACKAGE = "@bufbuild/buf"

# tests/contract/buf.py -> parents[2] is the repository root.
REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / ".cache" / "npm-buf"
# buf's own cache (git clones of --against inputs, ...), kept beside ours.
BUF_CACHE_DIR = REPO_ROOT / ".cache" / "buf"

# (sys.platform, machine) -> npm package holding the native binary.
_PLATFORM_PACKAGES = {
    ("linux", "x86_64"): "@bufbuild/buf-linux-x64",
    ("linux", "amd64"): "@bufbuild/buf-linux-x64",
    ("linux", "aarch64"): "@bufbuild/buf-linux-aarch64",
    ("linux", "arm64"): "@bufbuild/buf-linux-aarch64",
    ("linux", "armv7l"): "@bufbuild/buf-linux-armv7",
    ("darwin", "x86_64"): "@bufbuild/buf-darwin-x64",
    ("darwin", "arm64"): "@bufbuild/buf-darwin-arm64",
}

_NPM_TIMEOUT_S = 240


def _candidates(prefix: Path) -> list[Path]:
    found = []
    pkg = _PLATFORM_PACKAGES.get((sys.platform, platform.machine().lower()))
    if pkg is not None:
        found.append(prefix / "node_modules" / pkg / "bin" / "buf")
    found.append(prefix / "node_modules" / ".bin" / "buf")
    return found


def _installed_version(binary: Path) -> str | None:
    try:
        proc = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except OSError:
        return None
    if proc.returncode != 0:
        return None
    # buf prints its version on stdout (older releases used stderr).
    return (proc.stdout.strip() or proc.stderr.strip()) or None


def _find_installed(prefix: Path) -> Path | None:
    for binary in _candidates(prefix):
        if binary.is_file() and os.access(binary, os.X_OK):
            if _installed_version(binary) == BUF_VERSION:
                return binary
    return None


def _npm_install(prefix: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "npm is not on PATH: it is needed to install "
            f"{BUF_NPM_PACKAGE}@{BUF_VERSION} into {prefix}"
        )
    cmd = [
        npm,
        "install",
        "--prefix",
        str(prefix),
        "--no-audit",
        "--no-fund",
        f"{BUF_NPM_PACKAGE}@{BUF_VERSION}",
    ]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=_NPM_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(
            f"`{' '.join(cmd)}` did not finish within {_NPM_TIMEOUT_S} s"
        ) from exc
    if proc.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(cmd)}` failed with exit code {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )


def ensure_buf(prefix: Path = CACHE_DIR) -> Path:
    """Return the path of the pinned buf binary, installing it first if needed.

    Safe to call from several processes at once: the install is serialised
    by a lock file in the cache folder.
    """
    binary = _find_installed(prefix)
    if binary is not None:
        return binary
    prefix.mkdir(parents=True, exist_ok=True)
    with open(prefix / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            binary = _find_installed(prefix)  # another process may have won
            if binary is None:
                _npm_install(prefix)
                binary = _find_installed(prefix)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if binary is None:
        tried = ", ".join(str(p) for p in _candidates(prefix))
        raise RuntimeError(
            f"installed {BUF_NPM_PACKAGE}@{BUF_VERSION} into {prefix}, but no "
            f"working buf {BUF_VERSION} binary was found (tried {tried})"
        )
    return binary


def buf_env() -> dict[str, str]:
    """Environment for running buf: its cache kept under <repo>/.cache."""
    env = dict(os.environ)
    env.setdefault("BUF_CACHE_DIR", str(BUF_CACHE_DIR))
    return env


def run_buf(
    binary: Path, *args: str, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run buf with text errors; return the completed process (never raises
    on a non-zero exit)."""
    return subprocess.run(
        [str(binary), *args],
        cwd=cwd,
        env=buf_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


if __name__ == "__main__":  # `python -m tests.contract.buf` prints the path
    print(ensure_buf())
