//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

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

// readPIDFileWithin calls ReadPIDFile and fails the test if it does not
// return within d: opening a FIFO without O_NONBLOCK would block until
// something writes to it.
func readPIDFileWithin(t *testing.T, d time.Duration, path string) (int, error) {
	t.Helper()
	type result struct {
		pid int
		err error
	}
	done := make(chan result, 1)
	go func() {
		pid, _, err := process.ReadPIDFile(path)
		done <- result{pid, err}
	}()
	select {
	case r := <-done:
		return r.pid, r.err
	case <-time.After(d):
		// The blocked goroutine cannot be freed; the test binary's
		// exit ends it.
		t.Fatalf("ReadPIDFile(%q) did not return within %s", path, d)
		return 0, nil
	}
}

// TestReadPIDFileNotRegular checks that what is not a regular file in place
// of a pid file is refused rather than read or followed.
func TestReadPIDFileNotRegular(t *testing.T) {
	dir := testutil.TempDir(t, "pidfile")
	target := filepath.Join(dir, "target.pid")
	require.NoError(t, os.WriteFile(target, []byte("4242\n"), 0o644))

	t.Run("fifo", func(t *testing.T) {
		path := filepath.Join(dir, "fifo.pid")
		require.NoError(t, unix.Mkfifo(path, 0o644))
		_, err := readPIDFileWithin(t, 5*time.Second, path)
		assert.ErrorIs(t, err, process.ErrBadPIDFile)
		assert.ErrorContains(t, err, "fifo.pid")
		assert.ErrorContains(t, err, "not a regular file (p---------)")
	})

	t.Run("directory", func(t *testing.T) {
		path := filepath.Join(dir, "dir.pid")
		require.NoError(t, os.Mkdir(path, 0o755))
		_, err := readPIDFileWithin(t, 5*time.Second, path)
		assert.ErrorIs(t, err, process.ErrBadPIDFile)
		assert.ErrorContains(t, err, "not a regular file (d---------)")
	})

	t.Run("symlink to a valid pid file", func(t *testing.T) {
		path := filepath.Join(dir, "link.pid")
		require.NoError(t, os.Symlink(target, path))
		pid, err := readPIDFileWithin(t, 5*time.Second, path)
		assert.ErrorIs(t, err, process.ErrBadPIDFile)
		assert.Zero(t, pid)
	})

	t.Run("dangling symlink", func(t *testing.T) {
		path := filepath.Join(dir, "dangling.pid")
		require.NoError(t, os.Symlink(filepath.Join(dir, "none"), path))
		_, err := readPIDFileWithin(t, 5*time.Second, path)
		assert.ErrorIs(t, err, process.ErrBadPIDFile, "a planted link is not a missing pid file")
	})

	t.Run("symlinked directory above is followed", func(t *testing.T) {
		// Only the last component is refused: instance directories may
		// live under a symlinked home.
		link := filepath.Join(dir, "linkdir")
		require.NoError(t, os.Symlink(dir, link))
		pid, err := readPIDFileWithin(t, 5*time.Second, filepath.Join(link, "target.pid"))
		require.NoError(t, err)
		assert.Equal(t, 4242, pid)
	})
}

// TestReadPIDFileSwapRace swaps the pid file's path between a regular file,
// a FIFO and a symlink to another pid file while ReadPIDFile reads it: every
// call must return promptly and none may return the symlink target's PID.
func TestReadPIDFileSwapRace(t *testing.T) {
	const ownPID, targetPID = 4242, 5353
	dir := testutil.TempDir(t, "pidfile")
	path := filepath.Join(dir, "ha.pid")
	target := filepath.Join(dir, "elsewhere.pid")
	require.NoError(t, os.WriteFile(target, []byte(strconv.Itoa(targetPID)+"\n"), 0o644))
	require.NoError(t, os.WriteFile(path, []byte(strconv.Itoa(ownPID)+"\n"), 0o644))

	// Each candidate is made under a temporary name and renamed over the
	// path, so the path always names one of them.
	makers := []func(tmp string) error{
		func(tmp string) error { return os.WriteFile(tmp, []byte(strconv.Itoa(ownPID)+"\n"), 0o644) },
		func(tmp string) error { return unix.Mkfifo(tmp, 0o644) },
		func(tmp string) error { return os.Symlink(target, tmp) },
	}
	stop := make(chan struct{})
	swapErr := make(chan error, 1)
	go func() {
		defer close(swapErr)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tmp := filepath.Join(dir, "swap.tmp")
			if err := makers[i%len(makers)](tmp); err != nil {
				swapErr <- err
				return
			}
			if err := os.Rename(tmp, path); err != nil {
				swapErr <- err
				return
			}
		}
	}()
	defer func() {
		close(stop)
		require.NoError(t, <-swapErr)
	}()

	counts := map[string]int{}
	for range 500 {
		pid, err := readPIDFileWithin(t, 5*time.Second, path)
		require.NotEqual(t, targetPID, pid, "the symlink was followed")
		switch {
		case err == nil:
			require.Equal(t, ownPID, pid)
			counts["read"]++
		case errors.Is(err, process.ErrBadPIDFile):
			counts["refused"]++
		default:
			require.Failf(t, "unexpected error", "%v", err)
		}
	}
	t.Logf("outcomes: %v", counts)
}
