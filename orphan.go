// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop

import (
	"context"
	"time"
)

// DefaultOrphanGrace bounds the graceful part of an Orphan stop whose
// Graceful.Timeout is zero. It is shorter than DefaultGracefulTimeout: no
// one is watching an orphaned host agent, so waiting long helps no one.
const DefaultOrphanGrace = 15 * time.Second

// DefaultForcedBudget is how much of the caller's deadline an Orphan stop
// keeps for its forced part when ForcedBudget is zero: enough to kill,
// confirm the deaths, terminate a WSL2 distro and clean up.
const DefaultForcedBudget = 5 * time.Second

// Orphan stops a host agent that no one is watching: Graceful first, with
// its own shorter timeout, then Forcible for whatever is left. The Result's
// Outcome says which path ended it and Escalation why the graceful one did
// not. If the graceful request cannot even be delivered (for example on
// Windows without a console), it escalates at once.
//
// The processes are found and identified once, and the forced stop acts on
// the processes the graceful one pinned: a host agent that removed its pid
// file but has not exited is still killed. A stop whose processes cannot
// be identified (ErrIdentityUnknown) is never escalated.
//
// The zero value is ready to use.
type Orphan struct {
	// Graceful is the first attempt; a zero Timeout means
	// DefaultOrphanGrace. Its Processes and Verify serve both phases
	// (Forcible's where Graceful's are nil), and so do its Logger and WSL
	// unless Forcible sets its own.
	Graceful Graceful
	// Forcible is the fallback. Its nil WSL and Logger take Graceful's.
	Forcible Forcible
	// ForcedBudget is how much of the context's deadline, if it has one,
	// is kept for the forced stop: the graceful part ends that long
	// before the deadline, so that a forced stop still runs when the
	// graceful one cannot finish in time. A deadline closer than the
	// budget leaves the graceful part no time at all. Zero means
	// DefaultForcedBudget. A context that is cancelled, rather than
	// reaching its deadline, ends the stop without forcing.
	ForcedBudget time.Duration
}

var _ Stopper = Orphan{}

// Stop stops inst, gracefully if it can.
func (o Orphan) Stop(ctx context.Context, inst *Instance) (*Result, error) {
	g := o.Graceful
	g.Timeout = orDefault(g.Timeout, DefaultOrphanGrace)
	f := o.Forcible
	if g.Processes == nil {
		g.Processes = f.Processes
	}
	if g.Verify == nil {
		g.Verify = f.Verify
	}
	if f.WSL == nil {
		f.WSL = g.WSL
	}
	if f.Logger == nil {
		f.Logger = g.Logger
	}
	return stopWith(ctx, inst, g.Logger, g.Verify, g.Processes, "graceful stop", func(ctx context.Context, r *run, ts targets) error {
		gctx := ctx
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			gctx, cancel = context.WithDeadline(ctx, deadline.Add(-orDefault(o.ForcedBudget, DefaultForcedBudget)))
			defer cancel()
		}
		err := g.stopTargets(gctx, r, ts)
		if err == nil || ctx.Err() != nil {
			return err
		}
		r.res.Escalation = err
		r.log.Warn("escalating to a forced stop", "instance", inst.Name, "reason", err)
		r.log = orDiscard(f.Logger)
		if err := f.stopTargets(ctx, r, ts); err != nil {
			return err
		}
		if r.res.Outcome == AlreadyStopped {
			// The graceful stop ended it after all, just late.
			r.res.Outcome = StoppedGracefully
		}
		return nil
	})
}
