"""Contributed columns are untrusted input: read them through this module only.

A column (``<cassette-dir>/<provider>/<model-slug>/``) may only describe itself: its
manifest names the provider and model of the directory it sits in, the provider is a known
profile (or ``generic``), and every file in it is a regular file (never a symlink) inside
the directory. Manifests and results files are bounded (bytes, nesting depth, string and
collection sizes) and validated against a schema before anything reads a field, so a
hostile file is one line naming it (:class:`ColumnError`), never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import stat
import unicodedata
from itertools import accumulate
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from .vocabulary import LEVELS, OUTCOMES, SCHEMA_VERSION, model_slug

__all__ = [
    "MAX_CASSETTE_BYTES",
    "MAX_DEPTH",
    "MAX_MANIFEST_BYTES",
    "MAX_RESULTS_BYTES",
    "ColumnError",
    "ManifestSchema",
    "ResultsSchema",
    "check_column",
    "read_json",
    "safe_slug",
    "validate_manifest",
    "validate_results",
    "validate_tree",
]

#: A committed manifest is ~20 KB and a results file ~170 KB; these leave room to grow.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_RESULTS_BYTES = 16 * 1024 * 1024
#: The deepest committed document (a tool schema inside a recorded request) nests ~12 deep.
MAX_DEPTH = 64
MAX_RESULTS = 10_000
#: The largest committed cassette is ~56 KB; the YAML reader is slow (~1.5 MB/s), so a
#: cassette is refused beyond this size before it is parsed.
MAX_CASSETTE_BYTES = 16 * 1024 * 1024

MANIFEST = "manifest.json"
#: ``<check-id>.yaml`` (wire) or ``<check-id>.sdk.yaml``; check ids are dotted slugs.
CASSETTE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,150}\.yaml$")
CHECK_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,150}\[(wire|sdk)\]$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")


#: Next to a column ``<slug>``, a record run keeps ``.<slug>.lock`` (its lock),
#: ``.<slug>.record-*`` (the staging copy) and, for the instant of the swap, ``.<slug>.old-*``.
LOCK_SUFFIX = ".lock"
STAGING_MARK = ".record-"
OLD_MARK = ".old-"
_LEFTOVER = re.compile(r"^\.([a-z0-9][a-z0-9._-]{0,79}?)(\.record-|\.old-)[A-Za-z0-9_]+$")


class ColumnError(ValueError):
    """A contributed file that is refused; the message is one line naming the file."""


def safe_slug(text: str) -> str:
    """``text`` as a file-name component: ``[a-z0-9._-]``, no ``..``, no leading dot."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.strip().lower())
    slug = re.sub(r"\.{2,}", ".", slug).strip("-.")
    return slug[:80] or "unnamed"


# ---- bounded JSON ----------------------------------------------------------------------------

#: A string literal, or an unterminated one running to the end: the match can never fail
#: after its opening quote, so no later quote is retried (a failing pattern here made
#: ``"\"\"\"…`` quadratic: 32 KB took 4 s, a 4 MB manifest would have taken hours).
_STRING = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.DOTALL)
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _depth(text: str) -> int:
    """Deepest nesting of ``text`` (JSON), found in linear time before the parser recurses."""
    brackets = re.sub(r"[^\[\]{}]+", "", _STRING.sub("", text))
    return max(accumulate(_DEPTH_STEP[c] for c in brackets), default=0)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are unique: with a duplicate, what a reviewer reads (often the
    first) and what the reader uses (the last) differ, so the file is refused."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"duplicate key {key[:60]!r}")
    return out


def _regular_file(path: Path, what: str) -> os.stat_result:
    """``path``'s own status (``lstat``: a link is never followed), refusing anything but a
    regular file: a symlink could point anywhere, a fifo would block the reader."""
    try:
        info = path.lstat()
    except OSError as exc:
        raise ColumnError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(info.st_mode):
        raise ColumnError(f"{path}: {what} is a symlink (refused: a column holds files only)")
    if not stat.S_ISREG(info.st_mode):
        raise ColumnError(f"{path}: {what} is not a regular file")
    return info


def read_json(path: Path, *, max_bytes: int, what: str) -> Any:
    """Decode ``path`` after checking it is a regular file, small and shallow enough."""
    info = _regular_file(path, f"the {what}")
    if info.st_size > max_bytes:
        raise ColumnError(f"{path}: the {what} has {info.st_size} bytes (limit {max_bytes})")
    try:
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ColumnError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise ColumnError(f"{path}: the {what} is larger than {max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ColumnError(f"{path}: the {what} is not UTF-8 ({exc.reason})") from None
    depth = _depth(text)
    if depth > MAX_DEPTH:
        raise ColumnError(f"{path}: the {what} nests {depth} deep (limit {MAX_DEPTH})")
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers over the digit limit
        msg = str(exc).splitlines()[0][:200]
        raise ColumnError(f"{path}: cannot read the {what}: not valid JSON ({msg})") from None


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join(str(x) for x in first["loc"]) or "(top level)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


# ---- schemas ---------------------------------------------------------------------------------

Short = Annotated[str, StringConstraints(max_length=256)]
Text = Annotated[str, StringConstraints(max_length=64 * 1024)]
Excerpt = Annotated[str, StringConstraints(max_length=1024 * 1024)]
#: Results readers stringify scalars (``_opt_str``); accept the same, bounded.
ShortLike = Short | int | float | bool | None
TextLike = Text | int | float | bool | None


def _printable(text: str) -> str:
    """A name shown in reports: no control, format (bidi overrides, zero-width), separator or
    private-use characters, which would make it display as another name."""
    bad = next((c for c in text if unicodedata.category(c)[0] in "CZ" and c != " "), None)
    if bad is not None:
        raise ValueError(f"contains U+{ord(bad):04X} (a name is printable text)")
    return text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Open(BaseModel):
    """Readers must tolerate fields they do not know (kept, bounded by size and depth)."""

    model_config = ConfigDict(extra="allow")


class ExchangeSchema(_Open):
    request: Any = None
    response_excerpt: Excerpt | dict[str, Any] | list[Any] | None = None


class EvidenceSchema(_Open):
    request: Any = None
    response_excerpt: Excerpt | dict[str, Any] | list[Any] | None = None
    cassette: Short | None = None
    exchanges: Annotated[list[ExchangeSchema], Field(max_length=64)] | None = None


class ResultSchema(_Open):
    check: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    layer: ShortLike = None
    outcome: ShortLike = None
    level: ShortLike = None
    area: ShortLike = None
    title: TextLike = None
    message: TextLike = None
    reason: TextLike = None
    link: Annotated[str, StringConstraints(max_length=2048)] | None = None
    evidence: EvidenceSchema | None = None
    duration_s: float | None = None
    from_manifest: bool | None = None


class ServerSchema(_Open):
    name: ShortLike = None
    version: ShortLike = None


#: A run's cost figures (``harness.share.RunStats.to_dict``): a few named numbers.
RunStatsSchema = Annotated[dict[Short, int | float | None], Field(max_length=32)]


class RunSchema(_Open):
    provider: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    column: Short | None = None
    configuration: TextLike = None
    server: ServerSchema | None = None
    model: Short | None = None
    mode: ShortLike = None
    date: ShortLike = None
    suite_version: ShortLike = None
    any_agent_version: ShortLike = None
    python: ShortLike = None
    base_url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    recorded_date: ShortLike = None
    stats: RunStatsSchema | None = None


class ResultsSchema(_Open):
    schema_version: int
    run: RunSchema
    results: Annotated[list[ResultSchema], Field(max_length=MAX_RESULTS)]


class LiveSchema(ResultSchema):
    facts: dict[str, Any] | None = None


#: A suite release as the suite writes it (``0.2.0``, ``0.1.0-old``): numbers without leading
#: zeros and an optional short pre-release or build tag, so comparing releases stays meaningful.
_RELEASE = r"^(0|[1-9][0-9]{0,3})(\.(0|[1-9][0-9]{0,3})){1,3}([-+][0-9A-Za-z][0-9A-Za-z.-]{0,23})?$"


class ManifestSchema(_Strict):
    format_version: int
    suite_version: Annotated[str, StringConstraints(pattern=_RELEASE)]
    provider: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
    model: Annotated[
        str, StringConstraints(min_length=1, max_length=256), AfterValidator(_printable)
    ]
    model_slug: Short | None = None
    configuration: Text | None = None
    server: Annotated[dict[Short, Short | None], Field(max_length=16)] = {}
    deployment: dict[Short, Any] = {}
    base_url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    model_meta: dict[Short, Any] = {}
    recorded_at: Short | None = None
    libraries: Annotated[dict[Short, Short | None], Field(max_length=64)] = {}
    sampling: Annotated[dict[Short, Any], Field(max_length=64)] = {}
    expected: Annotated[dict[Short, Short], Field(max_length=MAX_RESULTS)] = {}
    live: Annotated[dict[Short, LiveSchema], Field(max_length=MAX_RESULTS)] = {}
    run_stats: RunStatsSchema = {}


def validate_results(data: Any, source: str) -> ResultsSchema:
    """``data`` (a decoded results file) checked against the schema, or :class:`ColumnError`."""
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        shown = repr(version)[:40]
        raise ColumnError(
            f"{source}: schema_version {shown} is not supported (this reader reads "
            f"{SCHEMA_VERSION})"
        )
    try:
        return ResultsSchema.model_validate(data)
    except ValidationError as exc:
        raise ColumnError(f"{source}: not a valid results file: {_first_error(exc)}") from None


def validate_manifest(data: Any, source: str) -> ManifestSchema:
    """``data`` (a decoded manifest) checked against the schema, or :class:`ColumnError`."""
    try:
        schema = ManifestSchema.model_validate(data)
    except ValidationError as exc:
        raise ColumnError(f"{source}: not a valid manifest: {_first_error(exc)}") from None
    for key, outcome in schema.expected.items():
        if not CHECK_KEY.match(key):
            raise ColumnError(f"{source}: expected key {key[:60]!r} is not check-id[wire|sdk]")
        if outcome not in OUTCOMES:
            raise ColumnError(f"{source}: expected[{key}] is {outcome[:30]!r}, not an outcome")
    for key, entry in schema.live.items():
        if f"{entry.check}[{entry.layer}]" != key:
            raise ColumnError(f"{source}: live[{key[:60]}] describes another check")
        if entry.outcome not in OUTCOMES or entry.level not in LEVELS:
            raise ColumnError(f"{source}: live[{key}] has an unknown outcome or level")
    return schema


# ---- identity and layout ---------------------------------------------------------------------


def _known_providers() -> set[str]:
    from .catalogue.profiles import PROFILES

    return set(PROFILES) | {"generic"}


def check_column(column: Path, root: Path) -> ManifestSchema:
    """Refuse a column that is not what its directory says, or holds anything but files."""
    path = column / MANIFEST
    if column.is_symlink() or column.parent.is_symlink():
        raise ColumnError(f"{column}: the column directory is a symlink (refused)")
    data = read_json(path, max_bytes=MAX_MANIFEST_BYTES, what="manifest")
    schema = validate_manifest(data, str(path))
    provider_dir, slug = column.parent.name, column.name
    if schema.provider not in _known_providers():
        raise ColumnError(
            f"{path}: provider {schema.provider!r} is not a known profile (or 'generic')"
        )
    model = model_slug(schema.model)
    if schema.provider != provider_dir or model != slug:
        raise ColumnError(
            f"{path}: claims {schema.provider}/{model} but sits in {provider_dir}/{slug} "
            "(a column can only describe itself)"
        )
    if schema.model_slug is not None and schema.model_slug != model:
        raise ColumnError(f"{path}: model_slug {schema.model_slug!r} is not {model!r}")
    try:
        base = column.resolve(strict=True)
        if base.parent.parent != root.resolve(strict=True):
            raise ColumnError(f"{column}: resolves outside the cassette directory {root}")
        entries = sorted(column.iterdir())
    except OSError as exc:
        raise ColumnError(f"{column}: cannot list the column: {exc.strerror or exc}") from None
    for entry in entries:
        _check_file(entry, base)
    return schema


def _check_file(entry: Path, base: Path) -> None:
    info = _regular_file(entry, "a file in a column")
    if info.st_nlink > 1:
        raise ColumnError(
            f"{entry}: a hard link ({info.st_nlink} names; refused: its content lives outside "
            "the column too)"
        )
    if entry.name != MANIFEST and info.st_size > MAX_CASSETTE_BYTES:
        raise ColumnError(
            f"{entry}: the cassette has {info.st_size} bytes (limit {MAX_CASSETTE_BYTES})"
        )
    if entry.name != MANIFEST and not CASSETTE_NAME.match(entry.name):
        raise ColumnError(f"{entry}: not a cassette name (<check-id>[.sdk].yaml)")
    if entry.resolve().parent != base:
        raise ColumnError(f"{entry}: resolves outside its column directory")


def validate_tree(root: Path) -> list[str]:
    """Every problem under a cassette root, one line each (``make test`` fails on any)."""
    problems: list[str] = []
    if not root.is_dir():
        return problems
    for provider in sorted(root.iterdir()):
        if provider.name.startswith(".") and provider.is_dir() and not provider.is_symlink():
            continue  # .git-style metadata is not a column
        if provider.is_symlink() or not provider.is_dir():
            problems.append(f"{provider}: not a provider directory")
            continue
        if provider.name not in _known_providers():
            problems.append(f"{provider}: {provider.name!r} is not a known profile")
            continue
        for column in sorted(provider.iterdir()):
            if _is_lock(column):
                continue  # a record run's (empty) lock file
            leftover = _LEFTOVER.match(column.name)
            if leftover and column.is_dir() and not column.is_symlink():
                problems.append(
                    f"{column}: left by an interrupted record run (the next record of "
                    f"{provider.name}/{leftover.group(1)} cleans it up, or delete it)"
                )
                continue
            if column.is_symlink() or not column.is_dir() or not _SLUG.match(column.name):
                problems.append(f"{column}: not a column directory (<provider>/<model-slug>/)")
                continue
            try:
                check_column(column, root)
            except ColumnError as exc:
                problems.append(str(exc))
    return problems


def _is_lock(path: Path) -> bool:
    if not (path.name.startswith(".") and path.name.endswith(LOCK_SUFFIX)):
        return False
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size == 0
