//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst_test

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// metaName is a directory name made of glob metacharacters.
const metaName = "a[b]*?c"

// socketBestEffort: the host agent always serves its API socket.
const socketBestEffort = false

// symlinkBestEffort: symlinks, and so disk locks, always work.
const symlinkBestEffort = false

// processGroup returns the process group of pid.
func processGroup(t *testing.T, pid int) (int, bool) {
	t.Helper()
	pgid, err := syscall.Getpgid(pid)
	require.NoError(t, err)
	return pgid, true
}
