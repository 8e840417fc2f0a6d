//go:build !linux && !darwin && !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
)

const startTimeResolution = time.Microsecond

// find is not implemented on this OS: without a way to pin a process and
// read its start time, no PID can be signalled safely.
func (SystemTable) find(pid int) (Process, error) {
	return nil, fmt.Errorf("process table on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func (SystemTable) list() ([]Entry, error) {
	return nil, fmt.Errorf("listing processes on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// ancestors fails, so CheckPID refuses every PID: the caller's ancestors
// cannot be ruled out.
func ancestors() ([]int, error) {
	return nil, fmt.Errorf("listing the caller's ancestors on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// openPIDFile fails: without O_NOFOLLOW and O_NONBLOCK a pid file cannot be
// opened without following a planted symlink or blocking on a FIFO.
func openPIDFile(path string) (pidFile, error) {
	return nil, &os.PathError{Op: "open", Path: path, Err: errors.ErrUnsupported}
}
