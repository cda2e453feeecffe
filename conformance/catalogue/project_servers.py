"""The servers this repository runs itself (``scripts/servers/``): the port and model id each
provider is served on, in one table.

Everything that needs them reads this file: ``scripts/servers/lib.sh`` (``make server``,
``make record-server``) runs it as a script, the Makefile passes the port to ``make certify``
and ``make record``, and the suite's unreachable-server message names it. It imports nothing
(the shell scripts run it with any Python 3, before the project is installed).

    python3 conformance/catalogue/project_servers.py port llamacpp-tools    # 8092
    python3 conformance/catalogue/project_servers.py model vllm            # qwen2.5-coder-0.5b
    python3 conformance/catalogue/project_servers.py names
"""

from __future__ import annotations

import sys
from typing import NamedTuple

__all__ = ["PROJECT_SERVERS", "ProjectServer", "project_base_url"]


class ProjectServer(NamedTuple):
    #: The 127.0.0.1 port ``scripts/servers/start.sh`` serves it on.
    port: int
    #: The model id it answers to.
    model_id: str


#: Ports 8091-8099: away from the servers' usual 8080/8000/4000, so the project's servers do
#: not collide with a user's own.
PROJECT_SERVERS: dict[str, ProjectServer] = {
    "llamacpp": ProjectServer(8091, "qwen2.5-coder-1.5b"),
    "llamacpp-tools": ProjectServer(8092, "qwen2.5-coder-1.5b"),
    "litellm": ProjectServer(8093, "qwen2.5-coder-1.5b"),
    "llamacpp-think": ProjectServer(8094, "qwen2.5-coder-1.5b"),
    # text-generation-webui names the model by its file, whatever a request sends
    "tgwui": ProjectServer(8095, "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
    "llamacpp-python": ProjectServer(8096, "qwen2.5-coder-1.5b"),
    "vllm": ProjectServer(8097, "qwen2.5-coder-0.5b"),
    # the folder name: `transformers serve` ids models by path
    "transformers": ProjectServer(8098, "qwen2.5-coder-0.5b-instruct-hf"),
    # text-generation-webui's Transformers loader on the same HF folder (its name is the id)
    "tgwui-transformers": ProjectServer(8099, "qwen2.5-coder-0.5b-instruct-hf"),
}


def project_base_url(name: str) -> str | None:
    """Where ``make server PROVIDER=name`` listens, or None when the project has no such server."""
    found = PROJECT_SERVERS.get(name)
    return f"http://127.0.0.1:{found.port}/v1" if found else None


def main(argv: list[str]) -> int:
    if argv == ["names"]:
        print(" ".join(PROJECT_SERVERS))
        return 0
    if len(argv) == 2 and argv[0] in ("port", "model", "base-url"):
        found = PROJECT_SERVERS.get(argv[1])
        if found is None:
            print(f"unknown project server {argv[1]!r}", file=sys.stderr)
            return 1
        value = {"port": found.port, "model": found.model_id, "base-url": None}[argv[0]]
        print(value if value is not None else project_base_url(argv[1]))
        return 0
    print(
        "usage: project_servers.py names | port NAME | model NAME | base-url NAME", file=sys.stderr
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
