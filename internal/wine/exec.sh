#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright The limastop Authors
# SPDX-License-Identifier: Apache-2.0

# Runs a Windows test binary under Wine, for go test -exec:
#   GOOS=windows go test -exec "'$PWD/internal/wine/exec.sh'" ./...
# (the inner quotes keep a path with blanks in one piece).
#
# The binary's output goes to a file, which is printed once the binary has
# exited. Wine starts its server and its system processes (services.exe,
# explorer.exe, ...) from whichever test binary needs them first, and they
# inherit its standard error: written straight to go test's pipe, the
# pipe would stay open while they run, and go test would fail that
# package with "Test I/O incomplete" once it has waited a minute.
#
# setarch -R turns address-space randomisation off for Wine and every
# process it starts. With it on, Wine 8 now and then fails to start a
# process ("Internal error" from CreateProcess; the new process logs
# "failed to map the shared user data"): the kernel puts the heap of
# Wine's preloader anywhere in the gigabyte above it, and at times onto
# the fixed page Wine maps at 0x7ffe0000.
set -uo pipefail
out=$(mktemp)
trap 'rm -f "$out"' EXIT
setarch "$(uname -m)" -R wine "$@" >"$out" 2>&1
rc=$?
cat "$out"
exit "$rc"
