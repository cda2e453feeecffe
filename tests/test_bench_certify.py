"""``make bench-certify`` end to end against the reference server on 127.0.0.1, with a
stand-in for canitoolcall (a script that answers like its ``probe --json``): both runs are
timed, the ratio and the suite's run figures land in the marked section of the report, a
second run replaces that section instead of adding one, and ``make bench``'s rewrite of the
report keeps it. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.certify import BEGIN, END, kept_section
from conformance.testing.fakeserver import FakeServer

ROOT = Path(__file__).resolve().parent.parent

FAKE_CANI = """\
import json, sys, time
args = sys.argv[1:]
if args == ["--version"]:
    print("canitoolcall 0.0-test")
    raise SystemExit(0)
out = args[args.index("--json") + 1]
time.sleep(0.2)
json.dump({"summary": {"pass": 2}, "outcomes": [{"status": "pass"}, {"status": "pass"}]},
          open(out, "w"))
"""


def _bench(tmp_path: Path, url: str, cani: Path, report: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(ROOT)
    # from tmp_path, so a relative canitoolcall path (as the Makefile passes) is relative to the
    # caller's directory, not to the bench's own working directory
    return subprocess.run(
        [sys.executable, "-m", "bench.certify", "--provider", "generic", "--base-url", url,
         "--model", "ref-model", "--canitoolcall", str(_relative(cani, tmp_path)),
         "--out", str(report),
         "--json", str(tmp_path / "certify.json"), "--", "--layers", "wire",
         "--checks", "stream.*"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def _relative(path: Path, start: Path) -> Path:
    return path.relative_to(start) if path.is_relative_to(start) else path


def test_bench_certify_writes_the_ratio_into_its_section(tmp_path: Path) -> None:
    cani = tmp_path / "venv" / "bin" / "canitoolcall"
    cani.parent.mkdir(parents=True)
    cani.write_text(f"#!{sys.executable}\n{FAKE_CANI}", encoding="utf-8")
    cani.chmod(0o755)
    report = tmp_path / "performance.md"
    report.write_text("# any_agent performance report\n\nearlier sections\n", encoding="utf-8")
    with FakeServer() as server:
        for _ in range(2):
            proc = _bench(tmp_path, server.base_url, cani, report)
            assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    text = report.read_text(encoding="utf-8")
    assert text.startswith("# any_agent performance report\n\nearlier sections\n")
    assert text.count(BEGIN) == 1
    assert text.count(END) == 1
    assert "## Certification time" in text
    assert "| this run (`--layers wire --checks stream.*`) |" in text  # the options it had
    assert "canitoolcall 0.0-test" in text
    assert "canitoolcall: 2 pass" in text
    res = json.loads((tmp_path / "certify.json").read_text(encoding="utf-8"))
    assert res["canitoolcall"]["scenarios"] == 2
    assert res["ours"]["items"] >= 10
    assert res["ours"]["stats"]["requests_shared"] > 0  # the suite ran live, sharing
    assert f"{res['ours']['wall_s'] / res['canitoolcall']['wall_s']:.2f}×" in text
    assert kept_section(report).startswith(BEGIN)


def test_bench_certify_refuses_an_unreachable_server(tmp_path: Path) -> None:
    proc = _bench(tmp_path, "http://127.0.0.1:9/v1", tmp_path / "none", tmp_path / "p.md")
    assert proc.returncode == 2
    assert "make server PROVIDER=generic" in proc.stderr
    assert not (tmp_path / "p.md").exists()
