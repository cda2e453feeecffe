"""The examples/claude_sdk_*.py programs are claude-agent-sdk programs but for their import line.

Checked mechanically, without claude-agent-sdk installed: with the one ``from any_agent import``
line turned into ``from claude_agent_sdk import``, nothing else refers to any-agent, every
imported name is one claude-agent-sdk 0.2.189 exports, and every call of its API uses
parameters it has (ClaudeAgentOptions fields, tool/create_sdk_mcp_server/query signatures,
ClaudeSDKClient methods), and every message or block attribute read under an ``isinstance``
check is one of that class's fields. tests/test_examples.py runs the same programs against
the scripted server.

The name lists were read with ``ast`` from claude_agent_sdk 0.2.189's wheel
(``__init__.__all__``, the dataclass fields in ``types.py``, the signatures in ``__init__.py``,
``query.py`` and ``client.py``): names only, none of its code.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PROGRAMS = sorted(EXAMPLES.glob("claude_sdk_*.py"))


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# claude_agent_sdk.__all__ (0.2.189)
CLAUDE_SDK_EXPORTS = words(
    """AgentDefinition AssistantMessage BackgroundTaskSummary BaseHookInput CLIConnectionError
    CLIJSONDecodeError CLINotFoundError CanUseTool CanUseToolShadowedWarning ClaudeAgentOptions
    ClaudeSDKClient ClaudeSDKError ContentBlock ContextUsageCategory ContextUsageResponse
    ConversationResetMessage CwdChangedHookSpecificOutput DeferredToolUse EffortLevel
    ElicitationHookSpecificOutput ElicitationResultHookSpecificOutput FastModeDisabledReason
    FastModeState FileChangedHookSpecificOutput ForkSessionResult HookCallback HookContext
    HookEffort HookEventMessage HookInput HookJSONOutput HookMatcher InMemorySessionStore
    McpSdkServerConfig McpServerConfig McpServerConnectionStatus McpServerInfo McpServerStatus
    McpServerStatusConfig McpStatusResponse McpToolAnnotations McpToolInfo Message
    MessageDisplayHookSpecificOutput MessageOrigin MessageOriginKind MirrorErrorMessage
    ModelUsage NotificationHookInput NotificationHookSpecificOutput
    PermissionDeniedHookSpecificOutput PermissionMode PermissionRequestHookInput
    PermissionRequestHookSpecificOutput PermissionResult PermissionResultAllow
    PermissionResultDeny PermissionUpdate PostModelSwitchHookSpecificOutput
    PostToolBatchHookSpecificOutput PostToolUseFailureHookInput
    PostToolUseFailureHookSpecificOutput PostToolUseHookInput PostToolUseHookSpecificOutput
    PreCompactHookInput PreModelSwitchHookSpecificOutput PreToolUseHookInput
    PreToolUseHookSpecificOutput ProcessError RateLimitEvent RateLimitInfo RateLimitStatus
    RateLimitType ResultError ResultMessage SDKSessionInfo SandboxIgnoreViolations
    SandboxNetworkConfig SandboxSettings SdkBeta SdkMcpTool SdkPluginConfig ServerToolName
    ServerToolResultBlock ServerToolUseBlock SessionCronSummary SessionKey
    SessionListSubkeysKey SessionMessage SessionStartHookSpecificOutput SessionStore
    SessionStoreEntry SessionStoreFlushMode SessionStoreListEntry SessionSummaryEntry
    SettingSource StopHookInput StopHookSpecificOutput StreamEvent SubagentStartHookInput
    SubagentStartHookSpecificOutput SubagentStopHookInput SubagentStopHookSpecificOutput
    SystemInitData SystemInitMcpServer SystemInitPlugin SystemInitPluginError SystemMessage
    TERMINAL_TASK_STATUSES TaskBudget TaskNotificationMessage TaskNotificationOriginSubkind
    TaskNotificationStatus TaskProgressMessage TaskStartedMessage TaskUpdatedMessage
    TaskUpdatedStatus TaskUsage TextBlock ThinkingBlock ThinkingConfig ThinkingConfigAdaptive
    ThinkingConfigDisabled ThinkingConfigEnabled ToolAnnotations ToolPermissionContext
    ToolResultBlock ToolUseBlock Transport UserMessage UserPromptExpansionHookSpecificOutput
    UserPromptSubmitHookInput UserPromptSubmitHookSpecificOutput WorktreeCreateHookSpecificOutput
    __version__ create_sdk_mcp_server delete_session delete_session_via_store
    fold_session_summary fork_session fork_session_via_store get_session_info
    get_session_info_from_store get_session_messages get_session_messages_from_store
    get_subagent_messages get_subagent_messages_from_store import_session_to_store
    list_sessions list_sessions_from_store list_subagents list_subagents_from_store
    project_key_for_directory query rename_session rename_session_via_store tag_session
    tag_session_via_store tool"""
)

# the ClaudeAgentOptions dataclass fields (all keyword-usable)
CLAUDE_AGENT_OPTIONS_FIELDS = words(
    """tools allowed_tools system_prompt mcp_servers strict_mcp_config permission_mode
    continue_conversation resume session_id max_turns max_budget_usd disallowed_tools model
    fallback_model betas permission_prompt_tool_name cwd cli_path settings add_dirs env
    extra_args max_buffer_size debug_stderr stderr can_use_tool hooks user
    include_partial_messages include_hook_events forward_subagent_text verbatim_prompts
    fork_session resume_session_at resume_drops_turn agents setting_sources skills sandbox
    plugins max_thinking_tokens thinking effort output_format enable_file_checkpointing
    session_store session_store_flush load_timeout_ms task_budget client_app"""
)


@dataclass(frozen=True)
class Signature:
    positional: tuple[str, ...]  # may be passed by position, in this order
    keyword: tuple[str, ...]  # may be passed by keyword
    required: tuple[str, ...]


SIGNATURES = {
    "tool": Signature(
        ("name", "description", "input_schema", "annotations"),
        ("name", "description", "input_schema", "annotations"),
        ("name", "description", "input_schema"),
    ),
    "create_sdk_mcp_server": Signature(
        ("name", "version", "tools"), ("name", "version", "tools"), ("name",)
    ),
    "query": Signature((), ("prompt", "options", "transport"), ("prompt",)),  # keyword-only
    "ClaudeSDKClient": Signature(("options", "transport"), ("options", "transport"), ()),
    "HookMatcher": Signature(
        ("matcher", "hooks", "timeout", "on_failure"),
        ("matcher", "hooks", "timeout", "on_failure"),
        (),
    ),
    "PermissionResultAllow": Signature(
        ("behavior", "updated_input", "updated_permissions"),
        ("behavior", "updated_input", "updated_permissions"),
        (),
    ),
    "PermissionResultDeny": Signature(
        ("behavior", "message", "interrupt"), ("behavior", "message", "interrupt"), ()
    ),
    # any-agent's ClaudeAgentOptions takes keywords only, so the programs use keywords
    "ClaudeAgentOptions": Signature((), tuple(sorted(CLAUDE_AGENT_OPTIONS_FIELDS)), ()),
}

CLIENT_METHODS = words(
    """connect receive_messages query interrupt set_permission_mode set_model rewind_files
    reconnect_mcp_server toggle_mcp_server stop_task get_mcp_status get_context_usage
    get_server_info receive_response disconnect"""
)

# the dataclass fields of the messages and blocks (types.py)
FIELDS = {
    "TextBlock": frozenset({"text"}),
    "ThinkingBlock": words("thinking signature"),
    "ToolUseBlock": words("id name input"),
    "ToolResultBlock": words("tool_use_id content is_error"),
    "UserMessage": words("content uuid parent_tool_use_id tool_use_result origin"),
    "AssistantMessage": words(
        """content model parent_tool_use_id error usage message_id stop_reason session_id uuid
        user_message_uuid user_message_uuids"""
    ),
    "SystemMessage": words("subtype data"),
    "ResultMessage": words(
        """subtype duration_ms duration_api_ms is_error num_turns session_id stop_reason
        total_cost_usd usage result structured_output model_usage permission_denials
        deferred_tool_use errors api_error_status uuid terminal_reason origin user_message_uuid
        user_message_uuids"""
    ),
}


def as_claude_program(path: Path) -> str:
    """The program with its any_agent import line turned into claude_agent_sdk's."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    imports = [i for i, line in enumerate(lines) if line.startswith("from any_agent import ")]
    assert len(imports) == 1, f"{path.name}: exactly one `from any_agent import` line"
    (at,) = imports
    lines[at] = lines[at].replace("from any_agent import ", "from claude_agent_sdk import ", 1)
    return "".join(lines)


def problems(source: str) -> list[str]:
    """What in a program claude-agent-sdk 0.2.189 would not have (empty when nothing)."""
    found: list[str] = []
    tree = ast.parse(source)
    names = [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline)]
    if "any_agent" in names:
        found.append("still names any_agent after the import line")
    docstring = ast.get_docstring(tree, clean=False)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.startswith("claude")]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module == "claude_agent_sdk":
                found += [
                    f"claude_agent_sdk has no {a.name!r}"
                    for a in node.names
                    if a.name not in CLAUDE_SDK_EXPORTS
                ]
            elif module.startswith(("claude_agent_sdk.", "_common")):
                found.append(f"from {module} import ...")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "ANY_AGENT_" in node.value and node.value != docstring:
                found.append(f"reads {node.value!r} itself")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            found += call_problems(node.func.id, node)
    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "tool" and id(node) not in calls:
            found.append(f"line {node.lineno}: bare `tool` (claude-agent-sdk's takes name, ...)")
        elif isinstance(node, ast.AsyncWith):
            for item in node.items:
                call = item.context_expr
                target = item.optional_vars
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Name)
                    and call.func.id == "ClaudeSDKClient"
                    and isinstance(target, ast.Name)
                ):
                    found += [
                        f"ClaudeSDKClient has no method {attr!r}"
                        for attr in attributes_of(target.id, node.body)
                        if attr not in CLIENT_METHODS
                    ]
        elif isinstance(node, ast.If):
            for variable, cls in isinstance_checks(node.test):
                found += [
                    f"line {node.lineno}: {cls} has no field {attr!r}"
                    for attr in attributes_of(variable, node.body)
                    if attr not in FIELDS[cls]
                ]
    return found


def call_problems(name: str, call: ast.Call) -> list[str]:
    signature = SIGNATURES.get(name)
    if signature is None:
        return []
    found = []
    if len(call.args) > len(signature.positional):
        found.append(f"{name}() takes at most {len(signature.positional)} positional arguments")
    given = set(signature.positional[: len(call.args)])
    for keyword in call.keywords:
        if keyword.arg is None:
            continue
        if keyword.arg not in signature.keyword:
            found.append(f"{name}() has no parameter {keyword.arg!r}")
        given.add(keyword.arg)
    found += [f"{name}() needs {r!r}" for r in signature.required if r not in given]
    return found


def isinstance_checks(test: ast.expr) -> list[tuple[str, str]]:
    """(variable, class) for each ``isinstance(variable, Class)`` in an if-test."""
    checks = []
    for node in ast.walk(test):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "isinstance"
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Name)
            and isinstance(node.args[1], ast.Name)
            and node.args[1].id in FIELDS
        ):
            checks.append((node.args[0].id, node.args[1].id))
    return checks


def attributes_of(variable: str, body: list[ast.stmt]) -> set[str]:
    """The attributes read off ``variable`` in ``body`` (not in nested isinstance branches of
    another class: those are checked on their own)."""
    seen: set[str] = set()
    for statement in body:
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == variable
            ):
                seen.add(node.attr)
    return seen


def test_there_are_claude_sdk_programs() -> None:
    names = {p.name for p in PROGRAMS}
    assert {
        "claude_sdk_program.py",
        "claude_sdk_custom_tools.py",
        "claude_sdk_mcp_servers.py",
        "claude_sdk_structured_output.py",
    } <= names


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_only_the_import_line_differs(program: Path) -> None:
    assert problems(as_claude_program(program)) == []


@pytest.mark.parametrize(
    ("snippet", "problem"),
    [
        ("from claude_agent_sdk import Client\n", "claude_agent_sdk has no 'Client'"),
        ("ClaudeAgentOptions(base_url='x')\n", "ClaudeAgentOptions() has no parameter 'base_url'"),
        ("query('hi')\n", "query() takes at most 0 positional arguments"),
        (
            "@tool\ndef f(city: str): ...\n",
            "line 1: bare `tool` (claude-agent-sdk's takes name, ...)",
        ),
        ("tool('add', 'Add')\n", "tool() needs 'input_schema'"),
        (
            "async def f(c):\n    async with ClaudeSDKClient() as c:\n        c.history\n",
            "ClaudeSDKClient has no method 'history'",
        ),
        (
            "if isinstance(m, ResultMessage):\n    m.num_tool_calls\n",
            "line 1: ResultMessage has no field 'num_tool_calls'",
        ),
        (
            "if isinstance(m, AssistantMessage):\n    m.text\n",
            "line 1: AssistantMessage has no field 'text'",
        ),
        ("import os\nos.environ['ANY_AGENT_MODEL']\n", "reads 'ANY_AGENT_MODEL' itself"),
        ("from _common import server_args\n", "from _common import ..."),
    ],
)
def test_the_check_sees_what_claude_agent_sdk_lacks(snippet: str, problem: str) -> None:
    # any-agent extensions a port could slip in: the check must name each one
    assert problem in problems(snippet)
