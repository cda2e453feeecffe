#!/usr/bin/env bash
# Record one provider's conformance column: start its server, run the suite in record mode
# (cassettes/<provider>/<model>/ + manifest), stop the server again. Usage: record.sh PROVIDER
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
provider=${1:?usage: record.sh PROVIDER}

line=$(bash "$here/start.sh" "$provider")
echo "record: $provider: $line" >&2
base_url=$(sed -n 's/.*BASE_URL=\([^ ]*\).*/\1/p' <<<"$line")
model=$(sed -n 's/.*MODEL=\([^ ]*\).*/\1/p' <<<"$line")
api_key=$(sed -n 's/.*API_KEY=\([^ ]*\).*/\1/p' <<<"$line")

facts=$(mktemp)
trap 'rm -f "$facts"' EXIT
bash "$here/facts.sh" "$provider" > "$facts"

status=0
(
  cd "$repo"
  key_args=()
  if [ -n "$api_key" ]; then
    export ANY_AGENT_RECORD_KEY="$api_key"
    key_args=(API_KEY_ENV=ANY_AGENT_RECORD_KEY)
  fi
  make --no-print-directory record PROVIDER="$provider" MODEL="$model" BASE_URL="$base_url" \
    SERVER_FACTS="$facts" "${key_args[@]}"
) || status=$?
bash "$here/stop.sh" "$provider" || true
# exit 1 only means a MUST check failed on this server: that is the recording's finding
if [ "$status" -gt 1 ]; then exit "$status"; fi
