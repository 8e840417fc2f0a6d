// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/limastop/stop/process"
)

// target is one process of an instance: the host agent or the driver.
type target struct {
	role    string // "host agent" or "driver"
	pidFile string
	pid     int       // from the Instance, or zero
	started time.Time // recorded by the caller, or zero
	p       process.Process
}

func (t *target) String() string {
	if t.p != nil {
		return fmt.Sprintf("%s (pid %d)", t.role, t.p.PID())
	}
	return t.role
}

// targets are an instance's processes, driver first: it is the one that
// writes to the disks, so a forced stop kills it first.
type targets [2]*target

func newTargets(inst *Instance) targets {
	return targets{
		{role: "driver", pidFile: filepath.Join(inst.Dir, inst.VMType+".pid"), pid: inst.DriverPID, started: inst.DriverStart},
		{role: "host agent", pidFile: filepath.Join(inst.Dir, "ha.pid"), pid: inst.HostAgentPID, started: inst.HostAgentStart},
	}
}

func (ts targets) driver() *target    { return ts[0] }
func (ts targets) hostAgent() *target { return ts[1] }

// running returns the targets whose process is running.
func (ts targets) running() []*target {
	var live []*target
	for _, t := range ts {
		if t.p != nil {
			live = append(live, t)
		}
	}
	return live
}

func (ts targets) release() {
	for _, t := range ts {
		if t.p != nil {
			_ = t.p.Release()
			t.p = nil
		}
	}
}

// find pins the running processes of the instance, as a step each. A
// process whose identity does not check out (ErrNotOurProcess) is recorded
// and counts as gone. Any other failure, such as a garbage pid file or one
// that cannot be read, is returned: nothing can be known about that process,
// so nothing may be signalled or cleaned up.
func (r *run) find(table process.Table) (targets, error) {
	ts := newTargets(r.inst)
	for _, t := range ts {
		start := time.Now()
		p, err := findTarget(table, t)
		t.p = p
		if p == nil && err == nil {
			r.record(start, "find "+t.role+": not running", nil)
		} else {
			r.record(start, "find "+t.String(), err)
		}
		switch {
		case err == nil:
		case errors.Is(err, ErrNotOurProcess):
		default:
			ts.release()
			return ts, fmt.Errorf("finding the %s of instance %q: %w", t.role, r.inst.Name, err)
		}
	}
	return ts, nil
}

// findTarget returns the running process of t, or nil when none runs.
func findTarget(table process.Table, t *target) (process.Process, error) {
	pid, written, err := process.ReadPIDFile(t.pidFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return findWithoutPIDFile(table, t)
	case err != nil:
		return nil, err
	}
	p, err := table.Find(pid)
	if errors.Is(err, process.ErrNotFound) {
		return nil, nil // a stale pid file
	}
	if err != nil {
		return nil, err
	}
	if t.pid == pid && !t.started.IsZero() {
		err = process.VerifyStartTime(p, t.started)
	} else {
		err = process.VerifyPIDFile(p, written)
	}
	if err != nil {
		_ = p.Release()
		return nil, fmt.Errorf("pid file %q: %w", t.pidFile, err)
	}
	return p, nil
}

// findWithoutPIDFile handles a PID the caller knows whose pid file is gone.
// Lima's processes remove their pid files when they exit, so a running
// process with that PID is most likely another one; it is used only if its
// start time matches one the caller recorded.
func findWithoutPIDFile(table process.Table, t *target) (process.Process, error) {
	if t.pid == 0 {
		return nil, nil
	}
	p, err := table.Find(t.pid)
	if errors.Is(err, process.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if t.started.IsZero() {
		_ = p.Release()
		return nil, fmt.Errorf("%w: pid %d has no pid file %s to check it against", ErrNotOurProcess, t.pid, t.pidFile)
	}
	if err := process.VerifyStartTime(p, t.started); err != nil {
		_ = p.Release()
		return nil, err
	}
	return p, nil
}
