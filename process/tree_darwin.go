// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

var (
	_ Parent      = (*darwinProcess)(nil)
	_ GroupKiller = (*darwinProcess)(nil)
)

// Children lists the processes whose parent is this one, then checks that
// the PID still belongs to this process.
func (p *darwinProcess) Children() ([]int, error) {
	kps, err := unix.SysctlKinfoProcSlice("kern.proc.all")
	if err != nil {
		return nil, fmt.Errorf("failed to list processes: %w", err)
	}
	var pids []int
	for _, kp := range kps {
		if int(kp.Eproc.Ppid) == p.pid && kp.Proc.P_pid > 0 {
			pids = append(pids, int(kp.Proc.P_pid))
		}
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return pids, nil
}

// KillGroup checks the start time before and after reading the group ID,
// then signals the group (see GroupKiller).
func (p *darwinProcess) KillGroup() error {
	if err := p.check(); err != nil {
		return err
	}
	pgid, err := unix.Getpgid(p.pid)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("pid %d: %w", p.pid, ErrNotFound)
		}
		return fmt.Errorf("failed to read the process group of pid %d: %w", p.pid, err)
	}
	if err := p.check(); err != nil {
		return err
	}
	if pgid != p.pid {
		return fmt.Errorf("%w: pid %d is in group %d", ErrNotGroupLeader, p.pid, pgid)
	}
	if err := unix.Kill(-p.pid, unix.SIGKILL); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("process group %d: %w", p.pid, ErrNotFound)
		}
		return fmt.Errorf("failed to kill process group %d: %w", p.pid, err)
	}
	return nil
}
