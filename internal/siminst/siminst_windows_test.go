// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst_test

// metaName is a directory name made of the glob metacharacters that
// Windows allows in file names: not * or ?.
const metaName = "a[b]c"

// socketBestEffort: where AF_UNIX sockets are missing (Wine), the host
// agent runs without its API socket.
const socketBestEffort = true

// symlinkBestEffort: symlinks need a privilege on Windows, and Wine
// pretends to create them.
const symlinkBestEffort = true
