"""``AgentOptions.mcp_servers`` parsed and checked: claude-agent-sdk's config shapes become
frozen specs, and every mistake is a ConfigurationError naming the server and the field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from .sdk import SdkMcpServer

__all__ = ["PREFIX", "HttpSpec", "SdkSpec", "ServerSpec", "StdioSpec", "parse_servers", "tool_name"]

#: MCP tools are offered as ``mcp__<server>__<tool>`` (claude-agent-sdk's names).
PREFIX = "mcp__"
_SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]+\Z")
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_KEYS = {
    "stdio": {"type", "command", "args", "env"},
    "http": {"type", "url", "headers"},
    "sse": {"type", "url", "headers"},
    "sdk": {"type", "name", "instance"},
}


@dataclass(frozen=True, slots=True)
class StdioSpec:
    name: str
    command: str
    args: tuple[str, ...]
    env: Mapping[str, str] | None = field(repr=False)  # may carry tokens


@dataclass(frozen=True, slots=True)
class HttpSpec:
    name: str
    kind: Literal["http", "sse"]
    url: str = field(repr=False)  # may carry credentials
    headers: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True, slots=True)
class SdkSpec:
    name: str
    server: SdkMcpServer


ServerSpec = StdioSpec | HttpSpec | SdkSpec


def tool_name(server: str, tool: str) -> str | None:
    """The name the model calls an MCP tool by; None when it breaks the 64-character rule."""
    name = f"{PREFIX}{server}__{tool}"
    return name if _TOOL_NAME.match(name) else None


def _str_map(where: str, field: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigurationError(f"{where}: {field!r} must be a dict of str to str")
    for key, item in value.items():
        if any(ord(c) < 32 or ord(c) == 127 for c in key + item):
            raise ConfigurationError(f"{where}: {field}[{key!r}] has a control character")
    return dict(value)


def _sdk(where: str, name: str, server: SdkMcpServer) -> SdkSpec:
    for tool in server.tools:
        if tool_name(name, tool.name) is None:
            raise ConfigurationError(
                f"{where}: its tool {tool.name!r} would be offered as "
                f"mcp__{name}__{tool.name}, longer than the 64 characters tool names may "
                "have; use a shorter server key or tool name"
            )
    return SdkSpec(name, server)


def _one(name: Any, config: Any) -> ServerSpec:
    if not isinstance(name, str) or not _SERVER_NAME.match(name):
        raise ConfigurationError(
            f"mcp_servers: server name {name!r} is invalid; use letters, digits, '_' or '-'"
        )
    where = f"mcp_servers[{name!r}]"
    if len(f"{PREFIX}{name}__x") > 64:
        raise ConfigurationError(
            f"{where}: the name is too long; its tools are offered as mcp__{name}__<tool> "
            "and tool names have at most 64 characters"
        )
    if isinstance(config, SdkMcpServer):
        return _sdk(where, name, config)
    if not isinstance(config, Mapping):
        raise ConfigurationError(
            f"{where} must be a config dict or create_sdk_mcp_server(...), "
            f"got {type(config).__name__}"
        )
    kind = config.get("type", "stdio")
    if kind not in _KEYS:
        raise ConfigurationError(
            f"{where}: 'type' must be 'stdio', 'http', 'sse' or 'sdk', got {kind!r}"
        )
    unknown = sorted(str(k) for k in config if k not in _KEYS[kind])
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))} for type {kind!r} "
            f"(known: {', '.join(sorted(_KEYS[kind]))})"
        )
    if kind == "stdio":
        command = config.get("command")
        if not isinstance(command, str) or not command.strip() or "\0" in command:
            raise ConfigurationError(f"{where}: 'command' must be a non-empty str")
        args = config.get("args", ())
        if isinstance(args, (str, bytes)) or not isinstance(args, (list, tuple)):
            raise ConfigurationError(f"{where}: 'args' must be a list of str")
        if not all(isinstance(a, str) and "\0" not in a for a in args):
            raise ConfigurationError(f"{where}: 'args' must be a list of str (no NUL)")
        env = config.get("env")
        return StdioSpec(
            name, command, tuple(args), None if env is None else _str_map(where, "env", env)
        )
    if kind == "sdk":
        instance = config.get("instance")
        if not isinstance(instance, SdkMcpServer):
            raise ConfigurationError(
                f"{where}: 'instance' must be the server made by create_sdk_mcp_server, "
                f"got {type(instance).__name__}"
            )
        return _sdk(where, name, instance)
    url = config.get("url")
    if not isinstance(url, str):
        raise ConfigurationError(f"{where}: 'url' must be an http:// or https:// URL")
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"{where}: 'url' must be an http:// or https:// URL")
    headers = _str_map(where, "headers", config.get("headers", {}))
    return HttpSpec(name, kind, url.strip(), headers)


def parse_servers(value: Any) -> tuple[ServerSpec, ...]:
    """Check ``mcp_servers`` (name → config) and return one spec per server."""
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"mcp_servers must be a dict of server name to config, got {type(value).__name__}"
        )
    return tuple(_one(name, config) for name, config in value.items())
