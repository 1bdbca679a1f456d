# demo-daemon.sh: a gloveboxd from the build directory for the demo scripts (sourced, not run). Its socket,
# state and log live in the demo's temporary directory.
#   demo_daemon_start BIN_DIR TMP POLICY_DIR   starts it; sets demo_daemon (its pid) and demo_socket
#   demo_daemon_stop NAME RC                   SIGTERM (gloveboxd cancels and records its runs, removes
#                                              their cgroups), SIGKILL after 10 s; on RC != 0 shows its log's end
#   demo_model_start REPO SCRIPT TMP [LOG]     starts demo/scientist/scripted_model.py with SCRIPT; sets
#                                              demo_model (its pid) and demo_model_port
#   demo_model_stop                            stops it
demo_daemon=0
demo_socket=
demo_model=0
demo_model_port=

demo_daemon_start() {
  local bin=$1 tmp=$2 policies=$3
  demo_socket=$tmp/glovebox.sock
  echo "== starting gloveboxd (socket and state in $tmp, policies from $policies)"
  "$bin/gloveboxd" --socket "$demo_socket" --state-dir "$tmp/state" --policy-dir "$policies" --log-level info \
    </dev/null >"$tmp/gloveboxd.log" 2>&1 &
  demo_daemon=$!
  for _ in $(seq 200); do
    [[ -S $demo_socket ]] && return 0
    kill -0 "$demo_daemon" 2>/dev/null || { echo "gloveboxd exited at start" >&2; return 1; }
    sleep 0.1
  done
  echo "gloveboxd did not create $demo_socket in 20 s" >&2
  return 1
}

demo_daemon_stop() {
  local name=$1 rc=$2 tmp
  tmp=$(dirname "${demo_socket:-/nonexistent/x}")
  if ((demo_daemon > 0)) && kill -0 "$demo_daemon" 2>/dev/null; then
    kill -TERM "$demo_daemon"
    for _ in $(seq 100); do kill -0 "$demo_daemon" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$demo_daemon" 2>/dev/null; then echo "$name: gloveboxd did not stop in 10 s; killing it" >&2; kill -KILL "$demo_daemon" 2>/dev/null || true; fi
    wait "$demo_daemon" 2>/dev/null || true
  fi
  if ((rc != 0)) && [[ -s $tmp/gloveboxd.log ]]; then echo "$name: failed ($rc); the end of gloveboxd's log:" >&2; tail -n 20 "$tmp/gloveboxd.log" >&2; fi
}

demo_model_start() {
  local repo=$1 script=$2 tmp=$3 log=${4:-}
  /usr/bin/python3 "$repo/demo/scientist/scripted_model.py" "$script" "$tmp/port" ${log:+"$log"} &
  demo_model=$!
  for _ in $(seq 50); do [[ -s $tmp/port ]] && break; sleep 0.1; done
  [[ -s $tmp/port ]] || { echo "the scripted model did not start" >&2; return 1; }
  demo_model_port=$(cat "$tmp/port")
}

demo_model_stop() {
  if ((demo_model > 0)); then kill "$demo_model" 2>/dev/null || true; fi
}
