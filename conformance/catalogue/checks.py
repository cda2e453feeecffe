"""The check catalogue, as data.

Every check has a stable dotted id (cassettes, result files and matrix rows are keyed by it:
never rename one, retire it and add a new id), a title, a level with one RFC-2119 sentence,
an area, the suite version it appeared in (``since``), whether it can be judged from a
recording (``replayable``), the capabilities it needs (a provider profile that declares one
of them absent makes the check ``unsupported``), and the layers it is judged at: ``wire``
(raw bytes against the OpenAI reference shape) and ``sdk`` (what ``any_agent`` makes of it).

The implementations live in :mod:`conformance.checks` and register here with ``@impl(id,
layer)`` (:data:`IMPLEMENTATIONS`): adding a check is one entry in :data:`CHECKS` and one
function. This module imports nothing heavy so ``--conformance-list`` and the docs generator
stay fast.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..vocabulary import Layer, Level

if TYPE_CHECKING:
    from ..harness.context import Ctx

__all__ = [
    "AREAS",
    "CAPABILITIES",
    "CHECKS",
    "IMPLEMENTATIONS",
    "Check",
    "CheckFn",
    "get",
    "impl",
    "markdown_table",
    "select",
    "text_table",
]

#: Areas in catalogue order (also the matrix's row groups).
AREAS: tuple[str, ...] = (
    "streaming",
    "tools",
    "timeouts",
    "multiturn",
    "reasoning",
    "parameters",
    "errors",
    "structured",
    "context",
    "cache",
    "vision",
    "security",
    "messages",
    "responses",
)

#: Capability names a check may require and a provider profile may declare.
CAPABILITIES: dict[str, str] = {
    "tools": "accepts `tools` and returns structured `tool_calls`",
    "tool_choice_required": 'honours `tool_choice: "required"`',
    "tool_choice_named": "honours a named `tool_choice` object",
    "parallel_tool_calls": "can return several tool calls in one turn",
    "stream_usage": "honours `stream_options.include_usage`",
    "reasoning": "the model emits separated reasoning (thinking) text",
    "json_object": "honours `response_format: json_object`",
    "json_schema": "honours `response_format: json_schema`",
    "max_completion_tokens": "honours `max_completion_tokens`",
    "n": "returns several choices for `n > 1`",
    "context_overflow": "the model's context window is known (for the overflow probe)",
    "reasoning_budget": "caps thinking per request (llama.cpp `reasoning_budget_tokens`, vLLM "
    "`thinking_token_budget`)",
    "prompt_cache": "reuses the prompt prefix of an earlier request (prefix / KV cache)",
    "vision": "the model takes image input (`image_url` content parts)",
    "logprobs": "returns `logprobs` (with `top_logprobs`) for generated tokens",
    "logit_bias": "honours `logit_bias` (and offers `/tokenize` to learn a token id)",
    "assistant_prefill": "continues a conversation's final assistant message (prefill)",
    "auth": "is run with an API key: requests without the right one are refused",
}


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    title: str
    level: Level
    #: One RFC-2119 sentence: what a conforming server does.
    statement: str
    area: str
    since: str = "0.1.0"
    #: False: needs live timing or a live socket; recorded runs keep its result in the manifest.
    replayable: bool = True
    #: True: its requests must reach the server with no other check's in between (the second
    #: of two requests judges what the first left in the server's prompt cache), so
    #: ``--concurrency`` runs it alone, as it runs timing checks.
    alone: bool = False
    requires: tuple[str, ...] = ()
    layers: tuple[Layer, ...] = ("wire",)

    def __post_init__(self) -> None:
        if self.area not in AREAS:
            raise ValueError(f"{self.id}: unknown area {self.area!r}")
        unknown = set(self.requires) - set(CAPABILITIES)
        if unknown:
            raise ValueError(f"{self.id}: unknown capabilities {sorted(unknown)}")


def _c(
    id: str,
    level: Level,
    title: str,
    statement: str,
    *,
    area: str,
    replayable: bool = True,
    alone: bool = False,
    requires: tuple[str, ...] = (),
    sdk: bool = False,
    since: str = "0.1.0",
) -> Check:
    return Check(
        id=id,
        title=title,
        level=level,
        statement=statement,
        area=area,
        since=since,
        replayable=replayable,
        alone=alone,
        requires=requires,
        layers=("wire", "sdk") if sdk else ("wire",),
    )


_S, _T, _TO, _MT, _R, _P, _E = AREAS[:7]  # the 0.1 areas; later ones use literals
_TOOLS = ("tools",)

CHECKS: tuple[Check, ...] = (
    # ---- streaming ---------------------------------------------------------------------------
    _c("stream.sse-framing", "MUST", "SSE framing",
       "A streamed response MUST be `text/event-stream` whose events are `data:` lines carrying "
       "a JSON object or `[DONE]`, separated by blank lines (comments allowed).", area=_S),
    _c("stream.done-sentinel", "MUST", "`data: [DONE]` ends the stream",
       "A stream that ends normally MUST end with exactly one `data: [DONE]` event and nothing "
       "after it.", area=_S),
    _c("stream.chunk-shape", "MUST", "Chunk envelope",
       "Every chunk MUST have `object: \"chat.completion.chunk\"`, one non-empty `id` for the "
       "whole stream, a string `model`, an integer `created` and a `choices` array.", area=_S),
    _c("stream.role-once", "MUST", "Role sent once, first",
       "The first chunk with a choice MUST carry `delta.role: \"assistant\"`; later chunks "
       "SHOULD NOT repeat it and MUST NOT send `role: null`.", area=_S),
    _c("stream.finish-reason-once", "MUST", "Exactly one finish reason",
       "Each choice MUST get exactly one non-null `finish_reason` from the OpenAI set, and no "
       "content after it.", area=_S),
    _c("stream.length-finish", "MUST", "`max_tokens` ends a stream with `length`",
       "A stream cut by `max_tokens` MUST end with `finish_reason: \"length\"` and `[DONE]`.",
       area=_S),
    _c("stream.usage-chunk", "SHOULD", "Usage chunk with `include_usage`",
       "With `stream_options.include_usage` the server SHOULD send one chunk with "
       "`choices: []` and integer token counts after the finish chunk and before `[DONE]`.",
       area=_S, requires=("stream_usage",)),
    _c("stream.no-null-fields", "SHOULD", "Absent rather than null delta fields",
       "Delta keys (`role`, `tool_calls`, tool `id`/`name`/`type`, reasoning) SHOULD be absent "
       "rather than `null` (`content: null` tolerated).", area=_S),
    _c("stream.equals-nonstream", "SHOULD", "Stream equals non-stream",
       "At temperature 0 the concatenated stream SHOULD equal the non-streamed `content` and "
       "give the same `finish_reason`.", area=_S, sdk=True),
    _c("stream.unicode", "MUST", "Unicode survives streaming",
       "Every streamed delta MUST be valid UTF-8 text without U+FFFD replacement characters, "
       "even when a character spans several tokens.", area=_S, sdk=True),
    _c("stream.concurrent-isolated", "MUST", "Concurrent streams are isolated",
       "Concurrent streams MUST each complete with their own id, finish reason and `[DONE]`, "
       "with no content crossing between them.", area=_S),
    _c("stream.keepalive-comments", "MAY", "Keep-alive comments",
       "A server MAY send SSE comment lines (`:`) as keep-alives; clients ignore them. "
       "Reported for information.", area=_S),
    # ---- tool calls -------------------------------------------------------------------------
    _c("tools.accepted", "MUST", "`tools` accepted",
       "A request with `tools` MUST be answered 2xx, or 4xx with a message saying tools are not "
       "supported; never 5xx.", area=_T),
    _c("tools.call-shape", "MUST", "Non-streamed tool call shape",
       "A tool call MUST have a non-empty string `id`, `type: \"function\"`, the name of an "
       "offered tool and string `arguments` that parse to a JSON object.", area=_T,
       requires=_TOOLS, sdk=True),
    _c("tools.args-schema", "MUST", "Arguments valid against the schema",
       "Tool-call arguments MUST validate against the tool's JSON schema (required keys, types, "
       "enums).", area=_T, requires=_TOOLS),
    _c("tools.finish-reason", "SHOULD", "`finish_reason: tool_calls`",
       "A turn that ends with tool calls under `auto`/`required` SHOULD report "
       "`finish_reason: \"tool_calls\"`, streamed and not.", area=_T, requires=_TOOLS),
    _c("tools.stream.index-present", "MUST", "Every fragment has an index",
       "Every streamed `tool_calls[]` item MUST carry an integer `index`.", area=_T,
       requires=_TOOLS),
    _c("tools.stream.header-first", "MUST", "First fragment carries id, type and name",
       "The first fragment of each tool call MUST carry `id`, `type: \"function\"` and the "
       "complete, non-empty `function.name`.", area=_T, requires=_TOOLS),
    _c("tools.stream.id-name-once", "SHOULD", "id, type and name sent once",
       "Later fragments of a call SHOULD NOT repeat `id`, `type` or `function.name` (naive "
       "accumulators concatenate them).", area=_T, requires=_TOOLS, sdk=True),
    _c("tools.stream.args-concat-valid-json", "MUST", "Streamed arguments concatenate to JSON",
       "Per index, the concatenated `arguments` fragments MUST form one JSON object valid "
       "against the tool's schema, with no duplicate or summary fragment.", area=_T,
       requires=_TOOLS, sdk=True),
    _c("tools.stream.equals-nonstream", "SHOULD", "Streamed call equals non-streamed call",
       "At temperature 0 a streamed tool call SHOULD name the same tool with JSON-equal "
       "arguments as the non-streamed one.", area=_T, requires=_TOOLS),
    _c("tools.parallel", "SHOULD", "Parallel tool calls",
       "Asked for two independent calls with `parallel_tool_calls: true`, the server SHOULD "
       "return two calls with distinct `index` and `id`.", area=_T,
       requires=("tools", "parallel_tool_calls"), sdk=True),
    _c("tools.choice-required", "SHOULD", "`tool_choice: required`",
       "With `tool_choice: \"required\"` the server SHOULD return at least one tool call.",
       area=_T, requires=("tools", "tool_choice_required")),
    _c("tools.choice-none", "MUST", "`tool_choice: none`",
       "With `tool_choice: \"none\"` the server MUST NOT return tool calls and MUST return "
       "text.", area=_T, requires=_TOOLS),
    _c("tools.choice-named", "MUST", "Named `tool_choice`",
       "With a named `tool_choice` the server MUST call exactly that tool, or reject the "
       "request with 4xx; it MUST NOT silently call another tool.", area=_T,
       requires=("tools", "tool_choice_named")),
    _c("tools.no-args", "MUST", "Tools without parameters",
       "A call to a tool with no parameters MUST carry `arguments` that parse to `{}` (not "
       "`\"\"`, null or missing), streamed and not.", area=_T, requires=_TOOLS, sdk=True),
    _c("tools.no-markup-in-content", "SHOULD", "No tool markup leaked into content",
       "`content` SHOULD NOT contain tool-call markup (`<tool_call>`, `[TOOL_REQUEST]`, "
       "`<function=`, raw call JSON) whether or not a call was parsed.", area=_T,
       requires=_TOOLS, sdk=True),
    _c("tools.ids-unique", "SHOULD", "Tool-call ids",
       "Tool-call ids SHOULD be unique within a response and match `^[A-Za-z0-9_-]{1,64}$`.",
       area=_T, requires=("tools", "parallel_tool_calls")),
    _c("tools.args-unicode", "SHOULD", "Non-ASCII arguments",
       "Arguments with non-ASCII text SHOULD stream as valid JSON that keeps the characters.",
       area=_T, requires=_TOOLS),
    # SDK layer only: MCP is any-agent's, the wire round trip is multiturn.agent-loop's
    Check(id="tools.mcp-round-trip", title="MCP tool round trip", level="SHOULD",
          statement="Offered an MCP server's tool, named `mcp__<server>__<tool>`, the model SHOULD "
          "call it by that name with valid arguments and answer from its result, which the SDK "
          "gets through its MCP client (an in-process `create_sdk_mcp_server` tool).",
          area=_T, since="0.1.1", requires=_TOOLS, layers=("sdk",)),
    # issue 16 (suite 0.2.0)
    _c("tools.no-needless-call", "SHOULD", "No call when none is needed",
       "Under `tool_choice: auto`, asked a question no offered tool helps with, the server SHOULD "
       "answer in text, with no tool call (structured or written into `content`).", area=_T,
       requires=_TOOLS, sdk=True, since="0.2.0"),
    _c("tools.args-nested", "MUST", "Nested, array and enum arguments",
       "Arguments for a tool whose schema nests an object, an array of objects and an enum MUST "
       "validate against that schema (types at every depth, required keys, enum values).",
       area=_T, requires=_TOOLS, sdk=True, since="0.2.0"),
    _c("tools.choice-among-several", "SHOULD", "The right tool among several",
       "Offered five tools of which one fits the request, the server SHOULD call that tool, "
       "and only it, with arguments valid against its schema.", area=_T, requires=_TOOLS,
       since="0.2.0"),
    _c("tools.marker-in-arguments", "SHOULD", "A call marker inside a string argument",
       "A string argument containing the model's end-of-call marker (`</tool_call>`) SHOULD "
       "arrive whole, streamed and not, never cutting the call there or leaving it in "
       "`content`.",
       area=_T, requires=_TOOLS, sdk=True, since="0.2.0"),
    _c("tools.parallel-false", "SHOULD", "`parallel_tool_calls: false` respected",
       "With `parallel_tool_calls: false` the server SHOULD return at most one tool call, even "
       "when the request asks for two.", area=_T, requires=_TOOLS, since="0.2.0"),
    _c("tools.reasoning-then-call", "SHOULD", "Reasoning, then a call, in one turn",
       "A reasoning model that thinks before calling a tool SHOULD deliver the reasoning in its "
       "field and then a structured call in the same turn, never the call inside the "
       "reasoning or as markup in `content`.", area=_T, requires=("tools", "reasoning"),
       sdk=True, since="0.2.0"),
    _c("tools.repeated-runs", "SHOULD", "Reliable calls over repeated runs (pass@k)",
       "Asked k=3 times for the same kind of call under `auto` (three cities), the server "
       "SHOULD return a valid structured call each time; 2 of 3 is a warning, fewer a failure; "
       "the rate is reported.", area=_T, requires=_TOOLS, since="0.2.0"),
    # ---- timeouts and liveness (live only) ---------------------------------------------------
    _c("timeout.time-to-headers", "SHOULD", "Time to response headers",
       "A server SHOULD send response headers promptly (within the first-token bound), so "
       "clients and proxies can tell a slow model from a dead socket.", area=_TO,
       replayable=False),
    _c("timeout.time-to-first-token", "SHOULD", "Time to first token",
       "For a short prompt the first content event SHOULD arrive within the first-token bound.",
       area=_TO, replayable=False, sdk=True),
    _c("timeout.longest-gap", "SHOULD", "Longest silence within a stream",
       "Once streaming, a server SHOULD NOT stay silent (no bytes) longer than the idle bound.",
       area=_TO, replayable=False),
    _c("timeout.client-disconnect", "MUST", "Client disconnect leaves the server healthy",
       "After a client drops a stream mid-way, the server MUST answer the next request "
       "normally and promptly.", area=_TO, replayable=False),
    _c("timeout.cold-start", "MAY", "Cold start",
       "The first request of a session MAY be slower (model loading); measured and reported.",
       area=_TO, replayable=False),
    # ---- multi-turn ---------------------------------------------------------------------------
    _c("multiturn.history", "MUST", "Plain conversation history",
       "A user/assistant/user history MUST be accepted (2xx) and answered.", area=_MT),
    _c("multiturn.tool-result-roundtrip", "MUST", "Tool result round trip",
       "A history with an assistant tool call and its `tool` result MUST be accepted and "
       "answered (SHOULD use the result rather than call the tool again).", area=_MT,
       requires=_TOOLS, sdk=True),
    _c("multiturn.agent-loop", "SHOULD", "Agent tool loop",
       "Offered a tool for a question it answers, a server SHOULD return a structured call, "
       "accept its result in the next request and answer from it (the SDK layer runs a real "
       "`@tool` through `query()`).", area=_MT, requires=_TOOLS, sdk=True),
    _c("multiturn.assistant-content-null", "MUST", "Assistant `content: null` with tool calls",
       "An assistant message with `tool_calls` and `content: null` (OpenAI's own shape) MUST "
       "be accepted.", area=_MT, requires=_TOOLS),
    _c("multiturn.assistant-content-empty", "MUST", "Assistant `content: \"\"` with tool calls",
       "An assistant message with `tool_calls` and `content: \"\"` MUST be accepted.",
       area=_MT, requires=_TOOLS),
    _c("multiturn.assistant-content-absent", "SHOULD", "Assistant without `content`",
       "An assistant message with `tool_calls` and no `content` key SHOULD be accepted.",
       area=_MT, requires=_TOOLS),
    _c("multiturn.tool-call-id-formats", "SHOULD", "Foreign tool-call id formats",
       "Replayed tool-call ids in other servers' formats (`call_…`, `toolu_…`, "
       "`functions.x:0`, digits) SHOULD be accepted.", area=_MT, requires=_TOOLS),
    _c("multiturn.replayed-arguments", "MUST", "Replayed arguments",
       "Replayed `arguments: \"{}\"` MUST be accepted; malformed replayed arguments MUST get "
       "4xx, never 5xx.", area=_MT, requires=_TOOLS),
    _c("multiturn.system-placement", "SHOULD", "System message placement and `developer`",
       "Two leading system messages, a later system message and the `developer` role SHOULD be "
       "accepted, or rejected with 4xx naming the problem; never 5xx.", area=_MT),
    _c("multiturn.content-parts", "SHOULD", "Content as an array of text parts",
       "Message `content` given as an array of text parts SHOULD behave like the joined "
       "string, on user, system and tool messages.", area=_MT),
    # ---- reasoning ----------------------------------------------------------------------------
    _c("reasoning.separated", "SHOULD", "Reasoning separated from content",
       "Reasoning text SHOULD arrive in one reasoning field (`reasoning_content` or "
       "`reasoning`), never as `<think>` markup in `content`.", area=_R,
       requires=("reasoning",), sdk=True),
    _c("reasoning.history-accepted", "SHOULD", "Reasoning fields in history",
       "A replayed assistant message carrying `reasoning_content` or `reasoning` SHOULD be "
       "accepted.", area=_R),
    _c("reasoning.no-think-leak", "MUST", "No thinking markup in content",
       "`content` MUST NOT contain unbalanced `<think>`/`</think>` or channel markers.",
       area=_R),
    # issue 16 (suite 0.2.0)
    _c("reasoning.thinking-off", "SHOULD", "Thinking off honoured",
       "Asked per request to not think (`chat_template_kwargs.enable_thinking: false`, or "
       "`reasoning_effort: \"none\"` where that is the server's switch), a reasoning model SHOULD "
       "answer without reasoning, in a field or as markup.", area=_R, requires=("reasoning",),
       sdk=True, since="0.2.0"),
    _c("reasoning.budget", "SHOULD", "Thinking budget honoured",
       "Given a per-request thinking budget (llama.cpp `reasoning_budget_tokens`, vLLM "
       "`thinking_token_budget`) of 8 tokens, the server SHOULD stop reasoning near it (at most "
       "twice the budget).", area=_R, requires=("reasoning", "reasoning_budget"),
       since="0.2.0"),
    _c("reasoning.interleaved-accepted", "SHOULD", "Reasoning sent back on a tool turn",
       "An assistant tool-call message that carries its reasoning (`reasoning_content` or "
       "`reasoning`), followed by the tool result, SHOULD be accepted and answered, as "
       "interleaved-thinking clients send it.", area=_R, requires=_TOOLS, sdk=True,
       since="0.2.0"),
    _c("reasoning.usage-tokens", "SHOULD", "Reasoning tokens in usage",
       "A response with reasoning SHOULD report "
       "`usage.completion_tokens_details.reasoning_tokens`, an integer above 0 and at most "
       "`completion_tokens`.", area=_R, requires=("reasoning",), sdk=True, since="0.2.0"),
    # ---- parameters ---------------------------------------------------------------------------
    _c("params.max-tokens", "MUST", "`max_tokens`",
       "`max_tokens: N` MUST bound `completion_tokens` to N and end with "
       "`finish_reason: \"length\"` when cut.", area=_P),
    _c("params.max-completion-tokens", "SHOULD", "`max_completion_tokens`",
       "`max_completion_tokens: N` SHOULD bound the completion like `max_tokens`.", area=_P,
       requires=("max_completion_tokens",)),
    _c("params.stop", "MUST", "`stop` sequences",
       "A `stop` string or list MUST end generation before the stop text, which MUST NOT "
       "appear in `content`, with `finish_reason: \"stop\"`.", area=_P),
    _c("params.response-format-json-object", "SHOULD", "`response_format: json_object`",
       "With `response_format: {type: json_object}` the content SHOULD parse as a JSON "
       "object.", area=_P, requires=("json_object",)),
    _c("params.response-format-json-schema", "SHOULD", "`response_format: json_schema`",
       "With `response_format: {type: json_schema}` the content SHOULD validate against the "
       "schema.", area=_P, requires=("json_schema",)),
    _c("params.n", "MAY", "`n > 1`",
       "With `n: 2` a server MAY return two choices (`index` 0 and 1) or reject with 4xx; "
       "silently returning one choice is a failure.", area=_P, requires=("n",)),
    _c("params.seed", "MAY", "`seed` reproducibility",
       "Two identical requests with the same `seed` at temperature 0 MAY give identical "
       "content.", area=_P),
    _c("params.usage", "SHOULD", "Usage in non-streamed responses",
       "A non-streamed response SHOULD carry `usage` with integer `prompt_tokens`, "
       "`completion_tokens` and their sum as `total_tokens`.", area=_P),
    _c("params.logprobs", "SHOULD", "`logprobs` and `top_logprobs`",
       "With `logprobs: true, top_logprobs: 2` a choice SHOULD carry `logprobs.content`: one "
       "entry per token with a string `token`, a float `logprob` <= 0 and at most 2 "
       "`top_logprobs`, the tokens concatenating to `content`.", area=_P,
       requires=("logprobs",), since="0.2.0"),
    _c("params.logprobs-stream", "SHOULD", "Streamed `logprobs`",
       "Streamed with `logprobs: true`, the chunks SHOULD carry `logprobs.content` entries "
       "whose tokens concatenate to the streamed content.", area=_P,
       requires=("logprobs",), since="0.2.0"),
    _c("params.logit-bias", "SHOULD", "`logit_bias`",
       "`logit_bias` SHOULD be honoured: +100 on a token id makes the reply that token, -100 "
       "on the first token of the usual reply changes it (ids from the server's `/tokenize`).",
       area=_P, requires=("logit_bias",), since="0.2.0"),
    _c("params.assistant-prefill", "MAY", "Assistant prefill continued",
       "A conversation ending with an assistant message MAY be continued from that text (the "
       "reply carries on where it stops) or rejected with 4xx; answering it as a new turn is a "
       "failure.", area=_P, requires=("assistant_prefill",), since="0.2.0"),
    # ---- errors and models --------------------------------------------------------------------
    _c("models.list", "MUST", "`GET /v1/models`",
       "`GET /v1/models` MUST return `object: \"list\"` and a `data` array of "
       "`{id, object: \"model\"}` entries (SHOULD include `created`, `owned_by`).", area=_E),
    _c("errors.unknown-model", "SHOULD", "Unknown model",
       "A request naming a model the server does not serve SHOULD get 404 (400 accepted) with a "
       "message naming the model.", area=_E, sdk=True),
    _c("errors.bad-request-shape", "MUST", "Malformed request bodies",
       "Malformed bodies (invalid JSON, missing or non-array `messages`) MUST get 400/422, "
       "never 2xx or 5xx.", area=_E),
    _c("errors.error-body-shape", "SHOULD", "Error body shape",
       "Error bodies SHOULD be `{\"error\": {\"message\": str, \"type\": str}}` (with `code` a "
       "string or null).", area=_E),
    _c("errors.context-overflow", "MUST", "Context overflow",
       "A prompt longer than the context window MUST get 4xx with a message about the context "
       "length; never 200 with a silently truncated prompt, never 5xx.", area=_E,
       requires=("context_overflow",)),
    _c("errors.stream-invalid-request", "SHOULD", "Invalid stream request fails early",
       "An invalid request with `stream: true` SHOULD get an HTTP 4xx before any SSE event.",
       area=_E),
    # ---- structured output (suite 0.2) --------------------------------------------------------
    _c("structured.json-schema-enforced", "SHOULD", "`json_schema` enforced",
       "With a strict `response_format: json_schema` the content SHOULD validate against the "
       "schema on every prompt, also on prompts that do not ask for JSON (decoding is "
       "constrained, not merely prompted).", area="structured",
       requires=("json_schema",), sdk=True, since="0.2.0"),
    _c("structured.json-schema-with-tools", "MUST", "`json_schema` beside `tools`",
       "With `tools` and `response_format: json_schema` in one request, a prompt that needs a "
       "tool MUST still get the tool call, or a 4xx saying the two cannot be combined; a "
       "schema-shaped answer instead of the call is a failure (the SDK layer: `output_format` "
       "beside a tool still yields the call).", area="structured",
       requires=("tools", "json_schema"), sdk=True, since="0.2.0"),
    _c("structured.invalid-schema", "SHOULD", "Invalid schema rejected",
       "A `response_format: json_schema` whose schema is not a JSON schema (`type` a number, "
       "`properties` a string) SHOULD get 4xx; never 2xx, never 5xx.", area="structured",
       requires=("json_schema",), since="0.2.0"),
    _c("structured.json-object-stream", "SHOULD", "`json_object` streamed",
       "Streamed with `response_format: json_object`, the concatenated content SHOULD parse as "
       "one JSON object, also for a prompt whose natural answer is prose.", area="structured",
       requires=("json_object",), since="0.2.0"),
    # ---- context window (suite 0.2) -----------------------------------------------------------
    _c("context.overflow-stream", "MUST", "Streamed context overflow fails before the stream",
       "A streamed request whose prompt is longer than the context window MUST get an HTTP 4xx "
       "before any SSE event: never a 200 stream that answers a cut prompt or carries the "
       "refusal as an in-stream error, never 5xx.", area="context",
       requires=("context_overflow",), sdk=True, since="0.2.0"),
    _c("context.max-tokens-past-window", "SHOULD", "`max_tokens` larger than the window left",
       "A `max_tokens` larger than what the prompt leaves of the window SHOULD be refused with "
       "4xx naming `max_tokens` (or the output length), or clamped to the room left; never 5xx.",
       area="context", requires=("context_overflow",), since="0.2.0"),
    _c("context.no-silent-truncation", "MUST", "No silent truncation",
       "A server that answers 200 to a conversation longer than its window MUST have read all "
       "of it: `usage.prompt_tokens` MUST NOT be smaller than the prompt sent (dropping the "
       "oldest messages or cutting the prompt silently is a failure; a 4xx is a pass).",
       area="context", requires=("context_overflow",), sdk=True, since="0.2.0"),
    _c("context.window-advertised", "SHOULD", "Context window advertised",
       "A server SHOULD tell clients its context window: in the `/v1/models` entry "
       "(`max_model_len`, `meta.n_ctx`, `context_length`) or a metadata endpoint (`/props`, "
       "`/api/ps`, `/api/show`, `/api/v0/models`).", area="context", since="0.2.0"),
    # ---- prompt cache (suite 0.2) -------------------------------------------------------------
    _c("cache.prefix-reported", "SHOULD", "Cached prefix reported",
       "A second request repeating a long prompt prefix SHOULD report the reused tokens in "
       "`usage.prompt_tokens_details.cached_tokens` (llama.cpp's `timings.cache_n` accepted "
       "with a warning).", area="cache", requires=("prompt_cache",), sdk=True, alone=True,
       since="0.2.0"),
    _c("cache.time-to-first-token", "MAY", "Cached prefix answered sooner",
       "A second request repeating a long prompt prefix MAY get its first token sooner than "
       "the first did (the prefix is not processed again); measured live.", area="cache",
       replayable=False, requires=("prompt_cache",), since="0.2.0"),
    # ---- vision (images as `image_url` parts) -------------------------------------------------
    _c("vision.image-data-uri", "SHOULD", "Image by data URI understood",
       "Two solid-colour PNGs (blue, then red) sent as `data:image/png;base64,` URIs SHOULD "
       "be understood (asked its colour, each answer names its own and not the other's); a "
       "model without vision SHOULD refuse it with 4xx "
       "saying so (then n/a), never 5xx.", area="vision", requires=("vision",), sdk=True,
       since="0.2.0"),
    _c("vision.image-url", "SHOULD", "Image by URL understood",
       "An `http://` image URL SHOULD be fetched and understood. The harness serves the PNG "
       "itself at `http://127.0.0.1:8089/`, so this needs a server on the same machine that "
       "can reach that loopback port (n/a for a remote server).", area="vision",
       requires=("vision",), since="0.2.0"),
    _c("vision.malformed-image", "MUST", "Malformed image is a 4xx",
       "A data URI whose bytes are no image MUST get 4xx, never 2xx (the image silently "
       "ignored) or 5xx.", area="vision", requires=("vision",), since="0.2.0"),
    _c("vision.url-unreachable", "MUST", "Unfetchable image URL is a 4xx",
       "An image URL that cannot be fetched (the harness's image server answers 404) MUST get "
       "4xx within the request timeout, never 2xx, 5xx or a hang.", area="vision",
       requires=("vision",), since="0.2.0"),
    _c("vision.file-url-refused", "MUST", "Local file path refused",
       "A `file:///etc/passwd` image URL MUST be refused with 4xx, and neither the answer nor "
       "the error may show the file's content.", area="vision", requires=("vision",),
       since="0.2.0"),
    # ---- security (suite 0.2) -----------------------------------------------------------------
    _c("security.special-tokens-user", "SHOULD", "Special tokens in user text stay text",
       "Chat-template control strings in user content (ChatML's `im_start` and `im_end` "
       "markers, `<eos>`) SHOULD reach the model as plain text, never as control tokens that "
       "end the turn (measured from `usage.prompt_tokens` and the reply).", area="security",
       since="0.2.0"),
    _c("security.special-tokens-tool", "SHOULD", "Special tokens in tool results stay text",
       "Chat-template control strings in a `tool` message SHOULD reach the model as plain "
       "text, never as control tokens (measured from `usage.prompt_tokens`).",
       area="security", requires=("tools",), since="0.2.0"),
    _c("security.auth-rejected", "SHOULD", "Missing or wrong key refused with 401",
       "A server that requires an API key SHOULD answer a request with no key or a wrong key "
       "with 401 and an OpenAI error body `{\"error\": {\"message\", \"type\"}}`; it MUST "
       "NOT answer 2xx (the SDK layer: a wrong key raises `HTTPStatusError` 401 that does "
       "not repeat the key).", area="security", requires=("auth",), sdk=True, since="0.2.0"),
    # ---- the Anthropic Messages API (/v1/messages; wire layer only) ---------------------------
    _c("messages.basic", "MUST", "Messages API: non-streamed reply",
       "`POST /v1/messages` MUST answer `type: \"message\"`, `role: \"assistant\"`, a string "
       "`id`, a `content` array of typed blocks (a text block with string `text`), a "
       "`stop_reason` from Anthropic's set and `usage` with integer `input_tokens` and "
       "`output_tokens`.", area="messages", since="0.2.0"),
    _c("messages.stream.event-order", "MUST", "Messages API: streamed event order",
       "A streamed `/v1/messages` reply MUST name every event (`event:`) as its data's `type`, "
       "start with `message_start`, send each content block as `content_block_start`, its "
       "deltas and `content_block_stop` by `index`, then `message_delta` with the "
       "`stop_reason`, and end with `message_stop` (`ping` allowed anywhere).",
       area="messages", since="0.2.0"),
    _c("messages.tool-use", "MUST", "Messages API: tool use",
       "Asked to use an offered tool, `/v1/messages` MUST answer with a `tool_use` block that "
       "has a non-empty `id`, the tool's `name` and an `input` object valid against its "
       "`input_schema`, and `stop_reason: \"tool_use\"`.", area="messages", since="0.2.0",
       requires=_TOOLS),
    _c("messages.stream.tool-use", "MUST", "Messages API: streamed tool use",
       "Streamed, a `tool_use` block MUST start with its `id` and `name` (SHOULD with "
       "`input: {}`), its `input_json_delta` fragments MUST concatenate to a JSON object valid "
       "against the schema, and `message_delta` MUST say `stop_reason: \"tool_use\"`.",
       area="messages", since="0.2.0", requires=_TOOLS),
    _c("messages.tool-result", "MUST", "Messages API: tool result round trip",
       "A history with an assistant `tool_use` block and a user `tool_result` block MUST be "
       "accepted (never 5xx) and answered in text (SHOULD use the result).",
       area="messages", since="0.2.0", requires=_TOOLS),
    _c("messages.count-tokens", "MUST", "Messages API: `count_tokens`",
       "Where offered, `POST /v1/messages/count_tokens` MUST answer `{\"input_tokens\": N}`, a "
       "positive integer that grows with the prompt; N SHOULD equal the `usage.input_tokens` "
       "`/v1/messages` reports for the same prompt.", area="messages", since="0.2.0"),
    # ---- /v1/responses (the OpenAI Responses API) ----------------------------------------------
    _c("responses.basic", "MUST", "`/v1/responses` answer shape",
       "A non-streamed `POST /v1/responses` with a string `input` MUST return `object: "
       "\"response\"`, a non-empty string `id`, `status: \"completed\"` and an `output` array "
       "with an assistant `message` item whose `content` holds `output_text` parts with the "
       "answer.", area="responses", since="0.2.0"),
    _c("responses.stream-events", "MUST", "Responses stream event order",
       "A streamed response MUST be typed SSE events (each `event:` name, which SHOULD be sent, "
       "equal to its data `type`), opening with `response.created` and ending with "
       "`response.completed`, each item's `response.output_item.added` before its deltas and "
       "`.done`, text deltas joining to `response.output_text.done`, and `sequence_number` "
       "(SHOULD be sent) increasing.", area="responses", since="0.2.0"),
    _c("responses.function-call", "MUST", "Responses function call",
       "Offered a function tool, a non-streamed response MUST carry a `function_call` output item "
       "with a non-empty `call_id`, the tool's `name` and string `arguments` that parse to a JSON "
       "object valid against the tool's schema.", area="responses", requires=_TOOLS,
       since="0.2.0"),
    _c("responses.function-call-stream", "MUST", "Streamed Responses function call",
       "A streamed function call MUST open with `response.output_item.added` carrying the item's "
       "`call_id` and `name`, and its `response.function_call_arguments.delta` events MUST join to "
       "the `.done` arguments and to the `output_item.done` item: a JSON object valid against the "
       "schema.", area="responses", requires=_TOOLS, since="0.2.0"),
    _c("responses.input-items-roundtrip", "MUST", "Function call output resent as input",
       "An `input` resending a `function_call` item and its `function_call_output` MUST be "
       "accepted and answered with a `message` (that SHOULD use the output rather than call the "
       "tool again).", area="responses", requires=_TOOLS, since="0.2.0"),
    _c("responses.previous-response-id", "SHOULD", "`previous_response_id` continues a response",
       "A server that stores responses SHOULD answer a request naming `previous_response_id` "
       "with that conversation as context; one that does not store SHOULD say so (`store: "
       "false`, a 404 for the id, or a 4xx naming `previous_response_id` or `store`): silently "
       "ignoring it is a failure.",
       area="responses", since="0.2.0"),
)  # fmt: skip

_BY_ID = {c.id: c for c in CHECKS}
if len(_BY_ID) != len(CHECKS):  # pragma: no cover - guards edits
    raise RuntimeError("duplicate check ids in the registry")


def get(check_id: str) -> Check:
    return _BY_ID[check_id]


def select(patterns: Sequence[str] | None = None) -> list[Check]:
    """Checks whose id matches any glob in ``patterns`` (comma-separated items allowed)."""
    globs = [p.strip() for item in (patterns or ()) for p in item.split(",") if p.strip()]
    if not globs:
        return list(CHECKS)
    return [c for c in CHECKS if any(fnmatch.fnmatchcase(c.id, g) for g in globs)]


def _rows(checks: Iterable[Check]) -> list[list[str]]:
    return [
        [
            c.id,
            c.level,
            c.area,
            "+".join(c.layers),
            "yes" if c.replayable else "live",
            ", ".join(c.requires) or "-",
            c.since,
            c.statement,
        ]
        for c in checks
    ]


_HEADERS = ["id", "level", "area", "layers", "replay", "requires", "since", "requirement"]


def text_table(checks: Iterable[Check] = CHECKS) -> str:
    """Plain-text table for ``--conformance-list``."""
    from tabulate import tabulate

    items = list(checks)
    rows = [[*r[:7], c.title] for r, c in zip(_rows(items), items, strict=True)]
    return tabulate(rows, headers=[*_HEADERS[:7], "title"], tablefmt="simple")


def markdown_table(checks: Iterable[Check] = CHECKS) -> str:
    """GitHub-flavoured Markdown table (``docs/conformance.md`` embeds it)."""
    from tabulate import tabulate

    items = list(checks)
    rows = [[f"`{r[0]}`", *r[1:]] for r in _rows(items)]
    return tabulate(rows, headers=_HEADERS, tablefmt="github")


# ---- implementations -------------------------------------------------------------------------

CheckFn = Callable[["Ctx"], Awaitable[None]]
#: (check id, layer) → implementation, filled by the modules of :mod:`conformance.checks`.
IMPLEMENTATIONS: dict[tuple[str, Layer], CheckFn] = {}


def impl(check_id: str, layer: Layer = "wire") -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        key = (check_id, layer)
        if key in IMPLEMENTATIONS:
            raise RuntimeError(f"two implementations for {key}")
        IMPLEMENTATIONS[key] = fn
        return fn

    return register
