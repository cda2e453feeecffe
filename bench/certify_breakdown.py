"""``python -m bench.certify_breakdown``: where a live certification's time goes, per check.

From a recorded column (its cassettes and ``manifest.json``), or from a record run this
tool starts against a live server into a temporary directory, one table row per check and
layer and one per area: requests sent, prompt tokens the server processed, prompt tokens it
found in its cache, tokens generated, and the server's own milliseconds (llama-server's
``timings``: ``prompt_ms`` + ``predicted_ms``), plus the check's wall seconds when the run's
results file has them. Tokens come from ``timings`` (``prompt_n``, ``cache_n``,
``predicted_n``) where the server sends them, else from ``usage`` (``prompt_tokens`` minus
``prompt_tokens_details.cached_tokens``, ``completion_tokens``); a response with neither
counts a request and nothing else. Live-only checks keep no cassette: their figures come from
the exchanges the manifest keeps, whose excerpts are cut at 1 KiB, so a long stream's
``timings`` may be missing there ("-").

A record run sends every check its own requests (no sharing between checks): the table is
what each check costs alone, which is what ordering and sharing then cut.

``--prefix-reuse URL`` measures what the run order (``conformance.plan.run_order``) saves on a
server with one slot, without generating anything: it renders each chat request of the column
(in the order of its cassettes) through a llama-server's ``/apply-template`` and ``/tokenize``,
then counts the prompt tokens a one-slot prompt cache (the last prompt kept, the longest
common prefix reused) leaves to prefill, once in catalogue order and once in run order.
Only ``/v1/chat/completions`` requests are counted (the Messages and Responses APIs' prompts
are rendered inside the server and leave the simulated cache as it was), and what a reply
adds to the slot is not modelled.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Cost", "column_costs", "main", "render", "response_cost"]

ROOT = Path(__file__).resolve().parent.parent
#: llama-server's ``timings`` object inside a (possibly cut) excerpt: flat, numbers only.
_TIMINGS = re.compile(r'"timings"\s*:\s*(\{[^{}]*\})')


@dataclass(slots=True)
class Cost:
    """What some requests cost the server; None where no response said."""

    requests: int = 0
    prompt: int | None = None
    cached: int | None = None
    generated: int | None = None
    server_ms: float | None = None
    wall_s: float | None = None

    def add(self, other: Cost) -> None:
        self.requests += other.requests
        self.prompt = _plus(self.prompt, other.prompt)
        self.cached = _plus(self.cached, other.cached)
        self.generated = _plus(self.generated, other.generated)
        self.server_ms = _plus(self.server_ms, other.server_ms)
        self.wall_s = _plus(self.wall_s, other.wall_s)


def _plus(a: Any, b: Any) -> Any:
    if a is None:
        return b
    return a if b is None else a + b


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return float(value)


def _whole(value: Any) -> int | None:
    n = _num(value)
    return None if n is None else int(n)


def _from_counts(found: Mapping[str, Any]) -> Cost:
    """One response's figures from its ``timings`` (preferred) or ``usage``."""
    cost = Cost(requests=1)
    timings, usage = found.get("timings"), found.get("usage")
    if isinstance(timings, Mapping):
        cost.prompt = _whole(timings.get("prompt_n"))
        cost.cached = _whole(timings.get("cache_n"))
        cost.generated = _whole(timings.get("predicted_n"))
        ms = [_num(timings.get("prompt_ms")), _num(timings.get("predicted_ms"))]
        if any(m is not None for m in ms):
            cost.server_ms = sum(m or 0.0 for m in ms)
        return cost
    if isinstance(usage, Mapping):
        prompt = _whole(usage.get("prompt_tokens") or usage.get("input_tokens"))
        details = usage.get("prompt_tokens_details")
        cached = _whole(details.get("cached_tokens")) if isinstance(details, Mapping) else None
        cost.cached = cached
        cost.prompt = None if prompt is None else max(prompt - (cached or 0), 0)
        cost.generated = _whole(usage.get("completion_tokens") or usage.get("output_tokens"))
    return cost


def _json_events(text: str) -> Iterator[Any]:
    """A JSON body, or each ``data:`` line of an SSE body, parsed (what does not parse is
    skipped)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        with contextlib.suppress(ValueError):
            yield json.loads(stripped)
        return
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if '"timings"' not in data and '"usage"' not in data:
            continue
        try:
            yield json.loads(data)
        except ValueError:
            continue


def response_cost(text: str) -> Cost:
    """One response body's cost: the last event that carries ``timings`` or ``usage``."""
    found: Mapping[str, Any] = {}
    for event in _json_events(text):
        if isinstance(event, Mapping) and ("timings" in event or "usage" in event):
            found = event
    if not found:  # an excerpt cut inside its last event may still hold a whole timings
        matches = _TIMINGS.findall(text)
        if matches:
            try:
                found = {"timings": json.loads(matches[-1])}
            except ValueError:
                found = {}
    return _from_counts(found) if found else Cost(requests=1)


def _is_model_request(request: Mapping[str, Any]) -> bool:
    """A generation request (not ``/props``, ``/v1/models``, ``/tokenize``...)."""
    uri = str(request.get("uri") or "")
    return str(request.get("method", "")).upper() == "POST" and not uri.endswith("/tokenize")


def cassette_cost(path: Path) -> Cost:
    """Every generation request a cassette holds."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    total = Cost()
    for interaction in data.get("interactions") or []:
        request = interaction.get("request") or {}
        if not _is_model_request(request):
            continue
        body = ((interaction.get("response") or {}).get("body") or {}).get("string") or ""
        total.add(response_cost(body if isinstance(body, str) else ""))
    return total


def _live_cost(entry: Mapping[str, Any]) -> Cost:
    """A live-only check's figures from the exchanges its manifest entry keeps."""
    evidence = entry.get("evidence") or {}
    exchanges = evidence.get("exchanges") or [
        {"response_excerpt": evidence.get("response_excerpt") or ""}
    ]
    total = Cost()
    for ex in exchanges:
        if isinstance(ex, Mapping) and ex.get("response_excerpt"):
            total.add(response_cost(str(ex["response_excerpt"])))
    total.wall_s = _num(entry.get("duration_s"))
    return total


def _catalogue() -> tuple[dict[str, str], dict[str, int]]:
    from conformance.catalogue.checks import AREAS, CHECKS

    order = {f"{c.id}[{layer}]": i * 2 + j for i, c in enumerate(CHECKS)
             for j, layer in enumerate(c.layers)}  # fmt: skip
    areas = {c.id: c.area for c in CHECKS}
    areas.update({a: a for a in AREAS})
    return areas, order


def column_costs(column: Path, results: Path | None = None) -> dict[str, Cost]:
    """``check[layer]`` → its cost, from a column's cassettes and manifest, with wall seconds
    from ``results`` (a results file of the run that made them) when given."""
    costs: dict[str, Cost] = {}
    for path in sorted(column.glob("*.yaml")):
        name = path.name.removesuffix(".yaml")
        layer = "sdk" if name.endswith(".sdk") else "wire"
        costs[f"{name.removesuffix('.sdk')}[{layer}]"] = cassette_cost(path)
    manifest = column / "manifest.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        for key, entry in (data.get("live") or {}).items():
            if isinstance(entry, Mapping) and key not in costs:
                costs[key] = _live_cost(entry)
    if results is not None and results.is_file():
        data = json.loads(results.read_text(encoding="utf-8"))
        for r in data.get("results") or []:
            key = f"{r.get('check')}[{r.get('layer')}]"
            if key in costs and _num(r.get("duration_s")) is not None:
                costs[key].wall_s = _num(r.get("duration_s"))
    return costs


def _cell(value: Any, ms: bool = False) -> str:
    if value is None:
        return "-"
    if ms:
        return f"{value / 1000:.1f}"
    return f"{value:.1f}" if isinstance(value, float) and not value.is_integer() else f"{value:.0f}"


def _row(name: str, c: Cost) -> str:
    return (
        f"| {name} | {c.requests} | {_cell(c.prompt)} | {_cell(c.cached)} | "
        f"{_cell(c.generated)} | {_cell(c.server_ms, ms=True)} | {_cell(c.wall_s)} |"
    )


_HEAD = (
    "| {what} | requests | prompt tokens | cached tokens | generated tokens | server s | wall s |\n"
    "|---|---:|---:|---:|---:|---:|---:|"
)


def render(costs: Mapping[str, Cost], title: str, top: int = 15) -> str:
    """Markdown: per area, the most expensive checks, and every check."""
    areas, order = _catalogue()
    by_area: dict[str, Cost] = {}
    total = Cost()
    for key, cost in costs.items():
        area = areas.get(key.split("[", 1)[0], "?")
        by_area.setdefault(area, Cost()).add(cost)
        total.add(cost)
    area_order = {a: i for i, a in enumerate(areas.values())}
    lines = [f"## {title}", "", "### Per area", "", _HEAD.format(what="area")]
    lines += [_row(a, by_area[a]) for a in sorted(by_area, key=lambda a: area_order.get(a, 99))]
    lines.append(_row("**all**", total))

    def spent(key: str) -> float:
        c = costs[key]
        return c.server_ms if c.server_ms is not None else (c.wall_s or 0.0) * 1000

    lines += ["", f"### The {top} most expensive checks (server time)", ""]
    lines.append(_HEAD.format(what="check"))
    lines += [_row(f"`{k}`", costs[k]) for k in sorted(costs, key=spent, reverse=True)[:top]]
    lines += ["", "### Every check, in catalogue order", "", _HEAD.format(what="check")]
    lines += [_row(f"`{k}`", costs[k]) for k in sorted(costs, key=lambda k: order.get(k, 10**6))]
    return "\n".join(lines) + "\n"


def _record_run(argv: Iterable[str], work: Path) -> tuple[Path, Path | None, int]:
    """A record run of the live server into ``work``; the column directory it wrote, its
    results file and pytest's exit status."""
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
           "--conformance-mode", "record", "--cassette-dir", str(work / "cassettes"),
           "--report-dir", str(work / "reports"), *argv]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, check=False)
    manifests = sorted((work / "cassettes").glob("*/*/manifest.json"))
    if not manifests:
        raise SystemExit(
            f"certify_breakdown: the record run wrote no column (exit {proc.returncode})"
        )
    results = sorted((work / "reports" / "results").glob("*.json"))
    return manifests[0].parent, (results[0] if results else None), proc.returncode


def _post(base_url: str, path: str, body: Mapping[str, Any]) -> Any:
    import urllib.request

    root = base_url.rstrip("/").removesuffix("/v1")
    req = urllib.request.Request(
        f"{root}/{path}",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def _chat_prompts(path: Path) -> list[dict[str, Any]]:
    """The chat request bodies a cassette holds, in order."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    bodies = []
    for interaction in data.get("interactions") or []:
        request = interaction.get("request") or {}
        if not str(request.get("uri") or "").endswith("/chat/completions"):
            continue
        try:
            body = json.loads(request.get("body") or "")
        except ValueError:
            continue
        if isinstance(body, dict) and isinstance(body.get("messages"), list):
            bodies.append(body)
    return bodies


def _tokens(base_url: str, body: Mapping[str, Any]) -> list[int] | None:
    """The prompt llama-server would prefill for a chat body, as token ids (None: it cannot
    render it, e.g. a request the check sends to be refused)."""
    keep = {k: body[k] for k in ("messages", "tools", "tool_choice") if k in body}
    try:
        prompt = _post(base_url, "apply-template", keep).get("prompt")
        tokens = _post(base_url, "tokenize", {"content": prompt, "parse_special": True})
    except (OSError, ValueError, AttributeError):
        return None
    ids = tokens.get("tokens") if isinstance(tokens, dict) else None
    return [int(t) for t in ids] if isinstance(ids, list) else None


def _window(base_url: str) -> int | None:
    """The slot's context window (``/props``), or None."""
    import urllib.request

    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        with urllib.request.urlopen(f"{root}/props", timeout=30) as resp:
            props = json.loads(resp.read())
        n_ctx = props["default_generation_settings"]["n_ctx"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return int(n_ctx) if isinstance(n_ctx, int) and n_ctx > 0 else None


def _prefilled(sequence: Iterable[list[int] | None], window: int | None) -> tuple[int, int]:
    """Prompt tokens prefilled and reused by a one-slot cache over prompts sent in order (a
    prompt longer than the window is refused before any prefill, and leaves the slot alone)."""
    last: list[int] = []
    prefilled = reused = 0
    for tokens in sequence:
        if tokens is None or (window is not None and len(tokens) >= window):
            continue
        common = 0
        for a, b in zip(last, tokens, strict=False):
            if a != b:
                break
            common += 1
        common = min(common, len(tokens) - 1)  # the last token is always evaluated
        reused += common
        prefilled += len(tokens) - common
        last = tokens
    return prefilled, reused


def prefix_reuse(column: Path, base_url: str) -> str:
    """Markdown: prompt tokens a one-slot cache prefills in catalogue and in run order."""
    from types import SimpleNamespace

    from conformance.catalogue.checks import CHECKS
    from conformance.plan import run_order

    plans: dict[str, list[str]] = {}
    column_stub: Any = SimpleNamespace(manifest=SimpleNamespace(expected={}))
    for order in ("catalogue", "prefix"):
        session: Any = SimpleNamespace(mode="live", run_order=order, checks=list(CHECKS),
                                       layers=("wire", "sdk"), explicit_checks=False)  # fmt: skip
        plans[order] = [
            f"{check.id}{'.sdk' if layer == 'sdk' else ''}"
            for _, check, layer in run_order(session, [column_stub])
        ]
    window = _window(base_url)
    rendered: dict[str, list[list[int] | None]] = {}
    for name in plans["catalogue"]:
        path = column / f"{name}.yaml"
        if path.is_file():
            rendered[name] = [_tokens(base_url, b) for b in _chat_prompts(path)]
    lines = ["| order | chat requests | prompt tokens prefilled | reused from the slot |",
             "|---|---:|---:|---:|"]  # fmt: skip
    for order, names in plans.items():
        seq = [t for n in names for t in rendered.get(n, [])]
        prefilled, reused = _prefilled(seq, window)
        counted = sum(t is not None and (window is None or len(t) < window) for t in seq)
        lines.append(f"| {order} | {counted} | {prefilled} | {reused} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.certify_breakdown",
                                description=__doc__.split("\n")[0])  # fmt: skip
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--column", type=Path, help="a recorded column: cassettes/<provider>/<model>")
    src.add_argument("--record", action="store_true",
                     help="record the live server given by the pytest options after -- into a "
                     "temporary directory first (e.g. -- --provider llamacpp-tools)")  # fmt: skip
    p.add_argument("--results", type=Path, help="the results file of the run (wall seconds)")
    p.add_argument("--keep", type=Path, help="with --record: record into this directory")
    p.add_argument("--out", type=Path, help="write the Markdown here (default: print it)")
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--prefix-reuse", metavar="URL",
                   help="with --column: count the prompt tokens a one-slot cache prefills in "
                   "catalogue and in run order, rendered by the llama-server at URL")  # fmt: skip
    p.add_argument("pytest_args", nargs="*", help="with --record: the suite's options")
    a = p.parse_args(argv)
    status = 0
    if a.record:
        with tempfile.TemporaryDirectory(prefix="certify-breakdown-") as tmp:
            work = a.keep or Path(tmp)
            column, results, status = _record_run(a.pytest_args, work)
            text = render(column_costs(column, results), f"Record run of {column.name}", a.top)
    elif a.prefix_reuse:
        text = prefix_reuse(a.column, a.prefix_reuse)
    else:
        results = a.results
        text = render(column_costs(a.column, results), f"`{a.column}`", a.top)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0 if status in (0, 1) else status


if __name__ == "__main__":
    raise SystemExit(main())
