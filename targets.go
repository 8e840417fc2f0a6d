// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/limastop/stop/process"
)

// target is one process of an instance: the host agent or the driver.
type target struct {
	role    Role
	pidFile string    // "" for a driver that writes none (wsl2)
	pid     int       // from the Instance, or zero
	started time.Time // recorded by the caller, or zero

	// What find established.
	p        process.Process // pinned and ours; nil when not running
	claim    claim           // what the pid file said, if it could be read
	bad      error           // the pid file is unusable and no process was found for it
	stranger bool            // the claim names a process proven not ours
	same     *target         // the other target, when both are one process (vz)
}

func (t *target) String() string {
	if t.p != nil {
		return fmt.Sprintf("%s (pid %d)", t.role, t.p.PID())
	}
	return string(t.role)
}

// targets are an instance's processes, driver first: it is the one that
// writes to the disks, so a forced stop kills it first.
type targets []*target

func newTargets(inst *Instance) (targets, error) {
	drv := &target{role: RoleDriver, pid: inst.DriverPID, started: inst.DriverStart}
	if !inst.wsl2() {
		// Lima's WSL2 driver keeps the distro running with a wsl.exe
		// child of the host agent and writes no pid file.
		drv.pidFile = filepath.Join(inst.Dir, inst.VMType+".pid")
	}
	ts := targets{drv}
	// Lima master's external drivers run as servers of their own, each
	// with a <name>.drv.pid that its parent writes.
	entries, err := os.ReadDir(inst.Dir)
	if err != nil {
		return nil, fmt.Errorf("failed to list the instance directory: %w", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), externalDriverSuffix) && len(e.Name()) > len(externalDriverSuffix) {
			ts = append(ts, &target{role: RoleExternalDriver, pidFile: filepath.Join(inst.Dir, e.Name())})
		}
	}
	return append(ts, &target{role: RoleHostAgent, pidFile: filepath.Join(inst.Dir, "ha.pid"), pid: inst.HostAgentPID, started: inst.HostAgentStart}), nil
}

// externalDriverSuffix ends the pid file of each external driver server.
const externalDriverSuffix = ".drv.pid"

func (ts targets) driver() *target    { return ts[0] }
func (ts targets) hostAgent() *target { return ts[len(ts)-1] }

// others returns the targets but the host agent.
func (ts targets) others() targets { return ts[:len(ts)-1] }

// running returns the targets whose process is running, each process once.
func (ts targets) running() []*target {
	var live []*target
	for _, t := range ts {
		if t.p != nil {
			live = append(live, t)
		}
	}
	return live
}

// badFiles returns the errors of the pid files that could not be resolved.
func (ts targets) badFiles() error {
	var errs []error
	for _, t := range ts {
		if t.bad != nil {
			errs = append(errs, t.bad)
		}
	}
	return errors.Join(errs...)
}

// startTick is the coarsest resolution of a start time, Linux's 10 ms:
// a child started in its parent's tick may read a few microseconds earlier,
// since each lookup places the tick from its own reading of the clocks.
const startTick = 10 * time.Millisecond

// maxDescendants bounds how many descendants a stop pins, against a fork
// bomb.
const maxDescendants = 1024

// descendants pins the descendants of root that are not in seen, each
// identity-checked: listed as a child of its pinned parent, then confirmed
// as its child after it was pinned (listed again, or, where the process
// table can tell, by the parent PID read through its pin: see
// process.ChildVerifier), and started no earlier than that parent. They
// must be found before root is killed, while the parent links still hold.
// seen gains their PIDs.
func (r *run) descendants(root *target, seen map[int]bool) []*target {
	start := time.Now()
	var found []*target
	for queue := []*target{root}; len(queue) > 0 && len(seen) < maxDescendants; queue = queue[1:] {
		parent := queue[0]
		pp, ok := parent.p.(process.Parent)
		if !ok {
			continue
		}
		kids, err := pp.Children()
		if err != nil {
			continue
		}
		var pinned []process.Process
		for _, pid := range kids {
			if seen[pid] {
				continue
			}
			if p, err := r.table.Find(pid); err == nil {
				pinned = append(pinned, p)
			}
		}
		if len(pinned) == 0 {
			continue
		}
		isChild := childCheck(parent.p, pp)
		for _, p := range pinned {
			if !isChild(p) || p.StartTime().Before(parent.p.StartTime().Add(-startTick)) || len(seen) >= maxDescendants {
				_ = p.Release()
				continue
			}
			seen[p.PID()] = true
			t := &target{role: "descendant of the " + root.role, p: p}
			found = append(found, t)
			queue = append(queue, t)
		}
	}
	r.record(start, StepFind, root, fmt.Sprintf("find descendants of the %s: %d", root, len(found)), nil)
	return found
}

// childCheck returns how to confirm that a process pinned after parent's
// children were listed is still its child: by the process table's
// ChildVerifier where it has one, else by whether parent, pinned
// throughout, lists it again.
func childCheck(parent process.Process, pp process.Parent) func(process.Process) bool {
	if v, ok := parent.(process.ChildVerifier); ok {
		return func(c process.Process) bool {
			ok, err := v.IsChild(c)
			return err == nil && ok
		}
	}
	again, err := pp.Children()
	return func(c process.Process) bool { return err == nil && slices.Contains(again, c.PID()) }
}

func (ts targets) release() {
	for _, t := range ts {
		if t.p != nil {
			_ = t.p.Release()
			t.p = nil
		}
	}
}

// find pins the running processes of the instance that are provably its
// own, as a step each, following the table in the package doc.
//
// A process proven a stranger counts as gone (its step carries
// ErrNotOurProcess). A live process of unknown identity fails the whole
// find with ErrIdentityUnknown before anything is signalled. A pid file
// that cannot be used (ErrBadPIDFile, or ErrUnsafePID for a PID such as the
// caller's ancestor) is not fatal here: the process table is searched for a
// process whose command line names the file; if none is found, the target
// keeps the error in bad and the policies decide what they can still do.
func (r *run) find(table process.Table) (targets, error) {
	r.table = table
	ts, err := newTargets(r.inst)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t.pidFile != "" {
			r.pidFiles = append(r.pidFiles, t.pidFile)
		}
	}
	for _, t := range ts {
		if t.pidFile == "" && t.pid == 0 {
			continue
		}
		start := time.Now()
		p, err := r.findTarget(t)
		t.p = p
		switch {
		case err == nil && p == nil:
			r.record(start, StepFind, t, "find "+string(t.role)+": not running", nil)
		case err == nil || errors.Is(err, ErrNotOurProcess):
			t.stranger = err != nil
			r.record(start, StepFind, t, "find "+t.String(), err)
		case errors.Is(err, process.ErrBadPIDFile) || errors.Is(err, process.ErrUnsafePID):
			r.record(start, StepFind, t, "find "+string(t.role)+": unusable pid file", err)
			t.bad = err
		default:
			r.record(start, StepFind, t, "find "+string(t.role), err)
			ts.release()
			return ts, fmt.Errorf("finding the %s of instance %q: %w", t.role, r.inst.Name, err)
		}
	}
	// One process can hold both roles: with vz, vz.pid holds the host
	// agent's own PID.
	if ha, drv := ts.hostAgent(), ts.driver(); ha.p != nil && drv.p != nil && ha.p.PID() == drv.p.PID() {
		_ = drv.p.Release()
		drv.p, drv.same = nil, ha
	}
	if err := r.discover(ts); err != nil {
		ts.release()
		return ts, fmt.Errorf("finding the processes of instance %q: %w", r.inst.Name, err)
	}
	return ts, nil
}

// findTarget returns the running process of t if it is provably the
// instance's, nil if none runs or it is a stranger.
func (r *run) findTarget(t *target) (process.Process, error) {
	pid, written, err := process.ReadPIDFile(t.pidFile)
	switch {
	case t.pidFile == "" || errors.Is(err, fs.ErrNotExist):
		if t.pid == 0 {
			return nil, nil
		}
		// A PID the caller knows whose pid file is gone: Lima's
		// processes remove theirs when they exit, so the command line
		// or a recorded start time must show that this is still one.
		pid, written = t.pid, time.Time{}
	case err != nil:
		return nil, err
	}
	t.claim = claim{pid: pid, written: written}
	p, err := r.table.Find(pid)
	switch {
	case errors.Is(err, process.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("pid %d of %s: %w", pid, t.claimSource(), err)
	}
	v := r.identify(t, t.claim, p)
	switch v.id {
	case Ours:
		r.log.Debug("identified", "instance", r.inst.Name, "role", string(t.role), "pid", pid, "why", v.why)
		return p, nil
	case NotOurs:
		_ = p.Release()
		return nil, fmt.Errorf("%w: pid %d of %s: %s", ErrNotOurProcess, pid, t.claimSource(), v.why)
	}
	exe := executable(p)
	_ = p.Release()
	return nil, fmt.Errorf("%w: pid %d (%s) named by %s may or may not be the %s of instance %q: %s; "+
		"nothing was signalled or removed: check what that process is, stop it yourself if it is the instance's, "+
		"or %s if it is not",
		ErrIdentityUnknown, pid, exe, t.claimSource(), t.role, r.inst.Name, v.why, t.claimFix())
}

// claimSource names where t's claim came from.
func (t *target) claimSource() string {
	if t.claim.written.IsZero() {
		return "the caller"
	}
	return t.pidFile
}

// claimFix says how to withdraw t's claim.
func (t *target) claimFix() string {
	if t.claim.written.IsZero() {
		return fmt.Sprintf("stop passing pid %d", t.claim.pid)
	}
	return "remove " + t.pidFile
}

// discover searches the process table for the processes whose pid files
// are unusable, or missing while the instance may still run (its socket or
// its other process is there). The scan costs milliseconds on a busy host,
// so it is paid only then: never for a stopped instance without pid files,
// and never for the pid file a WSL2 driver does not write.
func (r *run) discover(ts targets) error {
	var want []*target
	for _, t := range ts {
		if t.p != nil || t.same != nil || t.pidFile == "" {
			continue
		}
		if t.bad != nil || (t.claim.pid == 0 && r.mayRun(ts)) {
			want = append(want, t)
		}
	}
	if len(want) == 0 {
		return nil
	}
	lister, ok := r.table.(process.Lister)
	if !ok {
		return nil
	}
	start := time.Now()
	entries, err := lister.List()
	r.record(start, StepList, nil, "list processes", err)
	if err != nil {
		return nil // the targets keep their errors
	}
	for _, t := range want {
		start := time.Now()
		p, err := r.discoverTarget(entries, t)
		if err != nil {
			r.record(start, StepSearch, t, "search for the "+string(t.role), err)
			return err
		}
		if p == nil {
			r.record(start, StepSearch, t, "search for the "+string(t.role)+": none names "+filepath.Base(t.pidFile), nil)
			if t.bad != nil {
				t.bad = fmt.Errorf("%w; and no running process names %s: once you have checked that nothing of instance %q runs, remove that file",
					t.bad, t.pidFile, r.inst.Name)
			}
			continue
		}
		t.p, t.bad = p, nil
		r.record(start, StepSearch, t, "search for the "+string(t.role)+": found "+t.String(), nil)
	}
	return nil
}

// mayRun reports whether something of the instance may still run although
// a pid file is missing: its host agent's socket exists, or one of its
// processes runs.
func (r *run) mayRun(ts targets) bool {
	if len(ts.running()) > 0 {
		return true
	}
	_, err := os.Lstat(filepath.Join(r.inst.Dir, "ha.sock"))
	return err == nil
}

// discoverTarget returns the one running process whose command line names
// t's pid file, pinned and checked again through the pin, or nil.
func (r *run) discoverTarget(entries []process.Entry, t *target) (process.Process, error) {
	var found process.Process
	for _, e := range entries {
		if r.namedPIDFile(e.CommandLine) != t.pidFile {
			continue
		}
		p, err := r.table.Find(e.PID)
		if err != nil {
			continue // gone, or a PID that must never be signalled
		}
		if args, err := p.CommandLine(); err != nil || r.namedPIDFile(args) != t.pidFile {
			_ = p.Release()
			continue
		}
		if found != nil {
			_ = found.Release()
			_ = p.Release()
			return nil, fmt.Errorf("%w: several running processes name %s: stop them yourself, then remove that file",
				ErrIdentityUnknown, t.pidFile)
		}
		found = p
	}
	return found, nil
}
