"""The pure parts of ``scripts/servers/`` (issue 17 item 1): per-provider tables, the process
check, text-generation-webui's source input and shim, the reasoning template. No server is
started and no text-generation-webui source is needed (CI has neither)."""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.catalogue.profiles import get_profile
from conformance.catalogue.project_servers import PROJECT_SERVERS

REPO = Path(__file__).resolve().parents[1]
SERVERS = REPO / "scripts" / "servers"
TEMPLATES = SERVERS / "templates"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")


def _bash(script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # TGWUI_SRC only as a test gives it: a developer's own must not change the outcome
    full = {k: v for k, v in os.environ.items() if k != "TGWUI_SRC"}
    full.update(PYTHON=sys.executable, **(env or {}))
    return subprocess.run(
        ["bash", "-c", f'source "{SERVERS}/lib.sh"; {script}'],
        capture_output=True, text=True, timeout=60, check=False, env=full,
    )  # fmt: skip


def _lib_value(name: str) -> str:
    return _bash(f'echo "${name}"').stdout.strip()


# ---- provider tables ---------------------------------------------------------------------------


def test_every_provider_has_a_model_a_health_path_and_a_timeout() -> None:
    names = " ".join(PROJECT_SERVERS)
    out = _bash(
        f"for p in {names}; do "
        'echo "$p $(provider_model $p) $(provider_health_path $p) $(provider_timeout $p)"; done'
    )
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines()}
    assert set(rows) == set(PROJECT_SERVERS)
    for name, row in rows.items():
        assert len(row) == 3, (name, row)  # a missing case arm prints nothing and dies
        assert row[1].startswith("/")
        assert int(row[2]) > 0
    assert rows["llamacpp-think"] == ["qwen2.5-coder-1.5b", "/health", "120"]
    assert rows["tgwui"] == ["qwen2.5-coder-1.5b", "/v1/internal/health", "120"]
    assert rows["tgwui-transformers"] == ["qwen2.5-coder-0.5b-hf", "/v1/internal/health", "600"]


def test_the_new_ports_and_model_ids() -> None:
    assert PROJECT_SERVERS["llamacpp-think"].port == 8094
    assert PROJECT_SERVERS["tgwui"].port == 8095
    assert PROJECT_SERVERS["tgwui-transformers"].port == 8099
    # the HF folder's name, as for transformers serve
    assert (
        PROJECT_SERVERS["tgwui-transformers"].model_id == PROJECT_SERVERS["transformers"].model_id
    )
    # TGW answers with the model's file name: the id is the GGUF models.sh assembles
    info = subprocess.run(
        ["bash", str(SERVERS / "models.sh"), "qwen2.5-coder-1.5b", "--info"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    file = next(line.split("=", 1)[1] for line in info.splitlines() if line.startswith("file="))
    assert Path(file).name == PROJECT_SERVERS["tgwui"].model_id
    assert get_profile("tgwui").project_port == 8095
    assert get_profile("llamacpp-think").project_port == 8094
    assert get_profile("llamacpp-think").capability("reasoning") is True


def test_an_unknown_provider_is_refused_by_name() -> None:
    out = _bash("provider_health_path nope")
    assert out.returncode == 1
    assert "unknown provider 'nope'" in out.stderr


# ---- is_ours: the PID-file guard ---------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--port", "--api-port"])
def test_is_ours_knows_both_port_flags(flag: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", flag, "8095", "--x"]
    )
    try:
        deadline = time.monotonic() + 10
        while b"8095" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        out = _bash(
            f"is_ours {proc.pid} 8095 && echo mine; is_ours {proc.pid} 809 || echo prefix-not-mine;"
            f" is_ours {proc.pid} 8094 || echo other-not-mine"
        )
        assert out.stdout.split() == ["mine", "prefix-not-mine", "other-not-mine"], out.stderr
    finally:
        proc.kill()
        proc.wait()
    assert _bash(f"is_ours {proc.pid} 8095 || echo gone").stdout.strip() == "gone"


# ---- TGWUI_SRC ---------------------------------------------------------------------------------


def _fake_checkout(root: Path) -> Path:
    (root / "modules").mkdir(parents=True)
    (root / "server.py").write_text("", encoding="utf-8")
    (root / "modules" / "llama_cpp_server.py").write_text("", encoding="utf-8")
    return root


def test_a_missing_tgwui_src_says_what_to_do() -> None:
    out = _bash("tgwui_src")
    assert out.returncode == 1
    assert out.stdout == ""
    msg = out.stderr
    assert "TGWUI_SRC is not set" in msg
    assert "TGWUI_SRC=/path/to/checkout" in msg
    assert _lib_value("TGWUI_COMMIT") in msg
    assert "text-generation-webui" in msg
    assert "AGPL" in msg
    assert len(msg.strip().splitlines()) == 1


def test_a_tgwui_src_that_is_not_a_checkout_is_refused(tmp_path: Path) -> None:
    out = _bash("tgwui_src", {"TGWUI_SRC": str(tmp_path)})
    assert out.returncode == 1
    assert f"TGWUI_SRC={tmp_path} is not a text-generation-webui checkout" in out.stderr


def test_a_plain_copy_is_taken_as_is(tmp_path: Path) -> None:
    src = _fake_checkout(tmp_path / "tgw")
    out = _bash("tgwui_src", {"TGWUI_SRC": f"{src}/"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(src)


@pytest.mark.skipif(shutil.which("git") is None, reason="no git")
def test_a_git_checkout_at_another_commit_is_refused(tmp_path: Path) -> None:
    src = _fake_checkout(tmp_path / "tgw")
    git = ["git", "-C", str(src), "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    out = _bash("tgwui_src", {"TGWUI_SRC": str(src)})
    assert out.returncode == 1
    assert f"is at commit {head}, but tgwui is pinned to {_lib_value('TGWUI_COMMIT')}" in out.stderr


@pytest.mark.parametrize("provider", ["tgwui", "tgwui-transformers"])
@pytest.mark.parametrize("script", ["start.sh", "install.sh"])
def test_start_and_install_stop_at_the_missing_source_before_installing(
    script: str, provider: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TGWUI_SRC"}
    env.update(ANY_AGENT_CACHE=str(tmp_path / "cache"), PYTHON=sys.executable)
    out = subprocess.run(
        ["bash", str(SERVERS / script), provider],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert out.returncode == 1
    assert "TGWUI_SRC is not set" in out.stderr
    assert out.stdout == ""
    assert not list((tmp_path / "cache").glob(".venv*"))


# ---- the llama_cpp_binaries shim ---------------------------------------------------------------


def _shim() -> object:
    spec = importlib.util.spec_from_file_location(
        "llama_cpp_binaries_shim", SERVERS / "tgwui" / "llama_cpp_binaries.py"
    )
    assert spec
    assert spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_shim_returns_the_named_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "llama-server"
    binary.write_text("#!/bin/sh\n", encoding="utf-8")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("ANY_AGENT_LLAMA_SERVER", str(binary))
    assert _shim().get_binary_path() == str(binary)  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [None, "", "/nonexistent/llama-server", "NOT_EXECUTABLE"])
def test_the_shim_refuses_a_missing_binary(
    value: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value == "NOT_EXECUTABLE":
        value = str(tmp_path / "plain")
        Path(value).write_text("", encoding="utf-8")
    if value is None:
        monkeypatch.delenv("ANY_AGENT_LLAMA_SERVER", raising=False)
    else:
        monkeypatch.setenv("ANY_AGENT_LLAMA_SERVER", value)
    with pytest.raises(FileNotFoundError, match="ANY_AGENT_LLAMA_SERVER"):
        _shim().get_binary_path()  # type: ignore[attr-defined]


# ---- the reasoning template --------------------------------------------------------------------

_PROMPT = "    {{- '<|im_start|>assistant\\n' }}"
_THINK_PROMPT = [
    "    {{- '<|im_start|>assistant\\n<think>\\n' }}",
    "    {%- if enable_thinking is defined and not enable_thinking %}",
    "        {{- '</think>\\n\\n' }}",
    "    {%- endif %}",
]
_THINK_REPLAY = [
    "        {%- if message.reasoning_content %}",
    "            {{- '\\n<think>\\n' + message.reasoning_content.strip('\\n')"
    " + '\\n</think>\\n' }}",
    "        {%- endif %}",
]


def test_the_think_template_is_the_tool_template_plus_an_open_think_block() -> None:
    base = (TEMPLATES / "qwen25-bare-json-tools.jinja").read_text(encoding="utf-8").splitlines()
    think = (
        (TEMPLATES / "qwen25-bare-json-tools-think.jinja").read_text(encoding="utf-8").splitlines()
    )
    changes = [
        (tag, base[i1:i2], think[j1:j2])
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=base, b=think).get_opcodes()
        if tag != "equal"
    ]
    # only two changes: an assistant turn with tool calls replays its reasoning in a think
    # block, and the generation prompt opens one (closed at once when thinking is off)
    assert changes == [("insert", [], _THINK_REPLAY), ("replace", [_PROMPT], _THINK_PROMPT)]
    replay_at = think.index(_THINK_REPLAY[0])
    assert think[replay_at - 1] == "        {{- '<|im_start|>' + message.role }}"


# ---- facts -------------------------------------------------------------------------------------


def _facts(provider: str, tmp_path: Path, **env: str) -> dict[str, object]:
    full = {k: v for k, v in os.environ.items() if k != "TGWUI_SRC"}
    full.update(ANY_AGENT_CACHE=str(tmp_path / "cache"), PYTHON=sys.executable, **env)
    out = subprocess.run(
        ["bash", str(SERVERS / "facts.sh"), provider],
        capture_output=True, text=True, timeout=120, check=True, env=full,
    )  # fmt: skip
    facts = json.loads(out.stdout)
    assert isinstance(facts, dict)
    return facts


def test_facts_name_the_think_template_and_its_hash(tmp_path: Path) -> None:
    import hashlib

    facts = _facts("llamacpp-think", tmp_path)
    template = facts["chat_template"]
    assert isinstance(template, dict)
    path = TEMPLATES / "qwen25-bare-json-tools-think.jinja"
    assert template["file"] == "scripts/servers/templates/qwen25-bare-json-tools-think.jinja"
    assert template["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert facts["running"] is False


@pytest.mark.parametrize(
    ("provider", "loader"),
    [("tgwui", "llama.cpp"), ("tgwui-transformers", "Transformers (--cpu: float32)")],
)
def test_facts_name_tgwuis_pinned_commit_and_a_plain_copy_as_unverified(
    provider: str, loader: str, tmp_path: Path
) -> None:
    src = _fake_checkout(tmp_path / "tgw")
    facts = _facts(provider, tmp_path, TGWUI_SRC=str(src))
    server = facts["server"]
    assert isinstance(server, dict)
    assert server["commit_pinned"] == _lib_value("TGWUI_COMMIT")
    assert server["commit_found"] is None
    assert server["loader"] == loader


# ---- pins --------------------------------------------------------------------------------------


def _constraints(name: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (SERVERS / "tgwui" / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        dist, sep, version = line.partition("==")
        assert sep, f"{name}: not an exact pin: {line!r}"
        pins[dist.lower().replace("_", "-")] = version
    return pins


def test_tgwui_constraints_agree_with_the_pins_in_lib() -> None:
    tgw = _constraints("constraints-tgwui.txt")
    tf = _constraints("constraints-tgwui-transformers.txt")
    for pins in (tgw, tf):
        assert pins["pillow"] == _lib_value("TGWUI_PILLOW_VERSION")
        assert pins["fastapi"] == "0.112.4"  # TGW's own pin
    assert tf["torch"] == _lib_value("TORCH_CPU_VERSION")
    for spec in _lib_value("TGWUI_TF_PACKAGES").split():
        dist, _, version = spec.partition("==")
        assert tf[dist] == version, spec
    # the shim stands in for TGW's own package: a real one must never be installed beside it
    assert "llama-cpp-binaries" not in tgw
