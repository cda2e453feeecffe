"""Hooks and can_use_tool: matching, deny, rewrite, fail-closed, configuration errors."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from any_agent import AgentOptions, ConfigurationError
from any_agent._agent.run_tools import HookRunner, PreToolDecision, PromptDecision
from any_agent.hooks import (
    HookMatcher,
    HookResult,
    PermissionResultAllow,
    PermissionResultDeny,
    PostToolUseInput,
    PreToolUseInput,
    StopInput,
    ToolPermissionContext,
    UserPromptSubmitInput,
)
from any_agent.tools import ToolOutput


def recorder(log: list[Any], result: HookResult | None = None) -> Any:
    async def hook(event: Any) -> HookResult | None:
        log.append(event)
        return result

    return hook


# --------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("matcher", "bash", "read_file", "bash_extra"),
    [
        (None, True, True, True),
        ("", True, True, True),
        ("*", True, True, True),
        ("Bash", True, False, False),  # whole-name match, not search
        ("Bash|read_.*", True, True, False),
        ("read_.*", False, True, False),
    ],
)
def test_matcher(matcher: str | None, bash: bool, read_file: bool, bash_extra: bool) -> None:
    m = HookMatcher(matcher, [recorder([])])
    assert (m.matches("Bash"), m.matches("read_file"), m.matches("BashExtra")) == (
        bash,
        read_file,
        bash_extra,
    )


async def test_only_matching_hooks_run_in_order() -> None:
    log: list[str] = []

    def named(tag: str) -> Any:
        async def hook(event: PreToolUseInput) -> None:
            log.append(f"{tag}:{event.tool_name}")

        return hook

    runner = HookRunner(
        {
            "PreToolUse": [
                HookMatcher("Bash", [named("a"), named("b")]),
                HookMatcher("Write", [named("w")]),
                HookMatcher(None, [named("all")]),
            ]
        }
    )
    decision = await runner.pre_tool_use("Bash", {"cmd": "ls"}, "call_1")
    assert decision == PreToolDecision(True, {"cmd": "ls"})
    assert log == ["a:Bash", "b:Bash", "all:Bash"]


async def test_hook_inputs_are_typed_and_complete() -> None:
    log: list[Any] = []
    runner = HookRunner(
        {
            "PreToolUse": [HookMatcher(None, [recorder(log)])],
            "PostToolUse": [HookMatcher(None, [recorder(log)])],
            "UserPromptSubmit": [HookMatcher(None, [recorder(log)])],
            "Stop": [HookMatcher(None, [recorder(log)])],
        }
    )
    await runner.user_prompt("hi")
    await runner.pre_tool_use("t", {"a": 1}, "id1")
    await runner.post_tool_use("t", {"a": 1}, "id1", "result", False)
    await runner.stop("stop")
    assert log == [
        UserPromptSubmitInput("hi"),
        PreToolUseInput("t", {"a": 1}, "id1"),
        PostToolUseInput("t", {"a": 1}, "id1", "result", False),
        StopInput("stop"),
    ]
    assert [e.hook_event_name for e in log] == [
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "Stop",
    ]


async def test_no_hooks_allows_everything() -> None:
    runner = HookRunner()
    assert await runner.pre_tool_use("x", {"k": 1}, "i") == PreToolDecision(True, {"k": 1})
    assert await runner.post_tool_use("x", {}, "i", "r", True) == ToolOutput("r", True)
    assert await runner.user_prompt("p") == PromptDecision(True, "p")
    await runner.stop("stop")
    assert not runner.has_hooks("PreToolUse")


def test_from_agent_options() -> None:
    opts = AgentOptions(
        model="m",
        base_url="http://h:1/v1",
        hooks={"Stop": [HookMatcher(hooks=[recorder([])])]},
        can_use_tool=lambda name, data: PermissionResultAllow(),
    )
    runner = HookRunner(opts.hooks, opts.can_use_tool)
    assert runner.has_hooks("Stop")
    assert not runner.has_hooks("PostToolUse")


# --------------------------------------------------------------------------- PreToolUse


async def test_pre_tool_use_deny_stops_later_hooks() -> None:
    later: list[Any] = []
    runner = HookRunner(
        {
            "PreToolUse": [
                HookMatcher("Bash", [recorder([], HookResult.deny("rm is not allowed"))]),
                HookMatcher(None, [recorder(later)]),
            ]
        }
    )
    decision = await runner.pre_tool_use("Bash", {"cmd": "rm -rf /"}, "c1")
    assert decision == PreToolDecision(False, {"cmd": "rm -rf /"}, "rm is not allowed")
    assert decision.message == "Permission denied: rm is not allowed"
    assert later == []


async def test_pre_tool_use_deny_without_reason_names_the_hook() -> None:
    async def gatekeeper(event: PreToolUseInput) -> HookResult:
        return HookResult(decision="deny")

    runner = HookRunner({"PreToolUse": [HookMatcher(None, [gatekeeper])]})
    decision = await runner.pre_tool_use("x", {}, "c")
    assert not decision.allowed
    assert decision.reason is not None
    assert "gatekeeper" in decision.reason


async def test_pre_tool_use_rewrites_chain() -> None:
    seen: list[dict[str, Any]] = []

    async def add_limit(event: PreToolUseInput) -> HookResult:
        seen.append(event.tool_input)
        return HookResult(updated_input={**event.tool_input, "limit": 10})

    def upper(event: PreToolUseInput) -> HookResult:
        seen.append(event.tool_input)
        return HookResult(updated_input={**event.tool_input, "q": event.tool_input["q"].upper()})

    runner = HookRunner({"PreToolUse": [HookMatcher(None, [add_limit, upper])]})
    decision = await runner.pre_tool_use("search", {"q": "cats"}, "c")
    assert decision == PreToolDecision(True, {"q": "CATS", "limit": 10})
    assert seen == [{"q": "cats"}, {"q": "cats", "limit": 10}]


async def test_in_place_mutation_of_the_input_is_ignored() -> None:
    async def meddle(event: PreToolUseInput) -> None:
        event.tool_input["q"]["nested"] = "changed"

    original = {"q": {"nested": "original"}}
    runner = HookRunner({"PreToolUse": [HookMatcher(None, [meddle])]})
    decision = await runner.pre_tool_use("x", original, "c")
    assert decision.input == {"q": {"nested": "original"}}
    assert original == {"q": {"nested": "original"}}


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("raise", "PreToolUse hook failed: boom raised RuntimeError: disk on fire"),
        ("wrong_type", "PreToolUse hook failed: boom returned str; a hook returns HookResult"),
        ("bad_input", "PreToolUse hook failed: boom gave updated_input of type list"),
    ],
)
async def test_pre_tool_use_fails_closed(
    behaviour: str, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[Any] = []

    async def boom(event: PreToolUseInput) -> Any:
        if behaviour == "raise":
            raise RuntimeError("disk on fire")
        if behaviour == "wrong_type":
            return "allow"
        return HookResult(updated_input=["not", "a", "dict"])  # type: ignore[arg-type]

    def permission(name: str, data: dict[str, Any]) -> PermissionResultAllow:
        ran.append(name)
        return PermissionResultAllow()

    runner = HookRunner({"PreToolUse": [HookMatcher(None, [boom])]}, permission)
    with caplog.at_level(logging.WARNING, logger="any_agent.hooks"):
        decision = await runner.pre_tool_use("x", {"a": 1}, "c")
    assert not decision.allowed
    assert decision.reason is not None
    assert decision.reason.startswith(expected)
    assert ran == []
    assert "denying the tool call" in caplog.text


async def test_pre_tool_use_timeout_fails_closed() -> None:
    async def slow(event: PreToolUseInput) -> None:
        await asyncio.sleep(10)

    runner = HookRunner({"PreToolUse": [HookMatcher(None, [slow], timeout=0.05)]})
    decision = await runner.pre_tool_use("x", {}, "c")
    assert not decision.allowed
    assert decision.reason == "PreToolUse hook failed: slow timed out after 0.05s"


async def test_hook_raising_timeout_error_is_not_reported_as_a_timeout() -> None:
    async def liar(event: PreToolUseInput) -> None:
        raise TimeoutError("upstream")

    runner = HookRunner({"PreToolUse": [HookMatcher(None, [liar], timeout=5)]})
    decision = await runner.pre_tool_use("x", {}, "c")
    assert decision.reason is not None
    assert "raised TimeoutError: upstream" in decision.reason


async def test_sync_hooks_run_in_a_worker_thread() -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def sync_hook(event: PreToolUseInput) -> None:
        threads.append(threading.get_ident())

    runner = HookRunner({"PreToolUse": [HookMatcher(None, [sync_hook])]})
    assert (await runner.pre_tool_use("x", {}, "c")).allowed
    assert threads
    assert threads[0] != loop_thread


# --------------------------------------------------------------------------- can_use_tool


async def test_can_use_tool_allow_deny_and_rewrite() -> None:
    async def policy(name: str, data: dict[str, Any]) -> Any:
        if name == "delete":
            return PermissionResultDeny("deleting is off", interrupt=True)
        if name == "search":
            return PermissionResultAllow(updated_input={**data, "safe": True})
        return PermissionResultAllow()

    runner = HookRunner(can_use_tool=policy)
    assert await runner.pre_tool_use("delete", {"id": 1}, "c") == PreToolDecision(
        False, {"id": 1}, "deleting is off", interrupt=True
    )
    assert await runner.pre_tool_use("search", {"q": "x"}, "c") == PreToolDecision(
        True, {"q": "x", "safe": True}
    )
    assert await runner.pre_tool_use("read", {}, "c") == PreToolDecision(True, {})


async def test_can_use_tool_sees_the_hook_rewritten_input() -> None:
    seen: list[Any] = []

    def policy(name: str, data: dict[str, Any]) -> PermissionResultAllow:
        seen.append((name, data))
        return PermissionResultAllow()

    runner = HookRunner(
        {"PreToolUse": [HookMatcher(None, [recorder([], HookResult(updated_input={"a": 2}))])]},
        policy,
    )
    assert (await runner.pre_tool_use("t", {"a": 1}, "c")).input == {"a": 2}
    assert seen == [("t", {"a": 2})]


async def test_hook_allow_skips_can_use_tool_but_not_later_denials() -> None:
    asked: list[str] = []

    def policy(name: str, data: dict[str, Any]) -> PermissionResultDeny:
        asked.append(name)
        return PermissionResultDeny("no")

    allow = recorder([], HookResult.allow())
    runner = HookRunner({"PreToolUse": [HookMatcher("safe_.*", [allow])]}, policy)
    assert (await runner.pre_tool_use("safe_read", {}, "c")).allowed
    assert asked == []
    assert not (await runner.pre_tool_use("other", {}, "c")).allowed
    assert asked == ["other"]

    deny = recorder([], HookResult.deny("second hook says no"))
    runner = HookRunner({"PreToolUse": [HookMatcher(None, [allow, deny])]}, policy)
    assert (await runner.pre_tool_use("x", {}, "c")).reason == "second hook says no"


async def test_can_use_tool_with_context_argument() -> None:
    contexts: list[Any] = []

    async def policy(name: str, data: dict[str, Any], context: ToolPermissionContext) -> Any:
        contexts.append(context)
        return PermissionResultAllow()

    await HookRunner(can_use_tool=policy).pre_tool_use("x", {}, "call_9")
    assert contexts == [ToolPermissionContext("call_9")]


async def test_sync_can_use_tool_runs_in_a_thread() -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def policy(name: str, data: dict[str, Any]) -> PermissionResultAllow:
        threads.append(threading.get_ident())
        return PermissionResultAllow()

    assert (await HookRunner(can_use_tool=policy).pre_tool_use("x", {}, "c")).allowed
    assert threads
    assert threads[0] != loop_thread


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (RuntimeError("db down"), "can_use_tool failed: policy raised RuntimeError: db down"),
        (True, "can_use_tool failed: policy returned bool; can_use_tool returns"),
        (None, "can_use_tool failed: policy returned NoneType"),
    ],
)
async def test_can_use_tool_fails_closed(verdict: Any, expected: str) -> None:
    def policy(name: str, data: dict[str, Any]) -> Any:
        if isinstance(verdict, Exception):
            raise verdict
        return verdict

    decision = await HookRunner(can_use_tool=policy).pre_tool_use("x", {}, "c")
    assert not decision.allowed
    assert decision.reason is not None
    assert decision.reason.startswith(expected)


async def test_can_use_tool_deny_without_message() -> None:
    def policy(name: str, data: dict[str, Any]) -> PermissionResultDeny:
        return PermissionResultDeny()

    decision = await HookRunner(can_use_tool=policy).pre_tool_use("x", {}, "c")
    assert decision.reason is not None
    assert "policy" in decision.reason
    assert decision.message.startswith("Permission denied: denied by")


# --------------------------------------------------------------------------- PostToolUse


async def test_post_tool_use_rewrites_in_order() -> None:
    seen: list[str] = []

    async def redact(event: PostToolUseInput) -> HookResult:
        seen.append(event.result)
        return HookResult(updated_result=event.result.replace("s3cret", "[redacted]"))

    async def annotate(event: PostToolUseInput) -> HookResult:
        seen.append(event.result)
        return HookResult(updated_result=event.result + " (checked)")

    runner = HookRunner(
        {
            "PostToolUse": [
                HookMatcher("read_.*", [redact]),
                HookMatcher(None, [annotate]),
            ]
        }
    )
    out = await runner.post_tool_use("read_env", {}, "c", "KEY=s3cret", False)
    assert out == ToolOutput("KEY=[redacted] (checked)", False)
    assert seen == ["KEY=s3cret", "KEY=[redacted]"]
    assert await runner.post_tool_use("ls", {}, "c", "a b", True) == ToolOutput(
        "a b (checked)", True
    )


async def test_post_tool_use_non_str_result_is_serialised() -> None:
    hook = recorder([], HookResult(updated_result={"n": 1}))  # type: ignore[arg-type]
    runner = HookRunner({"PostToolUse": [HookMatcher(None, [hook])]})
    assert await runner.post_tool_use("t", {}, "c", "raw", False) == ToolOutput('{"n":1}')


async def test_post_tool_use_failure_withholds_the_result() -> None:
    async def broken(event: PostToolUseInput) -> None:
        raise KeyError("x")

    runner = HookRunner({"PostToolUse": [HookMatcher(None, [broken])]})
    out = await runner.post_tool_use("t", {}, "c", "KEY=s3cret", False)
    assert out.is_error
    assert "s3cret" not in out.content
    assert out.content.startswith("PostToolUse hook failed:")
    assert "raised KeyError" in out.content


# --------------------------------------------------------------------------- prompts and stop


async def test_user_prompt_rewrite_and_block() -> None:
    async def expand(event: UserPromptSubmitInput) -> HookResult:
        return HookResult(updated_prompt=event.prompt + " Answer briefly.")

    async def guard(event: UserPromptSubmitInput) -> HookResult | None:
        if "password" in event.prompt:
            return HookResult.deny("prompts must not contain passwords")
        return None

    runner = HookRunner({"UserPromptSubmit": [HookMatcher(hooks=[expand, guard])]})
    assert await runner.user_prompt("Hi.") == PromptDecision(True, "Hi. Answer briefly.")
    assert await runner.user_prompt("my password is x") == PromptDecision(
        False, "my password is x Answer briefly.", "prompts must not contain passwords"
    )


async def test_user_prompt_hook_failure_blocks() -> None:
    def broken(event: UserPromptSubmitInput) -> HookResult:
        raise ValueError("nope")

    runner = HookRunner({"UserPromptSubmit": [HookMatcher(hooks=[broken])]})
    decision = await runner.user_prompt("hello")
    assert not decision.allowed
    assert decision.reason is not None
    assert "raised ValueError: nope" in decision.reason


async def test_user_prompt_matcher_is_ignored() -> None:
    log: list[Any] = []
    runner = HookRunner({"UserPromptSubmit": [HookMatcher("Bash", [recorder(log)])]})
    await runner.user_prompt("x")
    assert log == [UserPromptSubmitInput("x")]


async def test_stop_hook_failure_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    log: list[Any] = []

    async def broken(event: StopInput) -> None:
        raise RuntimeError("metrics down")

    runner = HookRunner({"Stop": [HookMatcher(hooks=[broken, recorder(log)])]})
    with caplog.at_level(logging.WARNING, logger="any_agent.hooks"):
        await runner.stop("max_turns")
    assert log == [StopInput("max_turns")]
    assert "metrics down" in caplog.text


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("hooks", "match"),
    [
        ({"PreToolUSE": []}, r"unknown hook event 'PreToolUSE'; expected one of PreToolUse"),
        ({"SubagentStop": []}, "unknown hook event 'SubagentStop'"),
        ({"Stop": HookMatcher()}, r"hooks\['Stop'\] must be a list of HookMatcher"),
        ({"Stop": [print]}, r"hooks\['Stop'\]\[0\] must be a HookMatcher.*wrap it"),
        ({"Stop": ["x"]}, r"hooks\['Stop'\]\[0\] must be a HookMatcher, got str$"),
        ([HookMatcher()], "hooks must be a dict"),
    ],
)
def test_bad_hook_configuration(hooks: Any, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        HookRunner(hooks)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hooks": [42]}, "must contain callables, got int"),
        ({"hooks": print}, "must be a list of callables"),
        ({"matcher": "("}, "not a valid regex"),
        ({"matcher": 3}, "must be a str regex or None"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"timeout": True}, "timeout must be a positive number"),
    ],
)
def test_bad_matcher(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        HookMatcher(**kwargs)


def test_can_use_tool_must_be_callable() -> None:
    with pytest.raises(ConfigurationError, match="can_use_tool must be a callable, got str"):
        HookRunner(can_use_tool="allow")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hooks": {"Bogus": []}}, "unknown hook event 'Bogus'"),
        ({"hooks": {"Stop": [print]}}, r"hooks\['Stop'\]\[0\] must be a HookMatcher"),
        ({"hooks": [HookMatcher()]}, "hooks must be a dict"),
        ({"can_use_tool": 42}, "can_use_tool must be a callable, got int"),
    ],
)
def test_agent_options_checks_hooks_at_construction(kwargs: dict[str, Any], match: str) -> None:
    """The docstring's promise: a bad value raises at ``AgentOptions(...)``, not later at
    ``Client(...)``."""
    with pytest.raises(ConfigurationError, match=match):
        AgentOptions(model="m", base_url="http://127.0.0.1:1/v1", **kwargs)
