"""The distribution as a user gets it: ``python -m build`` (what ``make dist`` runs), then the
wheel installed into a fresh virtual environment and used from outside the repository.

The fresh environment gets its dependencies offline: the wheel's ``Requires-Dist`` closure is
repacked into a wheelhouse from the distributions installed in the running environment (the
``.venv`` that ``make install`` made), and ``pip install --no-index --find-links`` installs
from it. The new environment therefore holds the declared dependencies and nothing else, so
an import of an undeclared package fails here. Building the wheel needs ``hatchling`` for the
isolated build (pip's cache or the index).

Deselect with ``-m 'not slow'``.
"""

from __future__ import annotations

import base64
import email.parser
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conformance.harness.recording import Manifest
from conformance.results import load_results, results_filename

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CASSETTES = REPO / "cassettes"
PROVIDER = "llamacpp-tools"  # a provider with a committed recording under cassettes/
SDIST_DOCS = ("README.md", "LICENSE", "CHANGELOG.md", "SECURITY.md")
TIMEOUT = 300


@dataclass(frozen=True)
class Dist:
    wheel: Path
    sdist: Path
    venv: Path
    timings: dict[str, float]

    @property
    def bin(self) -> Path:
        return self.venv / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        return self.bin / ("python.exe" if os.name == "nt" else "python")


def _env(venv: Path | None = None) -> dict[str, str]:
    """The caller's environment without this test session's pytest/Python settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "PYTHON")) and k != "VIRTUAL_ENV"
    }
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        scripts = venv / ("Scripts" if os.name == "nt" else "bin")
        env["PATH"] = os.pathsep.join([str(scripts), env.get("PATH", "")])
    return env


def _run(
    args: Sequence[str | Path], *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env if env is not None else _env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _ok(proc: subprocess.CompletedProcess[str], *codes: int) -> str:
    allowed = codes or (0,)
    assert proc.returncode in allowed, (
        f"{' '.join(proc.args)} exited {proc.returncode}\n"
        f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"
    )
    return proc.stdout


# -- an offline wheelhouse from the running environment ----------------------------------------


def _requirements(texts: Sequence[str], extras: frozenset[str]) -> list[Requirement]:
    """The requirements among ``texts`` whose markers hold here with ``extras`` requested."""
    reqs = []
    for text in texts:
        req = Requirement(text)
        if req.marker is None or any(
            req.marker.evaluate({"extra": e}) for e in (extras or frozenset({""}))
        ):
            reqs.append(req)
    return reqs


def _closure(requires: list[str]) -> dict[str, metadata.Distribution]:
    """Installed distributions that ``requires`` (with markers evaluated here) pulls in."""
    installed: dict[str, metadata.Distribution] = {}
    for d in metadata.distributions():
        if d.metadata["Name"]:
            installed.setdefault(canonicalize_name(d.metadata["Name"]), d)
    needed: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = _requirements(requires, frozenset())
    while todo:
        req = todo.pop()
        name, extras = canonicalize_name(req.name), frozenset(req.extras)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        if name not in installed:
            pytest.fail(f"{req} (a dependency of the wheel) is not installed in {sys.prefix}")
        needed[name] = dist = installed[name]
        todo += _requirements(dist.requires or [], extras)
    return needed


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


_NOT_REPACKED = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"}


def _repack(dist: metadata.Distribution, wheelhouse: Path) -> Path | None:
    """Zip an installed distribution back into a wheel (``None`` if it lacks the metadata)."""
    files = dist.files
    wheel_meta = dist.read_text("WHEEL")
    if not files or not wheel_meta:
        return None
    tags = [ln.split(":", 1)[1].strip() for ln in wheel_meta.splitlines() if ln.startswith("Tag:")]
    info_dirs = {f.parts[0] for f in files if f.parts[0].endswith(".dist-info")}
    if not tags or len(info_dirs) != 1:
        return None
    (info_dir,) = info_dirs
    name = canonicalize_name(dist.metadata["Name"]).replace("-", "_")
    out = wheelhouse / f"{name}-{dist.version}-{tags[0]}.whl"
    record = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for f in files:
            # files outside site-packages (console scripts) are regenerated by pip
            if f.parts[0] == ".." or "__pycache__" in f.parts:
                continue
            if f.parts[0] == info_dir and f.name in _NOT_REPACKED:
                continue
            path = Path(str(dist.locate_file(f)))
            if not path.is_file():
                continue
            data = path.read_bytes()
            arcname = "/".join(f.parts)
            zf.writestr(arcname, data)
            record.append(f"{arcname},{_record_hash(data)},{len(data)}")
        record.append(f"{info_dir}/RECORD,,")
        zf.writestr(f"{info_dir}/RECORD", "\n".join(record) + "\n")
    return out


def _wheel_requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        msg = email.parser.BytesParser().parsebytes(zf.read(meta))
    return msg.get_all("Requires-Dist") or []


# -- the fixture: build, check, install ---------------------------------------------------------


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dist]:
    root = tmp_path_factory.mktemp("packaging")
    timings: dict[str, float] = {}
    t = time.monotonic()
    out = root / "dist"
    _ok(_run([sys.executable, "-m", "build", "--outdir", out, REPO], cwd=root))
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    _ok(_run([sys.executable, "-m", "twine", "check", "--strict", wheel, sdist], cwd=root))
    timings["build + twine check"] = time.monotonic() - t

    t = time.monotonic()
    wheelhouse = root / "wheelhouse"
    wheelhouse.mkdir()
    missing = [
        name
        for name, d in _closure(_wheel_requires(wheel)).items()
        if _repack(d, wheelhouse) is None
    ]
    timings["wheelhouse"] = time.monotonic() - t

    t = time.monotonic()
    venv = root / "venv"
    _ok(_run([sys.executable, "-m", "venv", venv], cwd=root))
    made = Dist(wheel=wheel, sdist=sdist, venv=venv, timings=timings)
    # --no-index unless a dependency could not be repacked (then pip's index/cache supplies it)
    index = [] if missing else ["--no-index"]
    _ok(
        _run(
            [made.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             *index, "--find-links", wheelhouse, wheel],
            cwd=root,
            env=_env(venv),
        )
    )  # fmt: skip
    _ok(_run([made.python, "-m", "pip", "check"], cwd=root, env=_env(venv)))
    timings["venv + install"] = time.monotonic() - t
    yield made
    print("packaging timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))


# -- what ships ---------------------------------------------------------------------------------


def test_wheel_ships_the_suite_rooms(dist: Dist) -> None:
    """The conformance subpackages, its typing marker and the report's assets are in the wheel."""
    with zipfile.ZipFile(dist.wheel) as zf:
        names = set(zf.namelist())
    for name in (
        "conformance/py.typed",
        "conformance/settings.py",
        "conformance/columns.py",
        "conformance/catalogue/checks.py",
        "conformance/catalogue/profiles.py",
        "conformance/checks/_prompts.py",
        "conformance/harness/stream.py",
        "conformance/harness/http.py",
        "conformance/testing/fakeserver.py",
        "conformance/report/assets/matrix.css",
        "conformance/report/assets/matrix.js",
    ):
        assert name in names, name


def test_wheel_contents(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as zf:
        names = zf.namelist()
    assert "any_agent/py.typed" in names
    assert "conformance/plugin.py" in names
    assert "conformance/report/html.py" in names
    tops = {n.split("/", 1)[0] for n in names}
    info = {t for t in tops if t.startswith("any_agent_sdk-") and t.endswith(".dist-info")}
    assert len(info) == 1, tops
    assert tops == {"any_agent", "conformance", *info}, tops
    unwanted = [
        n
        for n in names
        if n.startswith(("tests/", "cassettes/", "reports/", "bench/", "examples/"))
        or Path(n).name.startswith("test_")
        or Path(n).name == "conftest.py"
        or n.endswith((".yaml", ".yml", ".pyc"))
        or "/cassettes/" in n
        or "/results/" in n
    ]
    assert not unwanted, unwanted
    with zipfile.ZipFile(dist.wheel) as zf:
        (ep,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = zf.read(ep).decode()
    assert "any_agent_conformance = conformance.plugin" in entry_points
    assert "any-agent-conformance = conformance.cli:main" in entry_points


def test_sdist_contents(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as tf:
        names = [n.split("/", 1)[1] for n in tf.getnames() if "/" in n]
    for doc in SDIST_DOCS:
        assert doc in names, f"{doc} missing from {dist.sdist.name}"
    assert "any_agent/py.typed" in names
    shipped_recordings = [
        n for n in names if n.startswith(("cassettes/", "reports/", ".ci/", "scripts/"))
    ]
    assert not shipped_recordings, shipped_recordings


# -- the installed wheel, used from outside the repository -------------------------------------


def test_installed_wheel_is_what_imports(dist: Dist, tmp_path: Path) -> None:
    code = (
        "import any_agent, conformance, importlib.resources as r; "
        "print(any_agent.__file__); print(conformance.__file__); "
        "print(r.files('any_agent').joinpath('py.typed').is_file())"
    )
    out = _ok(_run([dist.python, "-c", code], cwd=tmp_path, env=_env(dist.venv))).split()
    assert all(Path(p).resolve().is_relative_to(dist.venv.resolve()) for p in out[:2]), out
    assert out[2] == "True"


def test_installed_plugin_replays_a_committed_recording(dist: Dist, tmp_path: Path) -> None:
    manifests = sorted((CASSETTES / PROVIDER).glob("*/manifest.json"))
    assert manifests, f"no committed recording under {CASSETTES / PROVIDER}"
    manifest = Manifest.load(manifests[0])
    work, reports = tmp_path / "elsewhere", tmp_path / "reports"
    work.mkdir()
    assert not work.resolve().is_relative_to(REPO)
    t = time.monotonic()
    # ``--opt=value``: a bare path argument would make pytest take the repository (the
    # cassettes' ancestor) as rootdir and read its pyproject.toml
    proc = _run(
        [dist.python, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         f"--provider={PROVIDER}", "--conformance-mode=replay",
         f"--cassette-dir={CASSETTES}", f"--report-dir={reports}"],
        cwd=work,
        env=_env(dist.venv),
    )  # fmt: skip
    dist.timings["replay"] = time.monotonic() - t
    # 1 = a MUST check failed as recorded (a finding about the server), not a harness problem
    _ok(proc, 0, 1)
    out = reports / "results" / results_filename(manifest.provider, manifest.model)
    assert out.is_file(), proc.stdout[-3000:] + proc.stderr[-2000:]
    results = load_results(out).results
    assert results, "the replay ran no checks"
    errors = [f"{r.key}: {r.message}" for r in results if r.outcome == "error"]
    assert not errors, "replay errors:\n" + "\n".join(errors)
    if proc.returncode == 1:
        assert any(r.outcome == "fail" and r.level == "MUST" for r in results), proc.stdout[-3000:]

    t = time.monotonic()
    cli = dist.bin / "any-agent-conformance"
    listing = _ok(_run([cli, "list"], cwd=work, env=_env(dist.venv)))
    assert all(r.check in listing for r in results[:5]), listing[-2000:]
    html_out = tmp_path / "out"
    _ok(
        _run(
            [cli, "matrix", "--results", reports / "results", "--out", html_out],
            cwd=work,
            env=_env(dist.venv),
        )
    )
    dist.timings["cli list + matrix"] = time.monotonic() - t
    written = sorted(p.name for p in html_out.iterdir())
    assert written == ["compatibility.html", "compatibility.json", "compatibility.md"], written
    html = (html_out / "compatibility.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert PROVIDER in html
    assert "<style>" in html
    assert "<script>" in html
    # self-contained: styles and scripts inline, no file next to it that would have to ship
    local = [
        ref
        for ref in re.findall(r'(?:src|href)="([^"]*)"', html)
        if not ref.startswith(("https://", "http://", "#", "mailto:", "data:"))
    ]
    assert not local, local
    doc = json.loads((html_out / "compatibility.json").read_text(encoding="utf-8"))
    assert out.name in doc["sources"]
