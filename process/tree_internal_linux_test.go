// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMainThreadOnly: only a process whose one thread is its running main
// thread has its children listed by that thread alone.
func TestMainThreadOnly(t *testing.T) {
	for _, c := range []struct {
		stat string
		want bool
	}{
		{"S 1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 99", true},
		{"R 1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 7 0 99", false},
		// The main thread has exited, another runs on.
		{"Z 1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 99", false},
		{"S 1 1 1", false},
	} {
		assert.Equal(t, c.want, mainThreadOnly(strings.Fields(c.stat)), c.stat)
	}
}

// TestHoldBound: once maxHeld files are kept open, Children closes each
// further file as soon as it is read, and Release gives back what it kept.
func TestHoldBound(t *testing.T) {
	threads, err := os.ReadDir("/proc/self/task")
	require.NoError(t, err)
	require.Greater(t, len(threads), 1, "the test needs a process with several threads")
	before := held.Load()
	held.Store(maxHeld - 1)
	t.Cleanup(func() { held.Store(before) })

	// Find refuses the caller's own PID, which this test only reads.
	p, err := SystemTable{}.find(os.Getpid())
	require.NoError(t, err)
	_, err = p.(Parent).Children()
	require.NoError(t, err)
	assert.Len(t, p.(*linuxProcess).held, 1)
	assert.Equal(t, int64(maxHeld), held.Load())

	require.NoError(t, p.Release())
	assert.Empty(t, p.(*linuxProcess).held)
	assert.Equal(t, int64(maxHeld-1), held.Load())
}

// TestScanChildren: the scan of /proc, for kernels without the children
// files, finds a child of this process by its parent PID.
func TestScanChildren(t *testing.T) {
	sleep := exec.Command("sleep", "60")
	require.NoError(t, sleep.Start())
	t.Cleanup(func() {
		_ = sleep.Process.Kill()
		_ = sleep.Wait()
	})
	kids, err := scanChildren(os.Getpid())
	require.NoError(t, err)
	assert.Contains(t, kids, sleep.Process.Pid)
	assert.NotContains(t, kids, os.Getpid())
}
