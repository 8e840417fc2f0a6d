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
	assert.True(t, first.StartTime().Equal(second.StartTime()), "%s != %s", first.StartTime(), second.StartTime())
	assert.NoError(t, process.VerifyStartTime(second, first.StartTime()))
	assert.ErrorIs(t, process.VerifyStartTime(second, first.StartTime().Add(-time.Second)), process.ErrNotOurProcess)
}

func TestKillThenWait(t *testing.T) {
	c := startChild(t)
	p := find(t, c.pid)
	require.NoError(t, p.Kill())
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.NoError(t, p.Wait(ctx))
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

func TestFindPIDFile(t *testing.T) {
	dir := testutil.TempDir(t, "pidfile")
	c := startChild(t)
	path := filepath.Join(dir, "ha.pid")
	require.NoError(t, os.WriteFile(path, []byte(strconv.Itoa(c.pid)+"\n"), 0o644))

	t.Run("writer", func(t *testing.T) {
		p, err := process.FindPIDFile(process.System(), path)
		require.NoError(t, err)
		assert.Equal(t, c.pid, p.PID())
		require.NoError(t, p.Release())
	})

	t.Run("recycled pid", func(t *testing.T) {
		// The file was written an hour before the process holding its
		// PID started: that process cannot have written it.
		old := time.Now().Add(-time.Hour)
		require.NoError(t, os.Chtimes(path, old, old))
		p, err := process.FindPIDFile(process.System(), path)
		require.ErrorIs(t, err, process.ErrNotOurProcess)
		assert.Nil(t, p)
		// Nothing was signalled: the child is still waiting for stdin.
		require.NoError(t, c.stdin.Close())
		assert.Equal(t, exitStdinClosed, c.exitCode(t))
	})

	t.Run("missing", func(t *testing.T) {
		_, err := process.FindPIDFile(process.System(), filepath.Join(dir, "none.pid"))
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
}

func TestGuardRails(t *testing.T) {
	own, parent := strconv.Itoa(os.Getpid()), strconv.Itoa(os.Getppid())
	for _, tc := range []struct {
		name string
		text string
		want int // 0: refused with ErrUnsafePID
	}{
		{name: "lima's format", text: "4242\n", want: 4242},
		{name: "surrounding blanks", text: " \t4242\r\n", want: 4242},
		{name: "leading zeros", text: "0042", want: 42},
		{name: "largest 32-bit", text: "2147483647", want: 2147483647},
		{name: "empty", text: ""},
		{name: "blank", text: " \n"},
		{name: "garbage", text: "pid"},
		{name: "plus sign", text: "+4242"},
		{name: "negative", text: "-4242"},
		{name: "minus one", text: "-1"},
		{name: "blank inside", text: "42 42"},
		{name: "two lines", text: "42\n43\n"},
		{name: "hex", text: "0x10"},
		{name: "zero", text: "0"},
		{name: "init", text: "1"},
		{name: "uint32 max, kill(-1) on Linux", text: "4294967295"},
		{name: "beyond 32 bits", text: "2147483648"},
		{name: "beyond 64 bits", text: "99999999999999999999"},
		{name: "own pid", text: own},
		{name: "parent pid", text: parent},
		{name: "nul", text: "42\x00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pid, err := process.ParsePID(tc.text)
			if tc.want == 0 {
				assert.ErrorIs(t, err, process.ErrUnsafePID)
				assert.Zero(t, pid)
				return
			}
			assert.NoError(t, err)
			assert.Equal(t, tc.want, pid)
		})
	}

	for _, pid := range []int{-1, 0, 1, 1 << 31, 1<<32 - 1, os.Getpid(), os.Getppid()} {
		_, err := process.System().Find(pid)
		assert.ErrorIs(t, err, process.ErrUnsafePID, "Find(%d)", pid)
	}
}

func TestReadPIDFile(t *testing.T) {
	dir := testutil.TempDir(t, "pidfile")
	for _, tc := range []struct {
		name    string
		content string
		wantErr error
	}{
		{name: "valid", content: "4242\n"},
		{name: "garbage", content: "not a pid\n", wantErr: process.ErrUnsafePID},
		{name: "huge", content: strings.Repeat("4", 1<<20), wantErr: process.ErrUnsafePID},
		{name: "unsafe", content: "4294967295\n", wantErr: process.ErrUnsafePID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".pid")
			require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o644))
			pid, mtime, err := process.ReadPIDFile(path)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				assert.ErrorContains(t, err, filepath.Base(path))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 4242, pid)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.True(t, fi.ModTime().Equal(mtime))
		})
	}
	_, _, err := process.ReadPIDFile(filepath.Join(dir, "missing.pid"))
	assert.ErrorIs(t, err, fs.ErrNotExist)

	require.NoError(t, os.Mkdir(filepath.Join(dir, "dir.pid"), 0o755))
	_, _, err = process.ReadPIDFile(filepath.Join(dir, "dir.pid"))
	assert.ErrorIs(t, err, process.ErrUnsafePID)
}

func systemFind(pid int) (process.Process, error) { return process.System().Find(pid) }
