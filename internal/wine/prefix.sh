#!/usr/bin/env bash
# SPDX-FileCopyrightText: Copyright The limastop Authors
# SPDX-License-Identifier: Apache-2.0

# Creates a fresh Wine prefix that can run Go 1.22+ Windows binaries and
# prints its path. Needs wine64 and gcc-mingw-w64-x86-64-win32.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prefix=${1:-$(mktemp -d)}
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
x86_64-w64-mingw32-gcc -shared -O2 -o "$build/bcryptprimitives.dll" \
	"$here/bcryptprimitives.c" "$here/bcryptprimitives.def"
WINEPREFIX=$prefix WINEDEBUG=-all wineboot -i >/dev/null 2>&1
# wineboot returns before wineserver has finished writing the prefix.
WINEPREFIX=$prefix wineserver -w
cp "$build/bcryptprimitives.dll" "$prefix/drive_c/windows/system32/"
echo "$prefix"
