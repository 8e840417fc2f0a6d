//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst_test

// metaName is a directory name made of glob metacharacters.
const metaName = "a[b]*?c"

// socketBestEffort: the host agent always serves its API socket.
const socketBestEffort = false

// symlinkBestEffort: symlinks, and so disk locks, always work.
const symlinkBestEffort = false
