// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process

var _ Parent = (*windowsProcess)(nil)

// Children lists the processes that a snapshot records as created by this
// one. Windows keeps the parent's PID, not a reference, and reuses PIDs, so
// a process recorded with this PID as its parent but created before this
// process belongs to an earlier holder of the PID and is left out.
func (p *windowsProcess) Children() ([]int, error) {
	parents, err := snapshot()
	if err != nil {
		return nil, err
	}
	var pids []int
	for pid, parent := range parents {
		if int(parent) != p.pid || pid == uint32(p.pid) {
			continue
		}
		created, err := creationTime(pid)
		if err != nil || created.Before(p.start) {
			continue
		}
		pids = append(pids, int(pid))
	}
	if err := p.checkRunning(); err != nil {
		return nil, err
	}
	return pids, nil
}
