"""The public surface, asserted as httpx's ``tests/test_exported_members.py`` does: what
``any_agent`` exports is exactly its public namespace, every error a user can receive is
importable from it, and the public modules export vocabulary, not engines."""

from __future__ import annotations

import importlib
import pkgutil
import types

import any_agent
from any_agent import hooks, tools


def _public_namespace() -> set[str]:
    eager = {
        name
        for name, value in vars(any_agent).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    return eager | set(any_agent._LAZY) | {"__version__"}


def test_all_equals_the_public_namespace() -> None:
    assert any_agent.__all__ == sorted(any_agent.__all__)
    assert set(any_agent.__all__) == _public_namespace()


def test_every_exported_name_resolves() -> None:
    for name in any_agent.__all__:
        assert getattr(any_agent, name) is not None, name


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def test_every_error_is_exported() -> None:
    for info in pkgutil.walk_packages(any_agent.__path__, "any_agent."):
        importlib.import_module(info.name)  # every module that could define one
    errors = {
        cls
        for cls in _subclasses(any_agent.AnyAgentError)
        if cls.__module__.split(".")[0] == "any_agent"
    }
    assert errors
    for cls in errors:
        assert cls.__name__ in any_agent.__all__, f"{cls.__module__}.{cls.__qualname__}"
        assert getattr(any_agent, cls.__name__) is cls


def test_hooks_exports_only_its_vocabulary() -> None:
    assert set(hooks.__all__) == {
        "HOOK_EVENTS",
        "CanUseTool",
        "HookCallback",
        "HookEvent",
        "HookInput",
        "HookMatcher",
        "HookResult",
        "PermissionResult",
        "PermissionResultAllow",
        "PermissionResultDeny",
        "PostToolUseInput",
        "PreToolUseInput",
        "StopInput",
        "ToolPermissionContext",
        "UserPromptSubmitInput",
    }


def test_tools_exports_only_its_vocabulary() -> None:
    assert set(tools.__all__) == {
        "RunnableTool",
        "Tool",
        "ToolLike",
        "ToolOutput",
        "result_to_text",
        "tool",
    }


def test_mcp_exports_only_its_vocabulary() -> None:
    from any_agent import mcp

    assert set(mcp.__all__) == {
        "MCPServerError",
        "McpHttpServerConfig",
        "McpSSEServerConfig",
        "McpSdkServerConfig",
        "McpServerConfig",
        "McpStdioServerConfig",
        "SdkMcpServer",
        "SdkMcpTool",
        "create_sdk_mcp_server",
    }


def test_public_modules_define_what_they_export() -> None:
    from any_agent import mcp

    for module in (hooks, tools, mcp, any_agent.errors, any_agent.options, any_agent.types):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
