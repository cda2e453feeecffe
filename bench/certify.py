"""``python -m bench.certify``: a live certification timed side by side with canitoolcall.

Against one live server, one after the other: canitoolcall's ``probe`` (a tool-calling
prober, installed in its own venv; not a dependency of this project), then this suite's live
certification of the same server (``pytest --provider P --base-url URL``, results into a
temporary directory). Both wall times, their ratio, the suite's run figures (requests,
shared requests, tokens, from its results file's ``run.stats``) and the machine's load go
into the *Certification time* section of ``reports/performance.md`` (replaced between its
markers; the rest of the file is left alone) and the raw figures into a JSON file.

Goals (issue 15 item 4): the live certification of ``llamacpp-tools`` takes at most 6 min on
a quiet machine and at most 1.5x canitoolcall's probe of the same server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["BEGIN", "END", "kept_section", "main", "render_section", "write_section"]

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- certify-bench:begin (make bench-certify writes this section) -->"
END = "<!-- certify-bench:end -->"
GOAL_WALL_S = 6 * 60
GOAL_RATIO = 1.5
#: Neither run may take longer than this (a hung server is a failed benchmark, not a hang).
RUN_TIMEOUT_S = 40 * 60
#: Earlier runs of this benchmark (quiet machine, same server and model), oldest first.
BEFORE: tuple[dict[str, Any], ...] = (
    {
        "label": "before (session 5: no sharing, 3 tries, 160-token reasoning checks)",
        "ours_s": 186.0,
        "cani_s": 70.7,
        "items": 75,
    },
    {
        "label": "before suite 0.3.0 (2026-12-02: catalogue order, 300-word cache prefixes, "
        "16-token first-token checks, no shared SDK runs)",
        "ours_s": 335.0,
        "cani_s": 83.5,
        "items": 134,
    },
)


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover - not POSIX
        return float("nan")


def _reachable(base_url: str, timeout: float = 10.0) -> str | None:
    """None when ``GET /models`` answers, else why not."""
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/models", timeout=timeout) as r:
            r.read(1 << 20)
    except OSError as exc:
        return str(exc)
    return None


def _timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    return time.perf_counter() - t0, proc


def run_canitoolcall(exe: str, base_url: str, model: str, work: Path) -> dict[str, Any]:
    out = work / "canitoolcall.json"
    cmd = [exe, "probe", "--base-url", base_url, "--model", model, "--json", str(out)]
    wall, proc = _timed(cmd, work)
    scenarios: int | None = None
    summary: dict[str, int] = {}
    try:
        data = json.loads(out.read_text(encoding="utf-8"))
        items = data.get("outcomes") if isinstance(data, dict) else None
        scenarios = len(items) if isinstance(items, list) else None
        raw = data.get("summary") if isinstance(data, dict) else None
        if isinstance(raw, dict):
            summary = {str(k)[:20]: v for k, v in raw.items() if isinstance(v, int)}
    except (OSError, ValueError):
        pass
    return {
        "wall_s": wall,
        "returncode": proc.returncode,
        "scenarios": scenarios,
        "summary": summary,
    }


def run_ours(
    provider: str, base_url: str, model: str, work: Path, extra: list[str]
) -> dict[str, Any]:
    reports = work / "reports"
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
           "--provider", provider, "--base-url", base_url, "--model", model,
           "--report-dir", str(reports), "--cassette-dir", str(work / "cassettes"),
           *extra]  # fmt: skip
    wall, proc = _timed(cmd, ROOT)
    found = sorted((reports / "results").glob("*.json"))
    stats: dict[str, Any] = {}
    counts: dict[str, int] = {}
    if found:
        data = json.loads(found[0].read_text(encoding="utf-8"))
        stats = dict(data["run"].get("stats") or {})
        for r in data["results"]:
            counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    return {
        "wall_s": wall,
        "returncode": proc.returncode,
        "items": sum(counts.values()),
        "outcomes": counts,
        "stats": stats,
        "tail": proc.stdout[-1500:],
    }


def _verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**MISS**"


def render_section(res: dict[str, Any]) -> str:
    """The markdown between the markers."""
    ours, cani = res["ours"], res["canitoolcall"]
    ratio = ours["wall_s"] / cani["wall_s"] if cani["wall_s"] else float("inf")
    st = ours.get("stats") or {}
    outcomes = ", ".join(f"{n} {k}" for k, n in sorted(ours.get("outcomes", {}).items()))
    cani_said = ", ".join(f"{n} {k}" for k, n in (cani.get("summary") or {}).items())
    lines = [
        BEGIN,
        "## Certification time (live, side by side with canitoolcall)",
        "",
        f"`make bench-certify` on **{res['date']}**: `{res['provider']}` at "
        f"`{res['base_url']}`, model `{res['model']}`; canitoolcall {res['cani_version']} "
        "`probe` first, then this suite's live certification of the same server, one after "
        f"the other. Load average (1 min) {res['load_start']:.2f} at the start, "
        f"{res['load_end']:.2f} at the end; {res['machine']}. The ratio is the result (both "
        "runs share the machine's state); how it is measured: "
        "[docs/performance.md](../docs/performance.md#certification-time).",
        "",
        "| run | suite (s) | checks | canitoolcall probe (s) | ratio |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {b['label']} | {b['ours_s']:.0f} | {b['items']} | {b['cani_s']:.1f} | "
            f"{b['ours_s'] / b['cani_s']:.2f}× |"
            for b in BEFORE
        ),
        f"| this run{_options(res)} | {ours['wall_s']:.0f} | {ours['items']} | "
        f"{cani['wall_s']:.1f} | {ratio:.2f}× |",
        "",
        "| goal | measured | target | result |",
        "|---|---|---|---|",
        f"| live certification wall time | {ours['wall_s']:.0f} s | ≤ {GOAL_WALL_S} s (quiet "
        f"machine) | {_verdict(ours['wall_s'] <= GOAL_WALL_S)} |",
        f"| suite ÷ canitoolcall probe | {ratio:.2f}× | ≤ {GOAL_RATIO}× | "
        f"{_verdict(ratio <= GOAL_RATIO)} |",
        "",
        f"Suite run: {outcomes or 'no results file'}; {st.get('requests', '?')} requests sent, "
        f"{st.get('requests_shared', '?')} more answered by a shared response, "
        f"{st.get('prompt_tokens', '?')} prompt + {st.get('completion_tokens', '?')} generated "
        f"tokens (usage reported by {st.get('requests_with_usage', '?')} requests), "
        f"{st.get('concurrency', 1)} check(s) at once. canitoolcall: "
        f"{cani_said or 'no JSON report'} (an error is a scenario it could not judge: a "
        "server error or its own 60 s request timeout), exit status "
        f"{cani['returncode']}; suite exit status {ours['returncode']} (1 means a MUST check "
        "failed on this server, which is a finding, not a benchmark error).",
        END,
    ]
    return "\n".join(lines) + "\n"


def _options(res: dict[str, Any]) -> str:
    """The suite options the run was given, if any (e.g. ``--concurrency 2``)."""
    extra = " ".join(res.get("pytest_args") or [])
    return f" (`{extra}`)" if extra else ""


def kept_section(path: Path) -> str:
    """The marked section of an existing report ("" if none), to carry over a rewrite."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    start, end = text.find(BEGIN), text.find(END)
    return text[start : end + len(END)] + "\n" if start >= 0 and end > start else ""


def write_section(path: Path, section: str) -> None:
    """Replace the marked section of ``path`` (append it when there is none)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    start, end = text.find(BEGIN), text.find(END)
    if start >= 0 and end > start:
        text = text[:start] + section + text[end + len(END) :].lstrip("\n")
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _cani_version(exe: str) -> str:
    try:
        proc = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return "?"
    text = (proc.stdout or proc.stderr).strip()
    return text.splitlines()[0][:60] if text else "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.certify", description=__doc__.split("\n")[0])
    p.add_argument("--provider", default="llamacpp-tools")
    p.add_argument("--base-url", default="http://127.0.0.1:8092/v1")
    p.add_argument("--model", default="qwen2.5-coder-1.5b")
    p.add_argument("--canitoolcall", default=os.environ.get("CANITOOLCALL", "canitoolcall"),
                   help="the canitoolcall executable (its own venv)")  # fmt: skip
    p.add_argument("--out", type=Path, default=ROOT / "reports" / "performance.md")
    p.add_argument("--json", type=Path, default=ROOT / "build" / "bench" / "certify.json")
    p.add_argument("pytest_args", nargs="*", help="more options for the suite's run")
    a = p.parse_args(argv)
    # canitoolcall runs in a temporary directory: a relative path (the Makefile's) must not
    # be looked up there
    found = shutil.which(a.canitoolcall)
    a.canitoolcall = str(Path(found).resolve()) if found else a.canitoolcall
    why = _reachable(a.base_url)
    if why is not None:
        print(f"bench-certify: cannot reach {a.base_url} ({why}); start it: make server "
              f"PROVIDER={a.provider}", file=sys.stderr)  # fmt: skip
        return 2
    res: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "provider": a.provider,
        "base_url": a.base_url,
        "model": a.model,
        "machine": f"{os.cpu_count()} cores, {platform.platform()}",
        "cani_version": _cani_version(a.canitoolcall),
        "load_start": _load(),
        "pytest_args": list(a.pytest_args),
    }
    with tempfile.TemporaryDirectory(prefix="bench-certify-") as tmp:
        work = Path(tmp)
        try:
            res["canitoolcall"] = run_canitoolcall(a.canitoolcall, a.base_url, a.model, work)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"bench-certify: canitoolcall did not run ({exc})", file=sys.stderr)
            return 2
        try:
            res["ours"] = run_ours(a.provider, a.base_url, a.model, work, a.pytest_args)
        except subprocess.TimeoutExpired as exc:
            print(f"bench-certify: the certification did not finish ({exc})", file=sys.stderr)
            return 2
    res["load_end"] = _load()
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    write_section(a.out, render_section(res))
    ours, cani = res["ours"], res["canitoolcall"]
    print(f"bench-certify: suite {ours['wall_s']:.0f} s ({ours['items']} checks), canitoolcall "
          f"{cani['wall_s']:.1f} s, ratio {ours['wall_s'] / cani['wall_s']:.2f}x; "
          f"{a.out} and {a.json}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
