//go:build linux || darwin

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// killGroup sends SIGKILL to the group that pid leads. alive must report an
// error wrapping ErrNotFound unless the pinned process still runs; it is
// called before and after the group ID is read, so the ID read is the
// pinned process's. Only if the leader died in the microseconds after the
// second call, and its whole group with it, and a new process took the PID
// and made itself a group leader, could the signal reach another group.
func killGroup(pid int, alive func() error) error {
	if err := alive(); err != nil {
		return err
	}
	pgid, err := unix.Getpgid(pid)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return notFound(pid)
		}
		return fmt.Errorf("failed to read the process group of pid %d: %w", pid, err)
	}
	if err := alive(); err != nil {
		return err
	}
	if pgid != pid {
		return fmt.Errorf("%w: pid %d is in group %d", ErrNotGroupLeader, pid, pgid)
	}
	if err := unix.Kill(-pid, unix.SIGKILL); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("process group %d: %w", pid, ErrNotFound)
		}
		return fmt.Errorf("failed to kill process group %d: %w", pid, err)
	}
	return nil
}
