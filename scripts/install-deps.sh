#!/usr/bin/env bash
# install-deps.sh: installs the Debian 12 packages that Glovebox's build, tests and demo need.
# Idempotent: when everything is installed already it only checks (no apt-get update, ~0.1 s).
# Swift itself is not installed here: it comes from swift.org and must be on PATH (or in
# /opt/swift/usr/bin).
set -euo pipefail

die() { echo "install-deps: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (try: sudo $0)"

if ! command -v swift >/dev/null 2>&1; then
  [[ -x /opt/swift/usr/bin/swift ]] || die "swift is not on PATH and not in /opt/swift/usr/bin.
Install a Swift 6 toolchain from https://www.swift.org/install/linux/ first. If it is installed but
sudo hides it (sudo resets PATH), run: sudo env PATH=\"\$PATH\" $0"
fi

packages=(
  # build: the system libraries of the CSeccomp, CCap and CSQLite targets, found through pkg-config;
  # the C compiler and headers for the CSystem and CSandbox targets; nm (binutils) for the test that the client
  # links none of the daemon's C; git to fetch the Swift package dependencies
  libseccomp-dev libcap-dev libsqlite3-dev sqlite3 pkg-config gcc libc6-dev binutils git ca-certificates
  # the CCurl target: libcurl (with OpenSSL) for the scientist's model and literature APIs
  libcurl4-openssl-dev
  # tests and demo: the programs run inside sandboxes, mkfs/losetup/mount, ps/pgrep, ip; OpenBLAS for
  # NumPy (without it Debian's NumPy falls back to the reference BLAS, and the modular_arithmetic
  # template's matrix products take ten times as long: minutes where the template means half of one)
  python3 python3-numpy libopenblas0-pthread util-linux procps e2fsprogs iproute2
  # the cgroup-v2 VM tests (../shared/tools/v2vm): qemu, a static busybox and cpio for its initramfs
  # (without cpio the setup script silently builds a broken initrd)
  qemu-system-x86 busybox-static cpio
  # the benchmarks (bench/run.sh, and its short mode in the tests): hyperfine times commands, bubblewrap is
  # the sandbox Glovebox is measured against
  hyperfine bubblewrap
  # the scientist's test against a real model server (scripts/install-llm.sh builds llama-cpp-python from
  # source in a virtual environment)
  python3-venv python3-dev g++ cmake
  # the scientist's papers, compiled through gloveboxd under policies/latex.toml: the smallest TeX Live that
  # builds the templates (article, natbib, booktabs, hyperref, graphicx, geometry; Computer Modern as Type 1
  # fonts, so nothing runs METAFONT) and chktex
  texlive-latex-base texlive-latex-recommended texlive-fonts-recommended chktex
  # the papers' tests render their pages and read their text (pdftoppm, pdftotext); the reviewer reads PDFs
  # with pdftotext through gloveboxd, the launch's report draws first pages with pdftoppm
  poppler-utils
  # the launch report's test opens it in a real headless browser
  chromium
)

missing=()
for p in "${packages[@]}"; do
  [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) == ii* ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q || die "apt-get update failed"
apt-get install -y -q --no-install-recommends "${missing[@]}" || die "apt-get install failed for: ${missing[*]}"

still=()
for p in "${missing[@]}"; do
  [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) == ii* ]] || still+=("$p")
done
((${#still[@]} == 0)) || die "still not installed: ${still[*]}"
echo "install-deps: done"
