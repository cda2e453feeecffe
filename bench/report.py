"""Turns the results of one run into ``performance.md`` (goals, ratios, machine) and
``performance.png`` (CPU µs per chunk per method)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .concurrency import CLIENTS
from .consumers import LABELS
from .requests import LABELS as REQUEST_LABELS

__all__ = ["evaluate_goals", "write_chart", "write_markdown"]

Row = dict[str, Any]

CHART_LABELS = {
    "raw": "transport floor\n(httpx2 aiter_raw)",
    "hand": "hand parser\n(lines + json.loads)",
    "openai_create": "AsyncOpenAI\ncreate(stream=True)",
    "openai_stream": "AsyncOpenAI\n.stream() helper",
    "query": "any_agent\nquery()",
    "query_partial": "any_agent query()\npartial messages",
    "decoder": "any_agent\nStreamDecoder\n(no I/O)",
}


def _cell(rows: list[Row], method: str, kind: str, n: int) -> Row | None:
    for r in rows:
        if r["method"] == method and r["kind"] == kind and r["n"] == n:
            return r
    return None


def _us(rows: list[Row], method: str, kind: str, n: int) -> float | None:
    r = _cell(rows, method, kind, n)
    return None if r is None else r.get("cpu_us_per_chunk")


def _f(x: float | None, digits: int = 2, suffix: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:,.{digits}f}{suffix}"


def _shortcut(a: dict[str, Any]) -> str:
    if "shortcut_events" not in a:
        return ""
    return f"{a['shortcut_events']:,} / {a['events_seen']:,}"


def _pair(a: float | None, b: float | None, digits: int, suffix: str = "") -> str:
    return f"{_f(a, digits, suffix)} / {_f(b, digits, suffix)}"


def _goal(name: str, measured: str, target: str, ok: bool | None) -> Row:
    verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
    return {"goal": name, "measured": measured, "target": target, "result": verdict}


def evaluate_goals(res: dict[str, Any]) -> list[Row]:
    goals: list[Row] = []
    rows: list[Row] = res.get("single", [])
    sizes = sorted({r["n"] for r in rows})
    for kind in ("text", "tool"):
        ratios, speedups = [], []
        for n in sizes:
            q, h, c = (_us(rows, m, kind, n) for m in ("query", "hand", "openai_create"))
            if q and h:
                ratios.append((q / h, n))
            if q and c:
                speedups.append((c / q, n))
        ok = bool(ratios) and len(ratios) == len(sizes) and all(r <= 1.25 for r, _ in ratios)
        goals.append(
            _goal(
                f"{kind} stream: any_agent.query() CPU/chunk ÷ hand parser",
                ", ".join(f"{r:.2f}× (N={n:,})" for r, n in ratios) or "not measured",
                "≤ 1.25×",
                ok if ratios else None,
            )
        )
        ok = bool(speedups) and len(speedups) == len(sizes) and all(s >= 5 for s, _ in speedups)
        goals.append(
            _goal(
                f"{kind} stream: AsyncOpenAI create(stream=True) CPU/chunk ÷ any_agent.query()",
                ", ".join(f"{s:.2f}× (N={n:,})" for s, n in speedups) or "not measured",
                "≥ 5×",
                ok if speedups else None,
            )
        )
    agg = [a for a in res.get("aggregation", []) if "decoder_cpu_s" in a]
    by_mb = {a["mb"]: a for a in agg}
    mbs = sorted(by_mb)
    doublings = [
        (by_mb[b]["decoder_cpu_s"] / by_mb[a]["decoder_cpu_s"], a, b)
        for a in mbs
        for b in mbs
        if math.isclose(b, 2 * a)
    ]
    goals.append(
        _goal(
            "tool-argument aggregation is linear: time(2N) ÷ time(N)",
            ", ".join(f"{r:.2f} ({a:g}→{b:g} MB)" for r, a, b in doublings) or "not measured",
            "≤ 2.5",
            all(r <= 2.5 for r, _, _ in doublings) if doublings else None,
        )
    )
    big = by_mb.get(max(mbs)) if mbs else None
    if big is not None:
        label = f"{big['mb']:g} MB from {big['fragments']:,} fragments"
        goals.append(
            _goal(
                f"aggregation time, {label} (CPU, bytes in → ToolUseBlock)",
                f"{big['decoder_cpu_s']:.3f} s "
                f"(parsing every event whole: {big['floor_cpu_s']:.3f} s)",
                "< 0.2 s",
                big["decoder_cpu_s"] < 0.2,
            )
        )
        goals.append(
            _goal(
                f"aggregation peak memory, {label} (tracemalloc)",
                f"{big['decoder_peak_x_final']:.2f}× final size "
                f"(feed phase {big.get('decoder_peak_feed_bytes', 0) / big['final_bytes']:.2f}×)",
                "≤ 3×",
                big["decoder_peak_x_final"] <= 3,
            )
        )
    conc = next((c for c in res.get("concurrency", []) if c.get("client") == "query"), None)
    if conc is not None and "wall_s" in conc:
        label = f"{conc['streams']} paced streams × {conc['n']:,} chunks via query()"
        goals.append(
            _goal(
                f"{label}: wall ÷ ideal",
                f"{conc['wall_x_ideal']:.2f}× ({conc['wall_s']:.2f} s vs {conc['ideal_s']:.2f} s)",
                "≤ 1.1×",
                conc["wall_x_ideal"] <= 1.1,
            )
        )
        errs = sum(conc["errors"].values())
        goals.append(_goal(f"{label}: errors", str(errs), "0", errs == 0))
        waits = conc["pool_waits"] + conc["pool_timeouts"]
        goals.append(
            _goal(
                f"{label}: pool waits / PoolTimeouts",
                f"{conc['pool_waits']} / {conc['pool_timeouts']} "
                f"(peak {conc['server_peak_in_flight']} in flight)",
                "0 / 0",
                waits == 0,
            )
        )
    elif conc is not None:
        goals.append(_goal("paced concurrency via query()", conc.get("error", "?"), "runs", False))
    for c in res.get("connections", []):
        if c["method"] != "client":
            continue
        goals.append(
            _goal(
                f"new TCP connections per sequential request after the first "
                f"(one any_agent Client, {c['requests']} turns)",
                str(c.get("after_first", c.get("error"))),
                "0",
                c.get("after_first") == 0 if "after_first" in c else False,
            )
        )
    mem: list[Row] = res.get("memory", [])
    if mem:
        ratios = [
            (r["growth"] / r["limit"], f"{r['case']}/{r['variant']}") for r in mem if "growth" in r
        ]
        typed = all(r.get("error") == r.get("expected") for r in mem)
        worst = max(ratios) if ratios else (float("nan"), "none")
        goals.append(
            _goal(
                f"peak RSS growth vs hostile payloads, plain and gzip ({len(mem)} cases, "
                f"limit {mem[0]['limit'] // 2**20} MiB)",
                f"worst {worst[0]:.2f}× ({worst[1]}); "
                + ("every case raised its typed error" if typed else "an expected error missing"),
                "≤ 3× the limit",
                bool(ratios) and len(ratios) == len(mem) and worst[0] <= 3 and typed,
            )
        )
    rp = res.get("replay", {})
    if "wall_s" in rp:
        goals.append(
            _goal(
                "offline replay of the conformance suite over every committed cassette",
                f"{rp['wall_s']:.1f} s ({rp.get('recordings', 0)} recordings, "
                f"{rp.get('cassettes', 0)} cassette files; {rp.get('summary', '')})",
                "< 30 s",
                rp["wall_s"] < 30 and rp.get("exit_code") in (0, 1),
            )
        )
        par = rp.get("parallel") or {}
        if "wall_s" in par:
            goals.append(
                _goal(
                    f"the same replay with -n {par.get('workers')} (pytest-xdist)",
                    f"{par['wall_s']:.1f} s, results "
                    + ("identical to the serial run's" if par.get("same_results") else "DIFFER"),
                    "faster than serial, same bytes",
                    par["wall_s"] < rp["wall_s"]
                    and bool(par.get("same_results"))
                    and par.get("exit_code") in (0, 1),
                )
            )
    else:
        goals.append(
            _goal(
                "offline replay of the conformance suite over every committed cassette",
                rp.get("status", "not measured"),
                "< 60 s",
                None,
            )
        )
    goals += _scanning_goals(res)
    goals += _overhead_goals(res)
    return goals


#: the most a ratio of "on" to "off" may be for the feature to cost nothing measurable: the
#: A/A spread of the same comparison on this 2-core machine is a few per cent (history.md)
OVERHEAD_RATIO = 1.05


def _aa(x: Row) -> str:
    return f"A/A {x['aa_ratio']:.2f}×"


def _overhead_goals(res: dict[str, Any]) -> list[Row]:
    goals: list[Row] = []
    target = f"≤ {OVERHEAD_RATIO:.2f}×"
    guard = res.get("guard", {})
    chunk, turn = guard.get("chunk"), guard.get("turn")
    if chunk is not None:
        us = chunk["cpu_us_per_chunk"]
        goals.append(
            _goal(
                f"context guard on ÷ off, CPU per chunk (query(), text N={chunk['n']:,}, "
                "window given, prompt small)",
                f"{chunk['ratio']:.2f}× ({us['on']:.2f} vs {chunk['off_both']:.2f} µs; "
                f"{_aa(chunk)})",
                target,
                chunk["ratio"] <= OVERHEAD_RATIO,
            )
        )
    if turn is not None:
        us, alone = turn["cpu_us_per_turn"], turn["check_us"]
        goals.append(
            _goal(
                f"context guard on ÷ off, CPU per turn (one Client, {turn['turns']} turns of "
                "5 chunks)",
                f"{turn['ratio']:.2f}× ({us['on']:,.0f} vs {turn['off_both']:,.0f} µs; "
                f"{_aa(turn)}; "
                f"check + after alone {alone['on']:.1f} µs at {turn['messages']} messages)",
                target,
                turn["ratio"] <= OVERHEAD_RATIO,
            )
        )
    d = res.get("discovery")
    if d is not None:
        once = d["info_first"] >= 1 and d["info_later"] == 0 and d["info_given"] == 0
        goals.append(
            _goal(
                "window discovery (llamacpp profile): metadata requests per Client",
                f"{d['info_first']} before the first turn, {d['info_later']} later "
                f"(first turn +{d['extra_first_ms']:.1f} ms wall, "
                f"+{d['extra_first_cpu_ms']:.1f} ms CPU: {d['first_ratio']:.2f}× a first turn "
                f"with the window given; second turn {d['second_ratio']:.2f}×)",
                "one round before the first request, none later",
                once,
            )
        )
    sl = res.get("slots")
    if sl is not None:
        us = sl["cpu_us_per_chunk"]
        below = sl["peak_in_flight"] == sl["streams"]
        goals.append(
            _goal(
                f"slot limiter set ÷ none, CPU per chunk ({sl['streams']} paced query() streams "
                f"at once, limit {sl['limit']})",
                f"{sl['ratio']:.2f}× ({us['limit']:.2f} vs {sl['off_both']:.2f} µs; {_aa(sl)}; "
                f"peak in flight {sl['peak_in_flight']})",
                f"{target}, all {sl['streams']} in flight",
                sl["ratio"] <= OVERHEAD_RATIO and below,
            )
        )
    return goals


def _overhead_section(res: dict[str, Any]) -> list[str]:
    guard = res.get("guard", {})
    chunk, turn = guard.get("chunk"), guard.get("turn")
    d, sl = res.get("discovery"), res.get("slots")
    if not (chunk or turn or d or sl):
        return []
    rows = []
    if chunk is not None:
        us = chunk["cpu_us_per_chunk"]
        rows.append(
            [
                f"context guard, `query()` text N={chunk['n']:,}: CPU µs per chunk",
                _f(us["off"]),
                _f(us["on"]),
                _f(us["off_again"]),
                f"{chunk['ratio']:.3f}×",
                f"{chunk['aa_ratio']:.3f}×",
            ]
        )
    if turn is not None:
        us = turn["cpu_us_per_turn"]
        rows.append(
            [
                f"context guard, one Client, {turn['turns']} turns: CPU µs per turn",
                _f(us["off"], 0),
                _f(us["on"], 0),
                _f(us["off_again"], 0),
                f"{turn['ratio']:.3f}×",
                f"{turn['aa_ratio']:.3f}×",
            ]
        )
        alone = turn["check_us"]
        rows.append(
            [
                f"`ContextGuard.check` + `after` alone, {turn['messages']} messages: CPU µs",
                _f(alone["off"]),
                _f(alone["on"]),
                "",
                f"{alone['on'] / alone['off']:.2f}×",
                "",
            ]
        )
    if sl is not None:
        us = sl["cpu_us_per_chunk"]
        rows.append(
            [
                f"slot limiter, {sl['streams']} paced streams × {sl['n']:,} ({sl['pacing']}), "
                f"limit {sl['limit']}: CPU µs per chunk",
                _f(us["none"]),
                _f(us["limit"]),
                _f(us["none_again"]),
                f"{sl['ratio']:.3f}×",
                f"{sl['aa_ratio']:.3f}×",
            ]
        )
    out = [
        "## Overhead: the context guard, window discovery, the slot limiter",
        "",
        "Each feature against the same code with it off, same server, same stream, variants "
        "interleaved in rotating order, medians. *Off again* runs the off configuration a second "
        "time: its ratio to *off* (A/A) is this run's noise, the yardstick for the on ÷ off "
        "ratio, which divides by the median of both off variants' runs. Guard *on*: "
        "`context_window` given, `on_context_overflow='error'`, "
        "`on_truncation='warn'` (every stream ends with a usage chunk, so the check after the "
        "response runs); *off*: both `'off'` (the cheap size walk still runs). Slot limiter "
        "*on*: `max_concurrent_requests` twice the streams in flight, so no stream waits.",
        "",
        _table(["measure", "off", "on", "off again", "on ÷ off", "A/A"], rows),
        "",
    ]
    if d is not None:
        g, dd = d["median"]["given"], d["median"]["discover"]
        out += [
            f"**Window discovery** (`provider='llamacpp'`; the server answers `/props` and "
            f"`/v1/models` like llama-server): a fresh `Client`'s first turn asks "
            f"{d['info_first']} metadata requests (concurrently) before its first request, then "
            f"none. Medians of {d['reps']} clients each; *given*: `context_window` and "
            "`max_concurrent_requests` set, so nothing is asked.",
            "",
            _table(
                ["turn of a fresh Client", "given: wall / CPU ms", "discover: wall / CPU ms"],
                [
                    [
                        "first",
                        _pair(g["first_ms"], g["first_cpu_ms"], 2),
                        _pair(dd["first_ms"], dd["first_cpu_ms"], 2),
                    ],
                    [
                        "second",
                        _pair(g["second_ms"], g["second_cpu_ms"], 2),
                        _pair(dd["second_ms"], dd["second_cpu_ms"], 2),
                    ],
                ],
            ),
            "",
            f"The discovery is a one-time cost per client: +{d['extra_first_ms']:.1f} ms of wall "
            f"time (+{d['extra_first_cpu_ms']:.1f} ms CPU) on its first turn over loopback, one "
            "round trip to a real server; `context_window=` skips it.",
            "",
        ]
    return out


def _scanning_goals(res: dict[str, Any]) -> list[Row]:
    rows = [r for r in res.get("scanning", []) if "worst_whole_s" in r]
    by_n = {r["chars"]: r for r in rows}
    ratios = [
        (
            max(
                by_n[2 * n][k] / max(by_n[n][k], 1e-9) for k in ("worst_whole_s", "worst_pieces_s")
            ),
            n,
        )
        for n in sorted(by_n)
        if 2 * n in by_n
    ]
    goals = [
        _goal(
            "text scanning is linear: worst-case time(2N) ÷ time(N)",
            ", ".join(f"{r:.2f} ({n // 1024}→{2 * n // 1024} KiB)" for r, n in ratios)
            or "not measured",
            "≤ 2.5",
            all(r <= 2.5 for r, _ in ratios) if ratios else None,
        )
    ]
    mib = by_n.get(1 << 20)
    if mib is not None:
        worst = max(mib["worst_whole_s"], mib["worst_pieces_s"])
        goals.append(
            _goal(
                "worst-case scanning of 1 MiB of adversarial text (CPU)",
                f"{worst:.3f} s",
                "< 1 s",
                worst < 1.0,
            )
        )
    return goals


def _scanning_section(res: dict[str, Any]) -> list[str]:
    rows: list[Row] = res.get("scanning", [])
    if not rows:
        return []
    names = [name for r in rows if "families" in r for name in r["families"]]
    names = list(dict.fromkeys(names))
    table = []
    for name in names:
        cells = [name]
        for r in rows:
            t = r.get("families", {}).get(name)
            cells.append(f"{t['whole'] * 1e3:.0f} / {t['pieces'] * 1e3:.0f}" if t else "error")
        table.append(cells)
    table.append(
        ["**worst**"]
        + [
            f"**{r['worst_whole_s'] * 1e3:.0f} / {r['worst_pieces_s'] * 1e3:.0f}**"
            if "worst_whole_s" in r
            else r.get("error", "")
            for r in rows
        ]
    )
    return [
        "## Worst-case text scanning",
        "",
        "Adversarial `content` through `TextScanner` (the recoverer of tool calls written as "
        "text): CPU milliseconds to scan it fed whole / in 16-character pieces, median of the "
        "runs. The families are the inputs that were cubic (blank runs in unclosed fences and "
        "`<parameter=…>` bodies) or quadratic (many openers in one piece) in earlier versions.",
        "",
        _table(["family", *(f"{r['chars'] // 1024} KiB" for r in rows)], table),
        "",
    ]


def _table(header: list[str], rows: list[list[str]], align: str = "") -> str:
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _single_section(res: dict[str, Any]) -> list[str]:
    rows: list[Row] = res.get("single", [])
    if not rows:
        return []
    sizes = sorted({r["n"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    cols = [(kind, n) for n in sizes for kind in ("text", "tool")]
    head = ["method"] + [f"{k} N={n:,}" for k, n in cols]
    us_rows, ratio_rows = [], []
    for m in methods:
        us_line, ratio_line = [LABELS.get(m, m)], [LABELS.get(m, m)]
        for k, n in cols:
            r = _cell(rows, m, k, n)
            if r is None or "cpu_us_per_chunk" not in r:
                us_line.append("error" if r and "error" in r else "n/a")
                ratio_line.append("n/a")
                continue
            us = r["cpu_us_per_chunk"]
            us_line.append(_f(us))
            base, hand = _us(rows, "raw", k, n), _us(rows, "hand", k, n)
            ratio_line.append(f"{us / base:.2f} / {us / hand:.2f}" if base and hand else "n/a")
        us_rows.append(us_line)
        ratio_rows.append(ratio_line)
    reps = sorted({r["reps"] for r in rows if r.get("reps")})
    out = [
        "## Single stream: CPU per chunk",
        "",
        "One stream at a time, every method on the same stream, interleaved in rotating order "
        f"after a warm-up; median of {'/'.join(map(str, reps))} repetitions. `text`: N deltas of "
        "1-7 characters; `tool`: one tool call whose arguments arrive in N 4-character "
        "fragments. Every run is checked against the expected text or arguments. CPU time "
        "(`time.process_time`) of the client process; the server runs in its own process.",
        "",
        "**CPU µs per chunk**",
        "",
        _table(head, us_rows),
        "",
        "**Ratios: × transport floor / × hand parser**",
        "",
        _table(head, ratio_rows),
        "",
    ]
    speed = []
    for k, n in cols:
        q, c, s = (_us(rows, m, k, n) for m in ("query", "openai_create", "openai_stream"))
        if q and c and s:
            speed.append([f"{k} N={n:,}", f"{c / q:.2f}×", f"{s / q:.2f}×"])
    if speed:
        out += [
            "**How much cheaper any_agent.query() is** (CPU per chunk of the other ÷ query())",
            "",
            _table(["stream", "AsyncOpenAI create(stream=True)", "AsyncOpenAI .stream()"], speed),
            "",
        ]
    errs = [r for r in rows if "error" in r]
    for r in errs:
        out.append(
            f"* {LABELS.get(r['method'], r['method'])}, {r['kind']} N={r['n']:,}: `{r['error']}`"
        )
    if errs:
        out.append("")
    out += ["![CPU µs per chunk per method](performance.png)", ""]
    return out


def _server_section(res: dict[str, Any]) -> list[str]:
    sv = res.get("server")
    if not sv:
        return []
    rows: list[Row] = res.get("single", [])
    # the decoder-alone row reads nothing from the server, so it is no client here
    fastest = max(
        (r.get("chunks_per_s", 0) for r in rows if r.get("method") != "decoder"), default=0
    )
    ratio = (
        f" That is **{sv['chunks_per_s'] / fastest:.0f}×** the fastest method reading from it in "
        f"this run ({fastest:,.0f} chunks/s)."
        if fastest
        else ""
    )
    return [
        "## The server is not the bottleneck",
        "",
        f"A blocking socket that parses nothing receives `{sv['spec']}` ({sv['bytes']:,} bytes, "
        f"{sv['events']:,} HTTP chunks) at **{sv['chunks_per_s']:,.0f} chunks/s** "
        f"({sv['mb_per_s']:,.0f} MB/s; best of 3).{ratio} Bodies are rendered before the timed "
        "runs, and the server runs in its own process, so its CPU is not in the figures above.",
        "",
    ]


def _aggregation_section(res: dict[str, Any]) -> list[str]:
    agg: list[Row] = res.get("aggregation", [])
    if not agg:
        return []
    rows = []
    prev: Row | None = None
    for a in agg:
        if "error" in a:
            rows.append([f"{a['mb']:g}", "error: " + a["error"], *[""] * 7])  # 9 columns
            continue
        growth = ""
        if prev is not None and math.isclose(a["mb"], 2 * prev["mb"]):
            growth = f"{a['decoder_cpu_s'] / prev['decoder_cpu_s']:.2f}"
        fb = a["final_bytes"]
        rows.append(
            [
                f"{a['mb']:g}",
                f"{a['fragments']:,}",
                _f(a["decoder_cpu_s"], 3),
                _f(a["floor_cpu_s"], 3),
                _shortcut(a),
                growth,
                _f(a.get("decoder_peak_feed_bytes", 0) / fb, 2, "×"),
                _f(a["decoder_peak_x_final"], 2, "×"),
                _pair(a.get("final_orjson_peak_x"), a.get("final_json_peak_x"), 1, "×"),
                _pair(a.get("final_orjson_cpu_s", 0) * 1e3, a.get("final_json_cpu_s", 0) * 1e3, 1),
            ]
        )
        prev = a
    return [
        "## Tool-argument aggregation through StreamDecoder",
        "",
        "One tool call whose arguments arrive as 100-character fragments, one `feed()` per SSE "
        "event, then `close()` and `result()` (which parse the finished arguments into the "
        "`ToolUseBlock`). Each size in a fresh interpreter; CPU seconds are medians. *Whole-event "
        "parse*: the same events through the least a decoder that parses every event must do "
        "(slice, `orjson.loads`, list-append, join, one final parse); any_agent's decoder parses "
        "only the changed string of an event that repeats its predecessor's bytes (*shortcut*: "
        "events decoded that way, of all). Peak memory is tracemalloc's peak of Python "
        "allocations during the run, as a multiple of the final arguments size; *feed phase* is "
        "the peak before `close()`. *Final parse*: the finished arguments parsed once by "
        "`orjson.loads` and once by `json.loads`, alone: tracemalloc counts what is requested "
        "from the allocator, and orjson requests far more than it touches for one large string.",
        "",
        _table(
            [
                "MB",
                "fragments",
                "decoder CPU s",
                "whole-event parse CPU s",
                "shortcut",
                "t(2N)/t(N)",
                "peak, feed phase",
                "peak, whole run",
                "final parse peak: orjson / json",
                "final parse ms: orjson / json",
            ],
            rows,
        ),
        "",
    ]


def _concurrency_section(res: dict[str, Any]) -> list[str]:
    conc: list[Row] = res.get("concurrency", [])
    if not conc:
        return []
    rows = []
    for c in conc:
        label = CLIENTS[c["client"]][1] if c["client"] in CLIENTS else c["client"]
        if "error" in c:
            rows.append([label, "error: " + c["error"], *[""] * 9])
            continue
        errs = ", ".join(f"{k}: {v}" for k, v in c["errors"].items()) or "0"
        rows.append(
            [
                label,
                f"{c['ok']}/{c['streams']}",
                errs,
                _f(c["wall_s"], 2),
                _f(c["wall_x_ideal"], 2, "×"),
                _f(c["cpu_us_per_chunk"], 1),
                _f(c["cpu_util"], 2),
                f"{c['ttfc_ms_p50']:,.0f} / {c['ttfc_ms_p99']:,.0f}",
                f"{c['server_peak_in_flight']}",
                f"{c['pool_waits']} / {c['pool_timeouts']}",
                str(c["server_new_connections"]),
            ]
        )
    first = conc[0]
    return [
        "## Concurrency: paced streams through one process",
        "",
        f"{first['streams']} streams × {first['n']:,} chunks at the same time, the server pacing "
        f"each one ({first.get('pacing', '')}: 100 tokens/s). The pacing alone takes "
        f"{first.get('nominal_s', 0):.2f} s; one paced stream read alone by a plain socket took "
        f"{first.get('ideal_s', 0):.2f} s (the server's timer overshoot included), which is the "
        "*ideal* the wall time is divided by. *Peak in flight*: most responses the server had "
        "open at once; *pool waits*: streams that were never in flight together with the "
        "others (streams − peak).",
        "",
        _table(
            [
                "client",
                "ok",
                "errors",
                "wall s",
                "÷ ideal",
                "CPU µs/chunk",
                "CPU util",
                "TTFC p50 / p99 ms",
                "peak in flight",
                "pool waits / PoolTimeouts",
                "connections",
            ],
            rows,
        ),
        "",
    ]


def _requests_section(res: dict[str, Any]) -> list[str]:
    out: list[str] = []
    ttfc: list[Row] = res.get("ttfc", [])
    if ttfc:
        hand = next((t.get("ttfc_ms_p50") for t in ttfc if t["method"] == "hand"), None)
        rows = []
        for t in ttfc:
            p50 = t.get("ttfc_ms_p50")
            rows.append(
                [
                    REQUEST_LABELS.get(t["method"], t["method"]),
                    str(t["requests"]),
                    _f(p50, 3),
                    _f(t.get("ttfc_ms_p90"), 3),
                    _f(p50 - hand, 3) if p50 is not None and hand is not None else "n/a",
                    t.get("error", ""),
                ]
            )
        out += [
            "## Per request: time to first chunk on a warm client",
            "",
            "A 5-chunk text stream; TTFC runs from the call to the first parsed chunk (any_agent: "
            "the first `StreamEvent`, partial messages on). Each client serves one untimed "
            "request, then 10 timed ones; methods take turns. `query()` builds a new client per "
            "call by design, so its row includes that construction and a new connection.",
            "",
            _table(
                ["method", "requests", "p50 ms", "p90 ms", "p50 over hand parser ms", "error"], rows
            ),
            "",
        ]
    conns: list[Row] = res.get("connections", [])
    if conns:
        rows = [
            [
                REQUEST_LABELS.get(c["method"], c["method"]),
                str(c["requests"]),
                str(c.get("connections", c.get("error", ""))),
                str(c.get("after_first", "")),
            ]
            for c in conns
        ]
        out += [
            "## Per request: TCP connections opened by sequential requests",
            "",
            "Counted by the server's accept counter; each method starts from a fresh client.",
            "",
            _table(["method", "requests", "connections opened", "after the first"], rows),
            "",
        ]
    imports: list[Row] = res.get("imports", [])
    if imports:
        rows = [
            [f"`{i['statement']}`", str(i["reps"]), _f(i.get("ms"), 1), i.get("error", "")]
            for i in imports
        ]
        out += [
            "## Import time (fresh interpreter, bytecode cached, median)",
            "",
            _table(["statement", "reps", "ms", "error"], rows),
            "",
        ]
    return out


def _memory_section(res: dict[str, Any]) -> list[str]:
    rows: list[Row] = res.get("memory", [])
    if not rows:
        return []
    mib = 2**20
    table = []
    for r in rows:
        if "growth" not in r:
            table.append([r["case"], r["variant"], "", "", "", "", r.get("error", "?")])
            continue
        table.append(
            [
                r["case"],
                r["variant"],
                f"{(r.get('wire') or 0) / mib:,.2f} MiB",
                f"{r['payload'] / mib:,.0f} MiB",
                f"{r['growth'] / mib:,.1f} MiB",
                f"{r['growth'] / r['limit']:.2f}×",
                f"`{r['error']}`" + ("" if r["error"] == r["expected"] else " (unexpected)"),
            ]
        )
    return [
        "## Memory vs hostile payloads",
        "",
        f"Each case in a fresh client interpreter, with the option that bounds it at "
        f"{rows[0]['limit'] // mib} MiB (`bench/memory.py`); growth is the rise of the RSS "
        "high-water mark over a warm client's. The error body has no option: it is read to a "
        "fixed 8 KiB whatever the limit, so its row shows that cap holding.",
        "",
        _table(
            [
                "payload",
                "encoding",
                "on the wire",
                "inflated",
                "peak RSS growth",
                "× limit",
                "error",
            ],
            table,
            "llrrrrl",
        ),
        "",
    ]


def _replay_section(res: dict[str, Any]) -> list[str]:
    rp = res.get("replay")
    if not rp:
        return []
    lines = ["## Offline replay of the conformance suite", "", f"`{rp.get('command', '')}`", ""]
    if "wall_s" in rp:
        lines.append(
            f"{rp['wall_s']:.1f} s over {rp.get('recordings', 0)} recordings "
            f"({rp.get('cassettes', 0)} cassette files), exit code "
            f"{rp.get('exit_code')}: {rp.get('summary', '')}"
        )
        par = rp.get("parallel") or {}
        runs = [("serial", rp)] + ([(f"-n {par.get('workers')}", par)] if par else [])
        timed = [
            f"- {name}: {run['wall_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU (user + system, "
            f"workers included), load average {run.get('load_start', 0):.2f} at its start"
            for name, run in runs
            if "cpu_s" in run
        ]
        if timed:
            lines += ["", *timed]
        if "same_results" in par:
            same = "the same bytes" if par["same_results"] else "DIFFERENT results"
            lines.append(f"- the two runs wrote {same}")
        if rp.get("uncommitted"):
            lines += ["", f"({rp['uncommitted']} of the cassette files were not committed yet.)"]
    else:
        lines.append(f"**{rp.get('status', 'not measured')}**")
    return [*lines, ""]


def _reference_section(res: dict[str, Any]) -> list[str]:
    rows = []
    imp = {i["statement"]: i for i in res.get("imports", [])}
    a = imp.get("import any_agent", {}).get("ms")
    if a is not None:
        rows.append(
            [
                "`import any_agent` (openai loaded lazily)",
                f"{a:.1f} ms",
                "≤ 150 ms",
                "PASS" if a <= 150 else "MISS",
            ]
        )
    ttfc = {t["method"]: t for t in res.get("ttfc", [])}
    if "client" in ttfc and "hand" in ttfc and "ttfc_ms_p50" in ttfc["client"]:
        over = ttfc["client"]["ttfc_ms_p50"] - ttfc["hand"]["ttfc_ms_p50"]
        rows.append(
            [
                "TTFC over the hand parser, warm any_agent Client (p50)",
                f"{over:.2f} ms",
                "≤ 0.8 ms",
                "PASS" if over <= 0.8 else "MISS",
            ]
        )
    if not rows:
        return []
    return [
        "Reference targets from the performance research (§9.5), not goals of the issue:",
        "",
        _table(["check", "measured", "target", "result"], rows),
        "",
    ]


# what profiling found and fixed, kept by hand, copied into every report
_HISTORY = Path(__file__).with_name("history.md")


def write_markdown(res: dict[str, Any], path: Path) -> None:
    m = res["meta"]
    goals = evaluate_goals(res)
    passed = sum(g["result"] == "PASS" for g in goals)
    missed = sum(g["result"] == "MISS" for g in goals)
    vers = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    out = [
        "# any_agent performance report",
        "",
        f"Generated by `make {'bench-quick' if m['quick'] else 'bench'}` (`python -m bench"
        f"{' --quick' if m['quick'] else ''}`) on **{m['date']}** in {m['duration_s']:.0f} s. "
        "How it is measured and how to read it: [docs/performance.md](../docs/performance.md).",
        "",
        f"* Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']:.0f} GiB, {m['platform']}",
        f"* Python {m['python']}; {vers}",
        f"* any_agent at `{m['commit']}`",
        f"* Load average (1 min) {m['load_start']:.2f} at the start, "
        f"{m['load_end']:.2f} at the end. "
        "The machine is shared: compare the ratios inside this run; the absolute numbers are for "
        "this machine only.",
    ]
    if m["quick"]:
        out.append("* **Quick mode**: small sizes, a smoke run; the figures are not the benchmark.")
    out += [
        "",
        f"## Goals: {passed} PASS, {missed} MISS",
        "",
        _table(
            ["goal", "measured (this run)", "target", "result"],
            [[g["goal"], g["measured"], g["target"], f"**{g['result']}**"] for g in goals],
            "llll",
        ),
        "",
    ]
    out += _reference_section(res)
    out += _single_section(res)
    out += _server_section(res)
    out += _aggregation_section(res)
    out += _scanning_section(res)
    out += _concurrency_section(res)
    out += _overhead_section(res)
    out += _requests_section(res)
    out += _memory_section(res)
    out += _replay_section(res)
    out += ["", _HISTORY.read_text().strip()]
    text = "\n".join(out).rstrip() + "\n"
    from .certify import kept_section

    kept = kept_section(path)  # make bench-certify's section outlives a make bench run
    path.write_text(text + ("\n" + kept if kept else ""))


def write_chart(res: dict[str, Any], path: Path) -> str | None:
    """Bar chart of CPU µs per chunk; returns why it was not drawn, or None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (make bench installs it)"
    rows: list[Row] = [r for r in res.get("single", []) if "cpu_us_per_chunk" in r]
    if not rows:
        return "no single-stream results"
    methods = list(dict.fromkeys(r["method"] for r in rows))
    sizes = sorted({r["n"] for r in rows})
    series = [(k, n) for n in sizes for k in ("text", "tool")]
    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=110)
    width = 0.8 / len(series)
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]
    for i, (k, n) in enumerate(series):
        xs, ys = [], []
        for j, m in enumerate(methods):
            us = _us(rows, m, k, n)
            if us:
                xs.append(j + (i - (len(series) - 1) / 2) * width)
                ys.append(us)
        bars = ax.bar(xs, ys, width, label=f"{k}, N={n:,}", color=colors[i % len(colors)])
        ax.bar_label(
            bars, labels=[f"{y:.0f}" if y >= 10 else f"{y:.1f}" for y in ys], fontsize=7, padding=1
        )
    ax.set_yscale("log")
    ax.set_ylabel("CPU µs per chunk (log scale, lower is better)")
    ax.set_xticks(range(len(methods)))
    ax.set_xticklabels([CHART_LABELS.get(m, m) for m in methods], fontsize=8)
    m = res["meta"]
    ax.set_title(
        f"Streaming CPU cost per chunk — {m['date']}{' (quick mode)' if m['quick'] else ''}",
        fontsize=11,
    )
    ax.legend(fontsize=8)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return None
