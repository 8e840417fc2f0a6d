//go:build linux || darwin

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// waitReadable blocks in Go's netpoller until ready reports true for f's
// descriptor, re-checking each time the descriptor becomes readable, or
// until ctx ends. f must be non-blocking.
func waitReadable(ctx context.Context, f *os.File, ready func(fd uintptr) bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	// Look once before the context can cut the wait: a context that has
	// already ended must still see a process that has exited, as a
	// forced stop does when it checks whether a process it failed to
	// kill has died anyway.
	var done bool
	if err := rc.Control(func(fd uintptr) { done = ready(fd) }); err != nil {
		return err
	}
	if done {
		return nil
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	err = rc.Read(ready)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return ctx.Err()
	}
	return err
}

// openPIDFile opens path for ReadPIDFile without following a symlink in its
// last component (ELOOP), without blocking on a FIFO, and without making a
// terminal planted there the caller's controlling terminal. The error is an
// *os.PathError so that a missing file still matches fs.ErrNotExist.
func openPIDFile(path string) (pidFile, error) {
	fd, err := openRead(path, unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return nil, err
	}
	return rawFile(fd), nil
}

// rawFile is a descriptor read with plain system calls. An *os.File would
// cost two more for every pid file (reading its flags, and trying to
// register it with the netpoller, which refuses a regular file), and a
// stop reads several pid files.
type rawFile int

func (f rawFile) Read(b []byte) (int, error) {
	for {
		n, err := unix.Read(int(f), b)
		if !errors.Is(err, unix.EINTR) {
			return max(n, 0), err
		}
	}
}

func (f rawFile) Stat() (fs.FileMode, time.Time, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f), &st); err != nil {
		return 0, time.Time{}, err
	}
	return fileType(uint32(st.Mode)), time.Unix(st.Mtim.Unix()), nil
}

func (f rawFile) Close() error { return unix.Close(int(f)) }

// fileType returns the fs.FileMode type bits for the S_IFMT bits of mode.
func fileType(mode uint32) fs.FileMode {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return 0
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return fs.ModeIrregular
}

// openRead opens path read-only and close-on-exec, with flags besides,
// retrying on EINTR. The error is an *os.PathError.
func openRead(path string, flags int) (int, error) {
	return openReadAt(unix.AT_FDCWD, path, flags)
}

// openReadAt is openRead for a path relative to the directory dirfd.
func openReadAt(dirfd int, path string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, path, unix.O_RDONLY|unix.O_CLOEXEC|flags, 0)
		if !errors.Is(err, unix.EINTR) {
			if err != nil {
				return -1, &os.PathError{Op: "open", Path: path, Err: err}
			}
			return fd, nil
		}
	}
}

// maxAncestors bounds the walk up the process tree, which cannot loop in a
// consistent snapshot but is read one process at a time.
const maxAncestors = 4096

// errAncestorExited means an ancestor exited while the tree was walked, so
// its children were re-parented and the walk starts again.
var errAncestorExited = errors.New("an ancestor exited during the walk")

// ancestors returns the PIDs of the caller's parent, grandparent and so on,
// nearest first, stopping below PID 1. It never returns an error wrapping
// ErrNotFound: CheckPID's callers take that for "the target is gone".
func ancestors() ([]int, error) {
	var err error
	for range 3 {
		var up []int
		if up, err = walkAncestors(); !errors.Is(err, errAncestorExited) {
			return up, err
		}
	}
	return nil, fmt.Errorf("failed to list the caller's ancestors: %w", err)
}

func walkAncestors() ([]int, error) {
	var up []int
	pid := os.Getpid()
	for range maxAncestors {
		ppid, err := parentPID(pid)
		if errors.Is(err, ErrNotFound) {
			// The entry may also be hidden rather than gone (Linux's
			// hidepid): only a process that no longer exists is skipped
			// by walking again, a hidden one fails closed.
			if kerr := unix.Kill(pid, 0); errors.Is(kerr, unix.ESRCH) {
				return nil, fmt.Errorf("pid %d: %w", pid, errAncestorExited)
			}
			return nil, fmt.Errorf("failed to read the parent of pid %d, which exists but cannot be inspected", pid)
		}
		if err != nil {
			return nil, err
		}
		if ppid <= 1 {
			return up, nil
		}
		up = append(up, ppid)
		pid = ppid
	}
	return nil, fmt.Errorf("more than %d ancestors: a loop in the process tree?", maxAncestors)
}

// signalName names sig for messages; signal 0, which only probes whether a
// process may be signalled, has no name of its own.
func signalName(sig unix.Signal) string {
	if sig == 0 {
		return "a probe (signal 0)"
	}
	return unix.SignalName(sig)
}
