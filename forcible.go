// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/limastop/stop/process"
	"github.com/limastop/stop/wsl"
)

// DefaultForcibleTimeout bounds a Forcible stop whose Timeout is zero: the
// confirmation of the deaths and the clean-up after them.
const DefaultForcibleTimeout = 30 * time.Second

// Forcible kills the driver, then the host agent, each identity-checked,
// and confirms each death with a bounded wait. On Linux it frees the
// memory of the killed processes meanwhile (process.MemoryReaper), so that
// a VM's gigabytes do not hold up its death. Only when every process is
// confirmed dead does it terminate the distro of a WSL2 instance, and only
// when that too has succeeded does it unlock the instance's additional disks
// and remove the stale pid files, sockets and temporary files. If a death
// or the distro's end cannot be confirmed, files and locks stay and the
// error names what survived: the instance must not look stopped while
// something may still write to its disks.
//
// The zero value is ready to use.
type Forcible struct {
	// Timeout bounds the whole stop; zero means DefaultForcibleTimeout.
	// The context may cut it shorter.
	Timeout time.Duration
	// Processes is the process table; nil means process.System().
	Processes process.Table
	// Disks unlocks the additional disks; nil means LimaDisks.
	Disks DiskUnlocker
	// WSL runs wsl.exe for WSL2 instances; nil means wsl.Exec{}.
	WSL wsl.Executor
	// Logger receives a record per step; nil discards them.
	Logger *slog.Logger
	// Verify, if set, is consulted on every process a pid file names,
	// besides the command line and the start times (see Verifier).
	Verify Verifier
	// KeepDescendants leaves the descendants of the killed processes,
	// and the other members of the host agent's process group, running.
	// By default they are killed after the processes themselves, and
	// their deaths confirmed.
	KeepDescendants bool
}

var _ Stopper = Forcible{}

// Stop stops inst forcibly. Stopping a stopped instance removes what stale
// files it left and reports AlreadyStopped.
func (f Forcible) Stop(ctx context.Context, inst *Instance) (*Result, error) {
	return stopWith(ctx, inst, f.Logger, f.Verify, f.Processes, "forced stop", f.stopTargets)
}

// stopTargets kills the processes that find pinned and cleans up.
func (f Forcible) stopTargets(ctx context.Context, r *run, ts targets) error {
	ctx, cancel := context.WithTimeout(ctx, orDefault(f.Timeout, DefaultForcibleTimeout))
	defer cancel()
	r.phase = PhaseKill
	live := ts.running()
	var tree targets
	defer func() { tree.release() }()
	seen := make(map[int]bool)
	for _, t := range live {
		seen[t.p.PID()] = true
	}
	killed := false
	killErrs := make(map[*target]error)
	dying := make(map[*target]bool)
	// Every signal checks the context first: a stop whose context has
	// ended signals nothing more.
	signal := func(t *target, kind StepKind, action string, f func() error) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("forced stop: before killing the %s: %w", t, err)
		}
		err := r.step(kind, t, action, f)
		switch {
		case kind == StepKillGroup:
			// A host agent that leads no group is no failure: its
			// tree is killed process by process.
		case err == nil:
			killed, dying[t] = true, true
		case !errors.Is(err, process.ErrNotFound):
			killErrs[t] = err
		}
		return nil
	}
	// Every subtree is pinned before anything is signalled: the search
	// then runs while the parent links all hold and no dying process
	// competes for the CPU, and the kills that follow come in one burst,
	// so that no process of the instance lives on to react to the death
	// of another (a host agent to its driver's).
	if !f.KeepDescendants {
		for _, t := range live {
			tree = append(tree, r.descendants(t, seen)...)
		}
	}
	for _, t := range live {
		if g, ok := t.p.(process.GroupKiller); ok && !f.KeepDescendants && t.role == RoleHostAgent {
			// While the host agent lives, its PID names its own
			// group and no other: members that left the tree go too.
			if err := signal(t, StepKillGroup, "kill the process group of the "+t.String(), g.KillGroup); err != nil {
				return err
			}
		}
		if err := signal(t, StepKill, "kill "+t.String(), t.p.Kill); err != nil {
			return err
		}
	}
	for _, t := range tree {
		if err := signal(t, StepKill, "kill "+t.String(), t.p.Kill); err != nil {
			return err
		}
	}
	live = append(live, tree...)
	reap(ctx, r, live, dying)
	var survivors []error
	for _, t := range live {
		waitCtx := ctx
		if killErrs[t] != nil {
			// The kill failed (for example with a permission error):
			// only check whether the process has died anyway, rather
			// than wait out the timeout for a death no one caused.
			var cancel context.CancelFunc
			waitCtx, cancel = context.WithDeadline(ctx, time.Now())
			defer cancel()
		}
		wait := func() error { return t.p.Wait(waitCtx) }
		if err := r.step(StepConfirm, t, "confirm "+t.String()+" exited", wait); err != nil {
			survivors = append(survivors, fmt.Errorf("the %s survived: %w", t, errors.Join(killErrs[t], err)))
		}
	}
	if len(survivors) > 0 {
		return fmt.Errorf("forced stop: %w; pid files, sockets and disk locks are kept", errors.Join(survivors...))
	}
	if err := ts.badFiles(); err != nil {
		// Whatever could be identified is dead, but a pid file that
		// could not be resolved may stand for a process that runs on.
		return fmt.Errorf("forced stop: %w; pid files, sockets and disk locks are kept", err)
	}
	stale := newStaleness(ts, live)
	var checked staleFiles
	check := func() (err error) {
		checked, err = r.checkPIDFiles(ts, stale)
		return err
	}
	if err := r.step(StepCheck, nil, "check that every pid file is stale", check); err != nil {
		return fmt.Errorf("forced stop: %w; pid files, sockets and disk locks are kept", err)
	}
	if r.inst.wsl2() {
		// The distro is the VM: while it may run, the instance must not
		// look stopped, so disks and files stay if it cannot be
		// terminated.
		distro := wsl.DistroName(r.inst.Name)
		terminate := func() error { return wsl.Terminate(ctx, orWSL(f.WSL), distro) }
		if err := r.step(StepTerminate, nil, "terminate WSL2 distro "+distro, terminate); err != nil {
			return fmt.Errorf("forced stop: terminating WSL2 distro %q: %w; pid files, sockets and disk locks are kept", distro, err)
		}
	}
	// Nothing of the instance runs any more, whatever the clean-up
	// below makes of its leftovers.
	if killed {
		r.res.Outcome = StoppedForcibly
	} else {
		r.res.Outcome = AlreadyStopped
	}
	if err := f.cleanUp(ctx, r, ts, stale, checked); err != nil {
		if errors.Is(err, ErrInstanceRunning) {
			r.res.Outcome = NotStopped
			return fmt.Errorf("forced stop: %w", err)
		}
		return fmt.Errorf("forced stop: the instance is stopped, but its clean-up failed: %w", err)
	}
	return nil
}

// reap frees the memory of the processes that were just killed, where the
// process table can (see process.MemoryReaper). A killed process frees its
// memory itself as its last thread exits: for a VM of a few GiB that is
// most of the time its death takes, and the stopping thread, which would
// only wait meanwhile, does it faster alongside. Reaping is a help, not a
// step the stop depends on: its errors fail nothing, and the deaths are
// confirmed all the same.
func reap(ctx context.Context, r *run, live []*target, dying map[*target]bool) {
	for _, t := range live {
		m, ok := t.p.(process.MemoryReaper)
		if !ok || !dying[t] || ctx.Err() != nil {
			continue
		}
		start := time.Now()
		err := m.ReapMemory()
		if errors.Is(err, errors.ErrUnsupported) {
			// An older kernel: the processes free their memory
			// themselves, as they always did.
			return
		}
		r.record(start, StepReap, t, "reap the memory of "+t.String(), err)
	}
}

// cleanUp unlocks the disks and removes the stale files once nothing of the
// instance runs any more. For a WSL2 instance, time has passed since the
// pid files were checked (its distro was terminated meanwhile), so they are
// checked again before the disks are unlocked: a restart meanwhile has
// locked them again, and its locks must stay. For the others the check
// has just run. The pid files are re-read before anything is removed in
// any case (a restart's socket is its own).
func (f Forcible) cleanUp(ctx context.Context, r *run, ts targets, stale staleness, checked staleFiles) error {
	disks := f.Disks
	if disks == nil {
		disks = LimaDisks{}
	}
	if r.inst.wsl2() && len(r.inst.AdditionalDisks) > 0 {
		check := func() (err error) {
			checked, err = r.checkPIDFiles(ts, stale)
			return err
		}
		if err := r.step(StepCheck, nil, "check the pid files again before unlocking the disks", check); err != nil {
			return err
		}
	}
	var errs []error
	for _, d := range r.inst.AdditionalDisks {
		unlock := func() error { return disks.Unlock(ctx, r.inst, d) }
		if err := r.step(StepUnlock, nil, fmt.Sprintf("unlock disk %q", d), unlock); err != nil && !errors.Is(err, ErrDiskHeldElsewhere) {
			errs = append(errs, err)
		}
	}
	remove := func() error { return r.removeStale(checked) }
	if err := r.step(StepRemove, nil, "remove stale pid files, sockets and temporary files", remove); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
