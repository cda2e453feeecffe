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
# make fails when a MUST check fails on this server: that is the recording's finding, not an
# error of the recording. The recording worked if it wrote a fresh results file.
results="$repo/reports/results/${provider}__$(tr '/:' '--' <<<"$model").json"
if [ "$status" -ne 0 ] && ! [ "$results" -nt "$facts" ]; then
  echo "record: $provider: the suite did not complete (make exited $status)" >&2
  exit "$status"
fi
