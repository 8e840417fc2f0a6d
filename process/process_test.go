// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/process"
)

// waitTimeout bounds every wait in these tests; children exit by themselves
// within a minute, so nothing hangs even when a test fails.
const waitTimeout = 30 * time.Second

func find(t *testing.T, pid int) process.Process {
	t.Helper()
	p, err := process.System().Find(pid)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Release() })
	return p
}

// killAndWait kills p and waits until it has exited.
func killAndWait(t *testing.T, p process.Process) {
	t.Helper()
	require.NoError(t, p.Kill())
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, p.Wait(ctx))
}

func TestFindLiveChild(t *testing.T) {
	before := time.Now()
	c := startChild(t)
	after := time.Now()

	p := find(t, c.pid)
	assert.Equal(t, c.pid, p.PID())
	// Start times are floored to the OS's resolution (10 ms on Linux).
	assert.WithinRange(t, p.StartTime(), before.Add(-time.Second), after.Add(time.Second))
}

func TestStartTimeStable(t *testing.T) {
	c := startChild(t)
	first := find(t, c.pid)
	second := find(t, c.pid)
	// Linux computes the boot time at each Find, so two Finds may differ
	// by the microseconds between two clock reads, far below the 10 ms
	// tick; other OSes report the same time.
	assert.WithinDuration(t, first.StartTime(), second.StartTime(), time.Millisecond)
	assert.NoError(t, process.VerifyStartTime(second, first.StartTime()))
	assert.ErrorIs(t, process.VerifyStartTime(second, first.StartTime().Add(-time.Second)), process.ErrNotOurProcess)
}

func TestKillThenWait(t *testing.T) {
	c := startChild(t)
	p := find(t, c.pid)
	killAndWait(t, p)
	assert.NotEqual(t, exitStdinClosed, c.exitCode(t), "the child exited by itself, not by Kill")
}

func TestWaitNonChild(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, c *child, p process.Process)
	}{
		{name: "kill", end: func(t *testing.T, _ *child, p process.Process) { require.NoError(t, p.Kill()) }},
		{name: "exits by itself", end: func(t *testing.T, c *child, _ process.Process) { require.NoError(t, c.stdin.Close()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startNonChild(t)
			p := find(t, c.pid)
			tc.end(t, c, p)
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			require.NoError(t, p.Wait(ctx))
			_, err := process.System().Find(c.pid)
			if err == nil {
				t.Log("pid still found after exit: an unreaped zombie")
			}
		})
	}
}

func TestWaitHonoursContext(t *testing.T) {
	c := startChild(t)
	p := find(t, c.pid)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	assert.ErrorIs(t, p.Wait(ctx), context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, p.Wait(ctx), context.DeadlineExceeded)

	// Neither wait disturbed the process or the next wait.
	require.NoError(t, c.stdin.Close())
	ctx, cancel = context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, p.Wait(ctx))
	assert.Equal(t, exitStdinClosed, c.exitCode(t))
}

func TestConcurrentWaits(t *testing.T) {
	c := startChild(t)
	p := find(t, c.pid)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() { errs <- p.Wait(ctx) }()
	}
	require.NoError(t, c.stdin.Close())
	for range cap(errs) {
		require.NoError(t, <-errs)
	}
}

func TestGoneProcess(t *testing.T) {
	c := startChild(t)
	p := find(t, c.pid)
	require.NoError(t, c.stdin.Close())
	require.Equal(t, exitStdinClosed, c.exitCode(t)) // reaped

	assert.ErrorIs(t, p.Kill(), process.ErrNotFound)
	assert.ErrorIs(t, p.Interrupt(), process.ErrNotFound)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	assert.NoError(t, p.Wait(ctx))
	_, err := process.System().Find(c.pid)
	assert.ErrorIs(t, err, process.ErrNotFound)
}

// TestPIDFileWriter goes the way callers go from a pid file to a pinned
// process: ReadPIDFile, Find, then VerifyPIDFile against the file's
// modification time.
func TestPIDFileWriter(t *testing.T) {
	dir := testutil.TempDir(t, "pidfile")
	c := startChild(t)
	path := filepath.Join(dir, "ha.pid")
	require.NoError(t, os.WriteFile(path, []byte(strconv.Itoa(c.pid)+"\n"), 0o644))

	t.Run("writer", func(t *testing.T) {
		pid, written, err := process.ReadPIDFile(path)
		require.NoError(t, err)
		p := find(t, pid)
		assert.Equal(t, c.pid, p.PID())
		assert.NoError(t, process.VerifyPIDFile(p, written))
	})

	t.Run("recycled pid", func(t *testing.T) {
		// The file was written an hour before the process holding its
		// PID started: that process cannot have written it.
		old := time.Now().Add(-time.Hour)
		require.NoError(t, os.Chtimes(path, old, old))
		pid, written, err := process.ReadPIDFile(path)
		require.NoError(t, err)
		assert.True(t, written.Equal(old), "modification time %s, want %s", written, old)
		assert.ErrorIs(t, process.VerifyPIDFile(find(t, pid), written), process.ErrNotOurProcess)
		// Nothing was signalled: the child is still waiting for stdin.
		require.NoError(t, c.stdin.Close())
		assert.Equal(t, exitStdinClosed, c.exitCode(t))
	})
}

func TestFindRefusesUnsafePIDs(t *testing.T) {
	// Variables, not constants: on a 32-bit platform the conversion
	// wraps, and the wrapped values must be refused too.
	beyond, uint32Max := int64(1)<<31, int64(1)<<32-1
	for _, pid := range []int{-1, 0, 1, int(beyond), int(uint32Max), os.Getpid(), os.Getppid()} {
		p, err := process.System().Find(pid)
		assert.ErrorIs(t, err, process.ErrUnsafePID, "Find(%d)", pid)
		assert.Nil(t, p)
	}
}

func TestReadPIDFile(t *testing.T) {
	dir := testutil.TempDir(t, "pidfile[x]")
	for _, tc := range []struct {
		name    string
		content string
		want    int
		wantErr error
	}{
		{name: "lima's format", content: "4242\n", want: 4242},
		{name: "ascii blanks", content: " 123\n", want: 123},
		{name: "crlf", content: "123\r\n", want: 123},
		{name: "longest", content: "123" + strings.Repeat(" ", 61), want: 123},
		{name: "empty", content: "", wantErr: process.ErrBadPIDFile},
		{name: "letters", content: "abc", wantErr: process.ErrBadPIDFile},
		{name: "no-break space", content: "\u00a0123", wantErr: process.ErrBadPIDFile},
		{name: "one byte too long", content: "123" + strings.Repeat(" ", 62), wantErr: process.ErrBadPIDFile},
		{name: "huge", content: strings.Repeat("4", 1<<20), wantErr: process.ErrBadPIDFile},
		{name: "uint32 max", content: "4294967295\n", wantErr: process.ErrUnsafePID},
		{name: "init", content: "1\n", wantErr: process.ErrUnsafePID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".pid")
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o644))
			pid, mtime, err := process.ReadPIDFile(path)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				assert.ErrorContains(t, err, filepath.Base(path))
				assert.Zero(t, pid)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, pid)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.True(t, fi.ModTime().Equal(mtime))
		})
	}

	t.Run("missing", func(t *testing.T) {
		_, _, err := process.ReadPIDFile(filepath.Join(dir, "missing.pid"))
		assert.ErrorIs(t, err, fs.ErrNotExist)
		assert.NotErrorIs(t, err, process.ErrBadPIDFile)
	})

	t.Run("directory", func(t *testing.T) {
		require.NoError(t, os.Mkdir(filepath.Join(dir, "dir.pid"), 0o755))
		_, _, err := process.ReadPIDFile(filepath.Join(dir, "dir.pid"))
		assert.ErrorIs(t, err, process.ErrBadPIDFile)
	})
}

func systemFind(pid int) (process.Process, error) { return process.System().Find(pid) }
