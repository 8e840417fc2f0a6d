// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

import (
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

// KillGroup checks the start time before and after reading the group ID
// (see killGroup).
func (p *darwinProcess) KillGroup() error { return killGroup(p.pid, p.check) }
