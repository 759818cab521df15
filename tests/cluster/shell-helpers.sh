# Shell helpers shared by control-plane.sh and examples/demo/demo.sh (sourced; each defines its
# own log() before using wait_for).

# free_port: a loopback TCP port nobody listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS DESCRIPTION LOGFILE COMMAND...: polls COMMAND; on timeout shows the log tail.
wait_for() {
  local seconds="$1" what="$2" logfile="$3"
  shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "$what did not happen within ${seconds}s; last lines of $logfile:"
      tail -n 30 "$logfile" >&2 || true
      return 1
    fi
    sleep 0.3
  done
}
