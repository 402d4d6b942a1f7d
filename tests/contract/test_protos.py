"""Contract checks on proto/: buf lint/build, and no breaking change against
the previous commit's protos (buf `breaking`, FILE rules from proto/buf.yaml).

Which protos count as "previous":
  * proto/ has uncommitted changes (modified, staged or untracked files):
    the working tree is the would-be next commit, so compare it with HEAD;
  * otherwise (CI's clean clone, a developer with everything committed):
    compare HEAD's protos (== the working tree) with HEAD~1's.
A previous commit without proto/ (the commit that introduces the contracts)
has nothing to break: the test then checks that it really has no proto/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.contract.buf import BUF_VERSION, REPO_ROOT, ensure_buf, run_buf

PROTO_DIR = REPO_ROOT / "proto"
PROTO_SUBDIR = "proto"  # proto/ relative to the repository root

GIT_IDENTITY = [
    "-c", "user.name=motcua contract test",
    "-c", "user.email=contract-test@motcua.invalid",
    "-c", "commit.gpgsign=false",
]


@pytest.fixture(scope="module")
def buf() -> Path:
    return ensure_buf()


def _git(*args: str, cwd: Path = REPO_ROOT, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    if check and proc.returncode != 0:
        pytest.fail(
            f"`git {' '.join(args)}` in {cwd} failed ({proc.returncode}):\n"
            f"{proc.stdout}{proc.stderr}"
        )
    return proc


def _commit_of(rev: str, cwd: Path = REPO_ROOT) -> str | None:
    proc = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=cwd, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _has_proto_dir(commit: str, cwd: Path = REPO_ROOT) -> bool:
    out = _git("ls-tree", "-d", "--name-only", commit, "--", PROTO_SUBDIR, cwd=cwd).stdout
    return PROTO_SUBDIR in out.split()


def _git_input(git_dir: Path, commit: str) -> str:
    return f"{git_dir}#format=git,ref={commit},subdir={PROTO_SUBDIR}"


def _report(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit code {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"


def test_buf_is_pinned_version(buf: Path) -> None:
    proc = run_buf(buf, "--version", cwd=REPO_ROOT)
    assert proc.returncode == 0, _report(proc)
    assert (proc.stdout.strip() or proc.stderr.strip()) == BUF_VERSION


def test_protos_pass_buf_lint(buf: Path) -> None:
    assert (PROTO_DIR / "buf.yaml").is_file(), f"{PROTO_DIR}/buf.yaml is missing"
    assert list(PROTO_DIR.rglob("*.proto")), f"no .proto files under {PROTO_DIR}"

    build = run_buf(buf, "build", "--error-format", "text", cwd=PROTO_DIR)
    if build.returncode != 0:
        pytest.fail("buf build failed:\n" + _report(build), pytrace=False)

    lint = run_buf(buf, "lint", "--error-format", "text", cwd=PROTO_DIR)
    if lint.returncode != 0:
        pytest.fail("buf lint found problems:\n" + _report(lint), pytrace=False)


def test_protos_have_no_breaking_change_against_previous_commit(buf: Path) -> None:
    inside = _git("rev-parse", "--is-inside-work-tree", check=False)
    assert inside.returncode == 0 and inside.stdout.strip() == "true", (
        f"{REPO_ROOT} is not a git work tree; cannot find the previous commit's protos"
    )
    head = _commit_of("HEAD")
    assert head is not None, (
        f"{REPO_ROOT} has no commit yet: there is no previous commit to compare proto/ with"
    )
    git_dir = Path(
        _git("rev-parse", "--path-format=absolute", "--git-common-dir").stdout.strip()
    )

    dirty = _git(
        "status", "--porcelain", "--untracked-files=all", "--", PROTO_SUBDIR
    ).stdout.strip()
    if dirty:
        base_name, base = "HEAD (proto/ has uncommitted changes)", head
    else:
        base_name, base = "HEAD~1", _commit_of("HEAD~1")
        if base is None:
            shallow = _git("rev-parse", "--is-shallow-repository").stdout.strip() == "true"
            if shallow:
                pytest.fail(
                    f"this is a shallow clone and the parent of HEAD ({head[:12]}) is not in "
                    "it, so the previous commit's protos are not available. Clone with more "
                    "history (e.g. --depth 2, or `git fetch --deepen=1` while online)."
                )
            # Not shallow and no parent: HEAD is the root commit, there is no
            # previous commit whose protos could be broken.
            parents = _git("rev-list", "--parents", "-n", "1", head).stdout.split()
            assert parents == [head], f"HEAD~1 cannot be resolved, yet HEAD has parents {parents[1:]}"
            return

    if not _has_proto_dir(base):
        # The commit that introduces the contracts: nothing to break.  Double
        # check with the full tree listing that proto/ is really absent.
        names = _git("ls-tree", "--name-only", base).stdout.split()
        assert PROTO_SUBDIR not in names, f"{base_name} lists {PROTO_SUBDIR}/ but not as a directory"
        return

    against = _git_input(git_dir, base)
    proc = run_buf(
        buf, "breaking", PROTO_SUBDIR, "--against", against, "--error-format", "text",
        cwd=REPO_ROOT,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"buf breaking: proto/ breaks the contract of {base_name} = {base[:12]} "
            f"(against {against}):\n" + _report(proc),
            pytrace=False,
        )


# A field line: `[repeated|optional] <type> <name> = <number>;` (enum values
# have no type, map<..> fields are skipped; any plain field will do).
_FIELD_RE = re.compile(
    r"^\s*(?:repeated\s+|optional\s+)?[A-Za-z_][\w.]*\s+(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<num>\d+)\s*[;\[]"
)


def _pick_field_to_delete(proto_root: Path) -> tuple[Path, int, str, str]:
    """(file, line index, field name, field number): preferably `full_name = 4`
    in identity.proto, else the first plain message field found."""
    preferred = proto_root / "motcua" / "v1" / "identity.proto"
    files = [preferred] if preferred.is_file() else []
    files += sorted(p for p in proto_root.rglob("*.proto") if p != preferred)
    for path in files:
        lines = path.read_text().splitlines()
        if path == preferred:
            for i, line in enumerate(lines):
                if line.strip() == "string full_name = 4;":
                    return path, i, "full_name", "4"
        for i, line in enumerate(lines):
            m = _FIELD_RE.match(line)
            if m and not line.lstrip().startswith(("option", "reserved", "//")):
                return path, i, m["name"], m["num"]
    pytest.fail(f"no message field found to delete under {proto_root}")


def test_breaking_change_is_detected(buf: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(PROTO_DIR, repo / PROTO_SUBDIR)
    _git("init", "-q", str(repo), cwd=tmp_path)
    _git("add", "-A", cwd=repo)
    _git(*GIT_IDENTITY, "commit", "-q", "-m", "protos", cwd=repo)
    first = _commit_of("HEAD", cwd=repo)
    assert first is not None
    against = _git_input(repo / ".git", first)

    # Unchanged protos: no breaking change (so the failure below is caused by
    # the deletion, not by the setup).
    same = run_buf(buf, "breaking", PROTO_SUBDIR, "--against", against, cwd=repo)
    assert same.returncode == 0, "unchanged protos reported as breaking:\n" + _report(same)

    path, index, name, number = _pick_field_to_delete(repo / PROTO_SUBDIR)
    lines = path.read_text().splitlines(keepends=True)
    del lines[index]
    path.write_text("".join(lines))

    proc = run_buf(
        buf, "breaking", PROTO_SUBDIR, "--against", against, "--error-format", "text",
        cwd=repo,
    )
    rel = path.relative_to(repo)
    assert proc.returncode != 0, (
        f"deleting field {name} = {number} from {rel} was not reported as breaking:\n"
        + _report(proc)
    )
    assert f'"{name}"' in proc.stdout and f'"{number}"' in proc.stdout, (
        f"buf breaking failed but does not mention field {name} = {number}:\n" + _report(proc)
    )
    assert str(rel) in proc.stdout, _report(proc)
