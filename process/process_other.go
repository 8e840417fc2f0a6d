//go:build !linux && !darwin && !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

const startTimeResolution = time.Microsecond

// find is not implemented on this OS: without a way to pin a process and
// read its start time, no PID can be signalled safely.
func (SystemTable) find(pid int) (Process, error) {
	return nil, fmt.Errorf("process table on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
