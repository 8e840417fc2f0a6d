//go:build limaupstream

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// This file is the proposed pkg/instance/stop.go of Lima v1.2.2: the same
// exported functions, on github.com/limastop/stop. run.sh drops it into a
// copy of Lima without the build constraint above, which keeps it out of
// this repository's builds but for `go vet -tags limaupstream`.

package instance

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/lima-vm/lima/pkg/store"

	"github.com/limastop/stop"
	stoplima "github.com/limastop/stop/lima"
	"github.com/limastop/stop/process"
)

// StopGracefully interrupts the host agent of inst and waits, without
// polling, until the host agent and the driver have exited, at most
// stop.DefaultGracefulTimeout unless ctx ends first. A host agent whose
// pid file names another process is never signalled. An instance that is
// not Running is an error, or only a warning for a restart.
func StopGracefully(ctx context.Context, inst *store.Instance, isRestart bool) error {
	if inst.Status != store.StatusRunning {
		if isRestart {
			logrus.Warnf("Instance %q is %s, not running; restarting it anyway", inst.Name, inst.Status)
			return nil
		}
		return fmt.Errorf("instance %q is %s, not %s; `limactl stop -f` stops it anyway",
			inst.Name, inst.Status, store.StatusRunning)
	}
	policy := stop.Graceful{Processes: processes(), Logger: stoplima.Logger(nil)}
	res, err := policy.Stop(ctx, stoplima.Instance(inst))
	logResult(inst, res)
	// err, a *stop.Error, names the instance, the phase and the cause.
	return err
}

// StopForcibly stops inst as StopForciblyContext does and logs the error,
// if any: it keeps the signature of Lima v1.2.2 for the callers that have
// not moved to StopForciblyContext yet.
func StopForcibly(inst *store.Instance) {
	if err := StopForciblyContext(context.Background(), inst); err != nil {
		logrus.Error(err)
	}
}

// StopForciblyContext kills the processes of inst (stop.Forcible: the
// driver, the host agent and what they started), each only once it is
// identified as the instance's, and confirms each death; only then does it
// unlock the instance's additional disks (those that name this instance)
// and remove its pid files, sockets and temporary files. It is bounded by
// stop.DefaultForcibleTimeout and by ctx.
//
// A non-nil error is a *stop.Error. Unless its Phase is stop.PhaseCleanUp
// (every process is gone, but a disk lock or a stale file remains, as it
// says), a process of the instance may still be running and nothing was
// unlocked or removed: the caller must not go on as if the instance were
// stopped, by deleting its directory or starting it again.
func StopForciblyContext(ctx context.Context, inst *store.Instance) error {
	policy := stop.Forcible{Processes: processes(), Disks: stoplima.Disks{}, Logger: stoplima.Logger(nil)}
	res, err := policy.Stop(ctx, stoplima.Instance(inst))
	logResult(inst, res)
	return err
}

// processes is the process table of both policies. limactl starts the host
// agent in a process group of its own (executil.BackgroundSysProcAttr), so
// on Windows a console break to its PID reaches that group only; a host
// agent that has opted into process.InterruptEventName gets that event
// instead, which needs no console.
func processes() process.Table {
	return process.SystemTable{ConsoleBreak: true}
}

// logResult logs how the stop of inst ended, and its timeline at debug
// level.
func logResult(inst *store.Instance, res *stop.Result) {
	if res == nil {
		return
	}
	logrus.Infof("Instance %q: %s", inst.Name, res.Outcome)
	logrus.Debugf("Steps of the stop of %q:\n%s", inst.Name, res)
}
