"""One port per server, everywhere (issue 18 item 2).

``make server``, ``make certify``, ``make record`` and the server scripts take a provider's
port from one table (``conformance/catalogue/project_servers.py``), and a server that cannot
be reached is named with the port tried and the port the project's own scripts use.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from conformance.catalogue.profiles import get_profile
from conformance.catalogue.project_servers import PROJECT_SERVERS, project_base_url
from conformance.probe import probe_server
from conformance.settings import UsageError

REPO = Path(__file__).resolve().parents[1]
SERVERS = REPO / "scripts" / "servers"


def _make_dry_run(*args: str) -> str:
    # `record` has no sub-make in its recipe, so -n only prints it: nothing runs.
    proc = subprocess.run(
        ["make", "-n", "--no-print-directory", "record", *args],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return proc.stdout + proc.stderr


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="no make")


@needs_make
@pytest.mark.parametrize("provider", sorted(PROJECT_SERVERS))
def test_make_record_goes_where_make_server_listens(provider: str) -> None:
    out = _make_dry_run(f"PROVIDER={provider}")
    assert f"--base-url {project_base_url(provider)}" in out, out


@needs_make
def test_an_explicit_base_url_wins_and_other_providers_keep_their_default() -> None:
    out = _make_dry_run("PROVIDER=llamacpp-tools", "BASE_URL=http://127.0.0.1:9000/v1")
    assert "--base-url http://127.0.0.1:9000/v1" in out
    assert "8092" not in out
    assert "--base-url" not in _make_dry_run("PROVIDER=ollama")


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_the_server_scripts_read_the_same_table() -> None:
    names = " ".join(PROJECT_SERVERS)
    script = (
        f'source "{SERVERS}/lib.sh"; echo "$PROVIDERS"; '
        f'for p in {names}; do echo "$p $(provider_port $p) $(provider_model_id $p)"; done'
    )
    proc = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    lines = proc.stdout.splitlines()
    assert lines[0] == names
    assert lines[1:] == [f"{n} {s.port} {s.model_id}" for n, s in PROJECT_SERVERS.items()]


def test_litellm_config_points_at_the_llamacpp_tools_port() -> None:
    config = (SERVERS / "litellm-config.yaml").read_text(encoding="utf-8")
    ports = {int(p) for p in re.findall(r"api_base:\s*http://127\.0\.0\.1:(\d+)/", config)}
    assert ports == {PROJECT_SERVERS["llamacpp-tools"].port}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_names_the_port_tried_and_the_projects_port() -> None:
    port = _closed_port()
    with pytest.raises(UsageError) as info:
        probe_server(f"http://127.0.0.1:{port}/v1", None, get_profile("llamacpp-tools"), timeout=5)
    text = str(info.value)
    assert f"port {port}" in text
    assert "port 8092" in text
    assert "make server PROVIDER=llamacpp-tools" in text


def test_unreachable_at_the_projects_port_says_how_to_start_it() -> None:
    port = _closed_port()
    profile = get_profile("llamacpp-tools")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(
            PROJECT_SERVERS, "llamacpp-tools", PROJECT_SERVERS["llamacpp-tools"]._replace(port=port)
        )
        with pytest.raises(UsageError) as info:
            probe_server(f"http://127.0.0.1:{port}/v1", None, profile, timeout=5)
    text = str(info.value)
    assert f"port {port}" in text
    assert "start this project's llamacpp-tools server: make server PROVIDER=llamacpp-tools" in text


def test_the_scripts_readme_lists_the_tables_ports() -> None:
    text = (SERVERS / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z-]+)` \|[^|]*\| (\d+) \|", text, flags=re.M)
    assert {name: int(port) for name, port in rows} == {
        n: s.port for n, s in PROJECT_SERVERS.items()
    }
