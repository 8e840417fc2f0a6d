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

// Orphan stops a host agent that no one is watching: Graceful first, with
// its own shorter timeout, then Forcible for whatever is left. The Result's
// Outcome says which path ended it and Escalation why the graceful one did
// not. If the graceful request cannot even be delivered (for example on
// Windows without a console), it escalates at once.
//
// The zero value is ready to use.
type Orphan struct {
	// Graceful is the first attempt; a zero Timeout means
	// DefaultOrphanGrace.
	Graceful Graceful
	// Forcible is the fallback.
	Forcible Forcible
}

var _ Stopper = Orphan{}

// Stop stops inst, gracefully if it can.
func (o Orphan) Stop(ctx context.Context, inst *Instance) (*Result, error) {
	g := o.Graceful
	g.Timeout = orDefault(g.Timeout, DefaultOrphanGrace)
	return stopWith(ctx, inst, g.Logger, func(ctx context.Context, r *run) error {
		err := g.stop(ctx, r)
		if err == nil || ctx.Err() != nil {
			return err
		}
		r.res.Escalation = err
		r.log.Warn("escalating to a forced stop", "instance", inst.Name, "reason", err)
		if o.Forcible.Logger != nil {
			r.log = o.Forcible.Logger
		}
		if err := o.Forcible.stop(ctx, r); err != nil {
			return err
		}
		if r.res.Outcome == AlreadyStopped {
			// The graceful stop ended it after all, just late.
			r.res.Outcome = StoppedGracefully
		}
		return nil
	})
}
