#!/usr/bin/env bash
# stop.sh PROVIDER|all — stop a server started by start.sh: SIGTERM to its PID (from $ANY_AGENT_CACHE/run/),
# wait for it to exit (SIGKILL after a grace period), then end any helper process left in its process group
# (vLLM's engine core). stop.sh litellm also stops the llamacpp-tools backend if start.sh litellm started it.
# Exits 0 when nothing is running.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$HERE/lib.sh"

GRACE=${ANY_AGENT_STOP_GRACE:-20}

wait_gone() { # PID SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

group_alive() { pgrep -g "$1" >/dev/null 2>&1; }

stop_one() {
  local p=$1 pidfile="$RUN_DIR/$1.pid" pid
  if [[ -f $pidfile ]]; then
    pid=$(cat "$pidfile")
    if [[ ! $pid =~ ^[0-9]+$ ]] || ! is_ours "$pid" "$(provider_port "$p")"; then
      log "$p: pid file $pidfile is stale (no such server process); removing it"
      rm -f "$pidfile"
      pid=""
    elif kill -0 "$pid" 2>/dev/null; then
      log "stopping $p (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      if ! wait_gone "$pid" "$GRACE"; then
        log "$p did not exit within $GRACE s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 10 || die "could not stop $p (pid $pid)"
      fi
    fi
    # start.sh runs each server with setsid, so its PID is also its process group id: leftovers are its own helpers.
    if [[ -n $pid ]] && group_alive "$pid"; then
      log "ending helper processes of $p (process group $pid)"
      kill -TERM -- "-$pid" 2>/dev/null || true
      sleep 2
      if group_alive "$pid"; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    fi
    rm -f "$pidfile"
  fi
  if [[ $p == litellm && -f $RUN_DIR/litellm.backend ]]; then
    rm -f "$RUN_DIR/litellm.backend"
    stop_one llamacpp-tools
  fi
}

[[ $# -eq 1 ]] || {
  echo "usage: $0 PROVIDER|all (providers: $PROVIDERS)" >&2
  exit 2
}
if [[ $1 == all ]]; then
  for p in $PROVIDERS; do stop_one "$p"; done
else
  check_provider "$1"
  stop_one "$1"
fi
