"""``python -m bench.certify``: a live certification timed side by side with canitoolcall.

Against one live server, one after the other: canitoolcall's ``probe`` (a tool-calling
prober, installed in its own venv; not a dependency of this project), then this suite's live
certification of the same server (``pytest --provider P --base-url URL``, results into a
temporary directory). Both wall times, their ratio, the suite's run figures (requests,
shared requests, tokens, from its results file's ``run.stats``) and the machine's load go
into the *Certification time* section of ``reports/performance.md`` (replaced between its
markers; the rest of the file is left alone) and the raw figures into a JSON file. A server
that exposes Prometheus counters (llama-server ``--metrics``: its own prompt and generation
seconds and tokens) is read before and after each run, so the section also says how much of
each wall time the server spent computing: the floor that no client-side saving goes below.

Goals (issue 15 item 4): the live certification of ``llamacpp-tools`` takes at most 6 min on
a quiet machine and at most 1.5x canitoolcall's probe of the same server.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
    {
        "label": "suite 0.3.0 (2026-12-03, the first run after it)",
        "ours_s": 332.0,
        "cani_s": 94.3,
        "items": 134,
    },
    {
        "label": "suite 0.3.0, only session 5's 75 items (2026-12-03, `--checks` with the 62 "
        "ids its results file has)",
        "ours_s": 174.0,
        "cani_s": 100.5,
        "items": 75,
    },
)
#: llama-server's counters (``--metrics``): what the server itself spent, whoever asked.
SERVER_COUNTERS = {
    "prompt_s": "llamacpp:prompt_seconds_total",
    "generate_s": "llamacpp:tokens_predicted_seconds_total",
    "prompt_tokens": "llamacpp:prompt_tokens_total",
    "generated_tokens": "llamacpp:tokens_predicted_total",
}


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
    except (OSError, HTTPException) as exc:  # HTTPException: not HTTP (a status, a header)
        return f"{type(exc).__name__}: {exc}" if isinstance(exc, HTTPException) else str(exc)
    return None


def server_counters(base_url: str, timeout: float = 10.0) -> dict[str, float] | None:
    """The server's own cumulative compute counters (:data:`SERVER_COUNTERS`) from its
    ``/metrics``, or None when it exposes none of them."""
    body = _whole_page(base_url.rstrip("/").removesuffix("/v1") + "/metrics", timeout)
    return None if body is None else parse_counters(body.decode("utf-8", "replace"))


_METRICS_MAX = 1 << 20


def _whole_page(url: str, timeout: float) -> bytes | None:
    """The body of ``GET url`` when the server answers 200 with all of it, at most
    :data:`_METRICS_MAX` bytes, within ``timeout`` seconds in all; else None (not a counter
    page: a cut one could misread a number). The deadline covers the status line and headers
    too, not only each read: a server that trickles any of its answer must not hold the
    benchmark, so at the deadline the socket is shut under the read."""
    deadline = time.monotonic() + timeout
    try:
        parts = urlsplit(url)
        kind = HTTPSConnection if parts.scheme == "https" else HTTPConnection
        conn = kind(parts.hostname or "", parts.port, timeout=timeout)
    except ValueError:
        return None
    late = threading.Event()
    sock: list[socket.socket] = []  # the connection lets go of it once a response reads to EOF

    def cut() -> None:
        late.set()
        with contextlib.suppress(OSError):
            sock[0].shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(0, cut)
    try:
        conn.connect()
        sock.append(conn.sock)
        timer = threading.Timer(max(deadline - time.monotonic(), 0.0), cut)
        timer.daemon = True
        timer.start()
        conn.request("GET", parts.path or "/")
        r = conn.getresponse()
        body = bytearray()
        while chunk := r.read1(64 * 1024):
            body += chunk
            if len(body) > _METRICS_MAX:
                return None
        # ``length`` left over: the connection ended before the body did
        if r.status != 200 or r.length or late.is_set():
            return None
        return bytes(body)
    except (OSError, ValueError, HTTPException):
        return None
    finally:
        timer.cancel()
        conn.close()


def parse_counters(text: str) -> dict[str, float] | None:
    """:data:`SERVER_COUNTERS` from Prometheus text (``name value`` lines), or None when none
    of them is there. A counter is a finite count from 0 up, said once: one that is not (NaN,
    an infinity, a negative number, two lines with it) is not read."""
    wanted = {metric: key for key, metric in SERVER_COUNTERS.items()}
    found: dict[str, float] = {}
    seen: set[str] = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2 or parts[0] not in wanted:
            continue
        key = wanted[parts[0]]
        if key in seen:
            found.pop(key, None)
            continue
        seen.add(key)
        try:
            value = float(parts[1])
        except ValueError:
            continue
        if math.isfinite(value) and value >= 0:
            found[key] = value
    return found or None


def _spent(before: dict[str, float] | None, after: dict[str, float] | None) -> dict[str, float]:
    """What the server's counters grew by between two readings ({} when either is missing,
    or when a counter went down: the server restarted and they began again from 0)."""
    if not before or not after:
        return {}
    spent = {k: after[k] - before[k] for k in after.keys() & before.keys()}
    if not all(v >= 0 for v in spent.values()):  # went down, or not a number
        return {}
    return {k: round(v, 1) for k, v in spent.items()}


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
        "",
        _server_line(cani, ours),
        END,
    ]
    return "\n".join(lines) + "\n"


def _server_line(cani: dict[str, Any], ours: dict[str, Any]) -> str:
    """How much of each wall time the server spent computing, from its own counters."""
    parts = []
    for name, run in (("canitoolcall", cani), ("the suite", ours)):
        got = run.get("server") or {}
        if "prompt_s" not in got or "generate_s" not in got:
            continue
        busy = got["prompt_s"] + got["generate_s"]
        share = f" ({100 * busy / run['wall_s']:.0f} %)" if run["wall_s"] else ""
        parts.append(
            f"{name} {busy:.0f} s of its {run['wall_s']:.0f} s{share}: "
            f"{got.get('prompt_tokens', 0):.0f} prompt tokens prefilled in "
            f"{got['prompt_s']:.0f} s, {got.get('generated_tokens', 0):.0f} generated in "
            f"{got['generate_s']:.0f} s"
        )
    if not parts:
        return (
            "Server compute: not reported (the server has no `/metrics` counters; llama-server "
            "exposes them with `--metrics`, which `make server` passes)."
        )
    return (
        "Server compute (its own `/metrics` counters, read before and after each run): "
        + "; ".join(parts)
        + ". What the server spends computing is the floor of a run's wall time: one slot "
        "computes one request at a time."
    )


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
        counters = server_counters(a.base_url)
        try:
            res["canitoolcall"] = run_canitoolcall(a.canitoolcall, a.base_url, a.model, work)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"bench-certify: canitoolcall did not run ({exc})", file=sys.stderr)
            return 2
        between = server_counters(a.base_url)
        res["canitoolcall"]["server"] = _spent(counters, between)
        try:
            res["ours"] = run_ours(a.provider, a.base_url, a.model, work, a.pytest_args)
        except subprocess.TimeoutExpired as exc:
            print(f"bench-certify: the certification did not finish ({exc})", file=sys.stderr)
            return 2
        res["ours"]["server"] = _spent(between, server_counters(a.base_url))
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
