#!/usr/bin/env bash
# smoke.sh PROVIDER [auto|required|named] — send one streamed chat request with a get_weather tool to a running
# server (start.sh PROVIDER first) and summarise the stream: chunks, tool-call names/arguments, finish_reason,
# [DONE], wall time. Exits 1 on a non-200 status or a stream without finish_reason (a missing [DONE] is only
# reported: `transformers serve` never sends it). Does not judge whether the model called the tool.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

provider_arg 1 "" "PROVIDER [auto|required|named]" "$@"
P=$1
CHOICE=${2:-auto}
PORT=$(provider_port "$P")
MODEL_ID=$(provider_model_id "$P")
AUTH=()
[[ $P == litellm ]] && AUTH=(-H "Authorization: Bearer $LITELLM_KEY")

case "$CHOICE" in
  auto | required) TC="\"$CHOICE\"" ;;
  named) TC='{"type":"function","function":{"name":"get_weather"}}' ;;
  *) die "tool_choice must be auto, required or named" ;;
esac

BODY=$(
  cat <<EOF
{"model": "$MODEL_ID", "stream": true, "max_tokens": 96, "temperature": 0,
 "messages": [{"role": "user", "content": "What is the weather in Paris? Use the tool."}],
 "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather for a city",
   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
 "tool_choice": $TC}
EOF
)

OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
t0=$(now)
code=$(curl -sN -o "$OUT" -w '%{http_code}' --max-time 300 "http://127.0.0.1:$PORT/v1/chat/completions" \
  -H 'Content-Type: application/json' "${AUTH[@]}" -d "$BODY")
secs=$(elapsed "$t0")

"$HOST_PYTHON" - "$OUT" "$code" "$secs" "$P" "$CHOICE" <<'EOF'
import json, sys
path, code, secs, provider, choice = sys.argv[1:]
chunks, done, finish, calls, content, errors = 0, False, None, {}, "", []
for line in open(path, encoding="utf-8", errors="replace"):
    line = line.strip()
    if not line.startswith("data:"):
        continue
    data = line[5:].strip()
    if data == "[DONE]":
        done = True
        continue
    try:
        obj = json.loads(data)
    except ValueError:
        errors.append(data[:200])
        continue
    chunks += 1
    if "error" in obj:
        errors.append(json.dumps(obj["error"])[:200])
    for ch in obj.get("choices") or []:
        finish = ch.get("finish_reason") or finish
        delta = ch.get("delta") or {}
        content += delta.get("content") or ""
        for tc in delta.get("tool_calls") or []:
            c = calls.setdefault(tc.get("index", 0), {"name": "", "arguments": ""})
            fn = tc.get("function") or {}
            if fn.get("name") and fn["name"] not in c["name"]:
                c["name"] += fn["name"]
            c["arguments"] += fn.get("arguments") or ""
summary = {"provider": provider, "tool_choice": choice, "http": int(code), "secs": float(secs), "chunks": chunks,
           "finish_reason": finish, "tool_calls": list(calls.values()), "content": content[:200], "done": done}
if errors:
    summary["errors"] = errors[:3]
print(json.dumps(summary))
if not (code == "200" and finish):
    sys.exit(1)
EOF
