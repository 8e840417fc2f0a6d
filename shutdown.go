// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/limastop/stop/wsl"
)

// DefaultDistroTimeout bounds the last-resort termination of a WSL2 distro
// in Shutdown when DistroTimeout is zero.
const DefaultDistroTimeout = 10 * time.Second

// Shutdown stops many instances at once, as an application that is quitting
// does: every instance concurrently, within the caller's deadline. A WSL2
// distro must not outlive the application, so for every WSL2 instance whose
// stop failed, a timeout included, Shutdown still terminates the distro, on
// a bound of its own that starts when the stop failed. Pid files and
// sockets stay in that case: the processes' deaths were not confirmed.
//
// The zero value is ready to use.
type Shutdown struct {
	// Stopper stops each instance; nil means Orphan{}.
	Stopper Stopper
	// WSL runs the last-resort wsl.exe --terminate; nil means wsl.Exec{}.
	WSL wsl.Executor
	// DistroTimeout bounds the last-resort termination; zero means
	// DefaultDistroTimeout.
	DistroTimeout time.Duration
	// Logger receives a record per last-resort termination; nil discards
	// them.
	Logger *slog.Logger
}

// StopAll stops insts concurrently. It returns their Results, in the order
// of insts, each with its own Err, and all the errors joined.
func (s Shutdown) StopAll(ctx context.Context, insts []*Instance) ([]*Result, error) {
	stopper := s.Stopper
	if stopper == nil {
		stopper = Orphan{}
	}
	results := make([]*Result, len(insts))
	errs := make([]error, len(insts))
	var wg sync.WaitGroup
	for i, inst := range insts {
		wg.Go(func() {
			results[i], errs[i] = stopper.Stop(ctx, inst)
			if results[i] == nil { // a Stopper from elsewhere
				results[i] = &Result{Start: time.Now()}
			}
			if errs[i] != nil && inst != nil && inst.wsl2() {
				s.terminateDistro(ctx, inst, results[i])
			}
			results[i].Err = errs[i]
		})
	}
	wg.Wait()
	return results, errors.Join(errs...)
}

// terminateDistro terminates the distro of inst after its stop failed,
// even if ctx has ended, and records it as a step of res.
func (s Shutdown) terminateDistro(ctx context.Context, inst *Instance, res *Result) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), orDefault(s.DistroTimeout, DefaultDistroTimeout))
	defer cancel()
	r := &run{inst: inst, log: orDiscard(s.Logger), begin: res.Start, res: res}
	distro := wsl.DistroName(inst.Name)
	_ = r.step(StepTerminate, nil, "terminate WSL2 distro "+distro+" (last resort)", func() error {
		return wsl.Terminate(ctx, orWSL(s.WSL), distro)
	})
}
