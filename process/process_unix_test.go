//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/process"
)

func TestInterruptDeliversSIGINT(t *testing.T) {
	c := startChild(t)
	p := find(t, c.pid)
	require.NoError(t, p.Interrupt())
	assert.Equal(t, exitInterrupted, c.exitCode(t))
}

// TestReadPIDFileFIFO checks that a FIFO in place of a pid file is refused
// rather than opened, which would block until something writes to it.
func TestReadPIDFileFIFO(t *testing.T) {
	path := filepath.Join(testutil.TempDir(t, "pidfile"), "ha.pid")
	require.NoError(t, unix.Mkfifo(path, 0o644))
	_, _, err := process.ReadPIDFile(path)
	assert.ErrorIs(t, err, process.ErrUnsafePID)
}
