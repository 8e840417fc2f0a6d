// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/limastop/stop"
)

// nextError is an error with the next step to take.
type nextError struct {
	err  error
	next string
}

func withNext(err error, next string) error { return &nextError{err: err, next: next} }

func (e *nextError) Error() string { return e.err.Error() }
func (e *nextError) Unwrap() error { return e.err }

// printError prints err about the instance name, and then the next step.
func printError(w io.Writer, name string, err error) {
	fmt.Fprintf(w, "limastop: %s: %s\n", name, oneLine(err))
	var ne *nextError
	if errors.As(err, &ne) && ne.next != "" {
		fmt.Fprintf(w, "limastop: %s: next: %s\n", name, ne.next)
	}
}

// explain returns the error of a failed stop of inst with the next step.
func explain(inst *stop.Instance, o options, res *stop.Result, interrupted bool) error {
	err := res.Err
	var se *stop.Error
	if errors.As(err, &se) {
		err = se.Err // the instance's name starts the line already
	}
	force := "limastop -f " + inst.Name
	again := force // the same stop again
	switch o.policy {
	case policyGraceful:
		again = "limastop " + inst.Name
	case policyOrphan:
		again = "limastop -policy orphan " + inst.Name
	}
	switch {
	case interrupted && !res.Stopped() && errors.Is(err, context.Canceled):
		next := "run " + again + " to finish the stop"
		if again != force {
			next += ", or " + force + " to force it"
		}
		return withNext(fmt.Errorf("interrupted: %s", leftState(res)), next)
	case errors.Is(err, stop.ErrIdentityUnknown):
		s, ok := failedStep(res, stop.ErrIdentityUnknown)
		if !ok || s.PID == 0 {
			return withNext(err, "do the check that the error names, then run "+again+" again")
		}
		return withNext(err, fmt.Sprintf("check what pid %d is (%s): stop it yourself if it is %s's, remove %s if it is not; then run %s again",
			s.PID, inspectCommand(s.PID), inst.Name, pidFile(inst, s.Role), again))
	case errors.Is(err, stop.ErrBadPIDFile) || errors.Is(err, stop.ErrUnsafePID):
		file := "the pid file that the error names"
		if s, ok := failedStep(res, stop.ErrBadPIDFile, stop.ErrUnsafePID); ok {
			file = pidFile(inst, s.Role)
		}
		return withNext(err, fmt.Sprintf("once nothing of %s runs, remove %s; then run %s again", inst.Name, file, again))
	case errors.Is(err, stop.ErrInstanceRunning):
		return withNext(err, "check whether "+inst.Name+" was started again meanwhile (limactl list "+inst.Name+"), then run "+force+" again")
	case errors.Is(err, fs.ErrPermission):
		return withNext(err, "run limastop as the user who started "+inst.Name)
	case res.Stopped():
		return withNext(err, inst.Name+" runs no more: remove or unlock by hand what the error names, or run "+force+" again")
	case o.policy == policyGraceful && errors.Is(err, context.DeadlineExceeded):
		return withNext(err, "use -f to force it: "+force+"; or give it longer, e.g. -timeout 10m")
	case o.policy == policyGraceful:
		return withNext(err, "use -f to force it: "+force)
	case errors.Is(err, context.DeadlineExceeded):
		return withNext(err, "a process outlived its kill: check the processes that the error names, then run "+force+" again")
	}
	return withNext(err, "run it again with -v to see every step")
}

// leftState says what an interrupted stop left behind, from the steps it
// took.
func leftState(res *stop.Result) string {
	var asked *stop.Step
	for i, s := range res.Steps {
		switch {
		case s.Err != nil:
		case s.Kind == stop.StepKill || s.Kind == stop.StepKillGroup:
			return "processes were killed, but not all their deaths were confirmed: pid files, sockets and disk locks are kept"
		case s.Kind == stop.StepInterrupt || s.Kind == stop.StepRequest:
			asked = &res.Steps[i]
		}
	}
	switch {
	case asked == nil:
		return "nothing was signalled: it runs on as before"
	case asked.PID != 0:
		return fmt.Sprintf("the %s (pid %d) was asked to stop and may still be shutting down", asked.Role, asked.PID)
	}
	return "it was asked to stop and may still be shutting down"
}

// failedStep returns the last step whose error is one of targets.
func failedStep(res *stop.Result, targets ...error) (stop.Step, bool) {
	for i := len(res.Steps) - 1; i >= 0; i-- {
		for _, t := range targets {
			if errors.Is(res.Steps[i].Err, t) {
				return res.Steps[i], true
			}
		}
	}
	return stop.Step{}, false
}

// pidFile returns the path of the pid file of role in inst, as Lima names
// it.
func pidFile(inst *stop.Instance, role stop.Role) string {
	switch role {
	case stop.RoleHostAgent:
		return filepath.Join(inst.Dir, "ha.pid")
	case stop.RoleDriver:
		if inst.VMType != "wsl2" {
			return filepath.Join(inst.Dir, inst.VMType+".pid")
		}
	}
	return "the pid file that the error names"
}

// oneLine returns err's message on one line: errors.Join, as Lima's checks
// of a lima.yaml use it, puts each error on a line of its own.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
