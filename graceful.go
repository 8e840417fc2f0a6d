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

// DefaultGracefulTimeout bounds a Graceful stop whose Timeout is zero. Lima
// itself waits up to three minutes for a guest to shut down.
const DefaultGracefulTimeout = 3 * time.Minute

// Graceful interrupts the host agent and waits, event-driven, for it and
// then the driver to exit. The instance counts as stopped only when both are
// gone and, for a WSL2 instance, its distro is Stopped. Graceful never escalates: on timeout it returns an error wrapping
// context.DeadlineExceeded that names the phase, and the caller decides
// (Orphan escalates to Forcible).
//
// The zero value is ready to use.
type Graceful struct {
	// Timeout bounds the whole stop; zero means DefaultGracefulTimeout.
	// The context may cut it shorter.
	Timeout time.Duration
	// Processes is the process table; nil means process.System().
	Processes process.Table
	// WSL runs wsl.exe for WSL2 instances; nil means wsl.Exec{}.
	WSL wsl.Executor
	// Logger receives a record per step; nil discards them.
	Logger *slog.Logger
	// Verify, if set, is consulted on every process a pid file names,
	// besides the command line and the start times (see Verifier).
	Verify Verifier
	// Request, if set, is asked to stop the instance before the host
	// agent is interrupted; if it made the request, the host agent is not
	// interrupted, only waited for.
	Request StopRequester
}

// StopRequester asks another party to stop an instance, as Lima master asks
// systemd or launchd to stop an instance they started (autostart). It
// reports whether it made the request; a false with a nil error means the
// instance is not that party's to stop.
type StopRequester func(ctx context.Context, inst *Instance) (requested bool, err error)

var _ Stopper = Graceful{}

// Stop stops inst gracefully.
func (g Graceful) Stop(ctx context.Context, inst *Instance) (*Result, error) {
	return stopWith(ctx, inst, g.Logger, g.Verify, g.Processes, "graceful stop", g.stopTargets)
}

// stopTargets stops the processes that find pinned.
func (g Graceful) stopTargets(ctx context.Context, r *run, ts targets) error {
	ctx, cancel := context.WithTimeout(ctx, orDefault(g.Timeout, DefaultGracefulTimeout))
	defer cancel()
	r.phase = PhaseGraceful
	ha := ts.hostAgent()
	if ha.p == nil {
		if ha.bad != nil {
			return fmt.Errorf("graceful stop: the host agent cannot be found: %w", ha.bad)
		}
		if live := ts.running(); len(live) > 0 {
			return fmt.Errorf("graceful stop: the host agent is not running but the %s is: only a forced stop can end it", live[0])
		}
		if err := ts.others().badFiles(); err != nil {
			return fmt.Errorf("graceful stop: the host agent is not running, and a process cannot be found: %w", err)
		}
		if err := r.checkDistroStopped(ctx, g.WSL); err != nil {
			return fmt.Errorf("graceful stop: %w", err)
		}
		r.res.Outcome = AlreadyStopped
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("graceful stop: before the interrupt: %w", err)
	}
	requested := false
	if g.Request != nil {
		request := func() (err error) {
			requested, err = g.Request(ctx, r.inst)
			return err
		}
		if err := r.step(StepRequest, nil, "request the stop", request); err != nil {
			return fmt.Errorf("graceful stop: requesting the stop: %w", err)
		}
	}
	if !requested {
		err := r.step(StepInterrupt, ha, "interrupt "+ha.String(), ha.p.Interrupt)
		if err != nil && !errors.Is(err, process.ErrNotFound) {
			return fmt.Errorf("graceful stop: %w", err)
		}
	}
	for _, t := range append(targets{ha}, ts.others()...) {
		if t.p == nil {
			continue
		}
		wait := func() error { return t.p.Wait(ctx) }
		if err := r.step(StepWait, t, "wait for "+t.String()+" to exit", wait); err != nil {
			return fmt.Errorf("graceful stop: waiting for the %s to exit: %w", t, err)
		}
	}
	if err := ts.others().badFiles(); err != nil {
		return fmt.Errorf("graceful stop: the host agent has exited, but a process cannot be found: %w", err)
	}
	if r.inst.wsl2() {
		distro := wsl.DistroName(r.inst.Name)
		wait := func() error { return wsl.WaitStopped(ctx, orWSL(g.WSL), distro) }
		if err := r.step(StepWait, nil, "wait for WSL2 distro "+distro+" to stop", wait); err != nil {
			return fmt.Errorf("graceful stop: waiting for WSL2 distro %q to stop: %w", distro, err)
		}
	}
	r.res.Outcome = StoppedGracefully
	return nil
}

// checkDistroStopped checks, for a WSL2 instance whose processes are gone,
// that its distro is not running either: only a forced stop could end it.
func (r *run) checkDistroStopped(ctx context.Context, ex wsl.Executor) error {
	if !r.inst.wsl2() {
		return nil
	}
	distro := wsl.DistroName(r.inst.Name)
	var state wsl.State
	check := func() (err error) {
		state, err = wsl.DistroState(ctx, orWSL(ex), distro)
		return err
	}
	if err := r.step(StepCheck, nil, "check WSL2 distro "+distro, check); err != nil {
		return err
	}
	if state != wsl.Stopped && state != wsl.NotFound {
		return fmt.Errorf("WSL2 distro %q is %s although the host agent is gone: only a forced stop can end it", distro, state)
	}
	return nil
}
