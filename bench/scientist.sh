#!/usr/bin/env bash
# bench/scientist.sh: what one paper costs, and the scientist's own time per stage. A whole `scientist launch`
# of one idea on templates/toy_regression (ideas with 3 reflections, novelty, 3 experiment runs, plots, the
# write-up with 10 citation rounds, a review by an ensemble of 5 with reflection), against the scripted model
# of demo/scientist/scripted_model.py with bench/scientist-script.json: it answers at once, pads each reply
# with about 300 tokens of reasoning as a real model's replies carry, and reports usage at about one token per
# 4 characters, as a real tokenizer counts. The figures: tokens and cost per stage at the built-in prices of
# gpt-4o and claude-3-5-sonnet, and the wall time of each stage (the runs' own time shown apart).
# Usage: sudo bench/scientist.sh        (about two minutes after the build)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "bench/scientist: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (gloveboxd runs the experiments; try: sudo $0)"
command -v swift >/dev/null 2>&1 || { [[ -x /opt/swift/usr/bin/swift ]] && PATH=/opt/swift/usr/bin:$PATH; }
cd "$repo"
# The system packages the write-up and review need (TeX Live, poppler), as the demo installs them.
bash "$repo/scripts/install-deps.sh" >/dev/null || die "installing the dependencies failed (run: sudo scripts/install-deps.sh)"
swift build >/dev/null || die "swift build failed (run swift build to see why)"
bin=$(swift build --show-bin-path)

tmp=$(mktemp -d /tmp/glovebox-scientist-bench.XXXXXX)
chmod 755 "$tmp"
source "$repo/scripts/lib/demo-daemon.sh"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  demo_model_stop
  demo_daemon_stop bench/scientist "$rc" >/dev/null
  rm -rf --one-file-system "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

demo_daemon_start "$bin" "$tmp" "$repo/policies" >/dev/null || die "gloveboxd did not start"
demo_model_start "$repo" "$repo/bench/scientist-script.json" "$tmp" || die "the scripted model did not start"
port=$demo_model_port

home=$tmp/home
mkdir -p "$home/.config/glovebox"
cat >"$home/.config/glovebox/scientist.toml" <<TOML
[model]
base_url = "http://127.0.0.1:$port/v1"
name = "gpt-4o-2024-08-06"
max_tokens = 4096

[literature]
engine = "semanticscholar"
base_url = "http://127.0.0.1:$port"
min_interval = 0.01

[ideas]
reflections = 3

[novelty]
rounds = 10
TOML
chown -R nobody:nogroup "$home"
runuser -u nobody -- env -i PATH=/usr/bin:/bin HOME="$home" GLOVEBOX_SOCKET="$demo_socket" \
  "$bin/scientist" launch --template toy_regression --templates-dir "$repo/templates" --ideas 1 --results "$home/results" \
  --citation-rounds 20 --reviews 5 --reflections 5 >"$tmp/launch.log" 2>&1 || { tail -n 30 "$tmp/launch.log" >&2; die "the launch failed"; }
/usr/bin/python3 "$repo/bench/scientist_report.py" "$home/.local/share/glovebox/scientist.db"
