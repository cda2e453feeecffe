#!/usr/bin/env bash
# facts.sh PROVIDER — print JSON facts for a cassette manifest: server name and version/build, package versions,
# the model's packages and sha256, the chat template, and (after start.sh) the exact command line and readiness
# time. Live facts (/v1/models, llama-server /props) are added while the server is running.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

provider_arg 1 1 "PROVIDER (one of: $PROVIDERS)" "$@"
CACHE="$CACHE" SERVERS_DIR="$SERVERS_DIR" PORT="$(provider_port "$1")" MODEL_ID="$(provider_model_id "$1")" \
  MODEL_NAME="$(provider_model "$1")" LITELLM_KEY="$LITELLM_KEY" LLAMA_CMAKE_ARGS="$LLAMA_CMAKE_ARGS" \
  LCP_CMAKE_ARGS="$LCP_CMAKE_ARGS" VENV_LLAMA="$VENV_LLAMA" VENV_LITELLM="$VENV_LITELLM" VENV_LCP="$VENV_LCP" \
  VENV_VLLM="$VENV_VLLM" VENV_TRANSFORMERS="$VENV_TRANSFORMERS" VENV_TGWUI="$VENV_TGWUI" VENV_TGWUI_TF="$VENV_TGWUI_TF" TGWUI_COMMIT="$TGWUI_COMMIT" \
  "$HOST_PYTHON" "$HERE/facts.py" "$1"
