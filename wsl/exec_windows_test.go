// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package wsl_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/windows"

	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/wsl"
)

func TestExecNoWSL(t *testing.T) {
	t.Setenv("PATH", testutil.TempDir(t, "path"))
	_, err := wsl.Exec{}.Run(context.Background(), "--list", "--verbose")
	require.ErrorIs(t, err, exec.ErrNotFound)
}

// escapeAttr returns nothing special: no child of wsl.exe can leave its
// job object, which does not allow breakaway.
func escapeAttr() *syscall.SysProcAttr { return nil }

// isolatedAttr starts a process without a console: under Wine, the hidden
// console of a wsl.exe started with CREATE_NO_WINDOW holds wsl.exe's
// output pipes for as long as a process is attached to it.
func isolatedAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: windows.DETACHED_PROCESS}
}

// TestExecLeavesNoProcessBehind: a wsl.exe that succeeds but leaves a child
// running does not leave it behind: closing the job object kills it.
func TestExecLeavesNoProcessBehind(t *testing.T) {
	pidFile := filepath.Join(testutil.TempDir(t, "wsl"), "pids")
	ex := fakeExec(t, "orphan", fakePIDsEnv+"="+pidFile)
	ex.Timeout = 10 * time.Second
	_, err := ex.Run(context.Background(), "--terminate", "lima-a")
	require.NoError(t, err)
	pids := readPIDs(t, pidFile)
	t.Cleanup(func() { killPID(pids[1]) })
	assertGone(t, pids[1], "the child wsl.exe left behind")
}

// TestExecHungKillsTheJob: when the timeout runs out, the whole job dies at
// once, so the pipes that a child of the hung wsl.exe holds close with it
// and Run returns without waiting out the half second it grants for them.
// The least of three overruns is compared, to spare a loaded machine.
func TestExecHungKillsTheJob(t *testing.T) {
	var overruns []time.Duration
	for range 3 {
		pidFile := filepath.Join(testutil.TempDir(t, "wsl"), "pids")
		ex := fakeExec(t, "hang", fakePIDsEnv+"="+pidFile)
		ex.Timeout = time.Second
		start := time.Now()
		_, err := ex.Run(context.Background(), "--terminate", "lima-a")
		overruns = append(overruns, time.Since(start)-ex.Timeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		pids := readPIDs(t, pidFile)
		assertGone(t, pids[0], "the hung wsl.exe")
		assertGone(t, pids[1], "the child holding its pipes")
	}
	t.Logf("returned %v after the timeout", overruns)
	assert.Less(t, slices.Min(overruns), 400*time.Millisecond, "Run waited for the pipes: only wsl.exe was killed")
}
