#!/usr/bin/env bash
# demo-scientist.sh: one idea's experiments and paper, with no API key and no network. Builds Glovebox,
# starts gloveboxd from the build directory with the repository's policies, starts a scripted stand-in for
# an LLM API (demo/scientist/scripted_model.py, OpenAI's wire format on 127.0.0.1), and then, as the
# unprivileged user nobody: `scientist ideas` archives an idea for templates/toy_regression, and
# `scientist experiment` runs it: the model's edits become commits, each run goes through gloveboxd, the
# results go back to the model, plot.py runs in the sandbox too, and notes.txt gets the figures; then
# `scientist writeup` writes the paper, whose facts come from gloveboxd's records, compiles it through
# gloveboxd under the latex policy, `scientist verify` checks it and `scientist review` reviews it. Everything
# lives in a temporary directory removed at the end (also on failure or Ctrl-C).
# Usage: sudo scripts/demo-scientist.sh        (about a minute after the build)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "demo-scientist: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root: gloveboxd creates namespaces, cgroups and mounts (try: sudo $0)"
command -v swift >/dev/null 2>&1 || { [[ -x /opt/swift/usr/bin/swift ]] && PATH=/opt/swift/usr/bin:$PATH; }

bash "$repo/scripts/install-deps.sh"
cd "$repo"
echo "== building (swift build, debug)"
swift build
bin=$(swift build --show-bin-path)

tmp=$(mktemp -d /tmp/glovebox-scientist-demo.XXXXXX)
chmod 755 "$tmp"
source "$repo/scripts/lib/demo-daemon.sh"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  demo_model_stop
  demo_daemon_stop demo-scientist "$rc"
  rm -rf --one-file-system "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

demo_daemon_start "$bin" "$tmp" "$repo/policies" || die "gloveboxd did not start"
socket=$demo_socket

echo "== starting the scripted model (demo/scientist/script.json)"
demo_model_start "$repo" "$repo/demo/scientist/script.json" "$tmp" "$tmp/model.log" || die "the scripted model did not start"
port=$demo_model_port

# The user's side: a home of nobody's own, holding the archive, the results and the config.
home=$tmp/home
mkdir -p "$home/.config/glovebox"
cat >"$home/.config/glovebox/scientist.toml" <<TOML
[model]
base_url = "http://127.0.0.1:$port/v1"
name = "scripted-demo-model"

[ideas]
reflections = 0
TOML
chown -R nobody:nogroup "$home"
as_user() { runuser -u nobody -- env -i PATH=/usr/bin:/bin HOME="$home" GLOVEBOX_SOCKET="$socket" "$@"; }

echo
echo "== scientist ideas --template toy_regression (as nobody)"
as_user "$bin/scientist" ideas --template toy_regression --templates-dir "$repo/templates" --count 1

echo
echo "== scientist experiment wider_hidden_layer (as nobody; each run goes through gloveboxd)"
as_user "$bin/scientist" experiment wider_hidden_layer --templates-dir "$repo/templates" --results "$home/results" --max-runs 3

workspace=$(ls -d "$home"/results/*_wider_hidden_layer)
echo
echo "== scientist writeup wider_hidden_layer (as nobody; LaTeX compiles only through gloveboxd)"
as_user "$bin/scientist" writeup wider_hidden_layer --templates-dir "$repo/templates" --citation-rounds 0
echo
echo "== environment.tex: the paper's facts, generated from gloveboxd's records and the software probe"
grep '^\\newcommand' "$workspace/latex/environment.tex" | cut -c1-110 | sed 's/^/   /'
echo
echo "== the paper's first lines (pdftotext)"
pdftotext -l 1 "$workspace/latex/template.pdf" - | grep -v '^$' | head -12 | sed 's/^/   /'
echo
echo "== scientist verify: the paper against the archive and gloveboxd's records"
as_user "$bin/scientist" verify "$workspace"
echo
echo "== scientist review wider_hidden_layer (as nobody; pdftotext reads the PDF through gloveboxd)"
as_user "$bin/scientist" review wider_hidden_layer --reviews 1 --reflections 0
echo
echo "== what the model saw, call by call (the first line of each last message)"
sed 's/^/   /' "$tmp/model.log"
echo
echo "== scientist runs wider_hidden_layer"
as_user "$bin/scientist" runs wider_hidden_layer
echo
echo "== the workspace's history: one commit per applied edit"
runuser -u nobody -- git -C "$workspace" log --format='   %h %s'
echo
echo "== notes.txt"
sed 's/^/   /' "$workspace/notes.txt"
echo
echo "== figures/ (written by plot.py inside the sandbox, carried back as the run's output)"
ls -l "$workspace/figures" | sed 's/^/   /'
echo
echo "== glovebox ps --all: every run above is gloveboxd's, by uid $(id -u nobody)"
GLOVEBOX_SOCKET=$socket "$bin/glovebox" ps --all

echo
echo "== done: gloveboxd stops now (SIGTERM) and $tmp is removed"
