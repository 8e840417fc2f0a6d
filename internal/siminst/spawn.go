// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// proc is a simulated process as the process that started it sees it: its
// child, or, for the vz driver, a part of the host agent itself.
type proc struct {
	role  Role
	pid   int
	done  chan struct{} // closed once the process has stopped
	stdin *os.File      // the child's; nil in the host agent
	// stopSelf stops the driver in the host agent; nil for a child.
	stopSelf func()
}

// spawn starts prog, or the current executable again if prog is "", as
// the simulated process cfg.Role with args (the command line a stop policy
// sees) and attr, and returns once it has reported ready with the fields
// of want. Its stdin stays with the caller, to stop it (see proc.stop),
// and its stderr is the caller's.
func spawn(cfg childConfig, prog string, args []string, attr *syscall.SysProcAttr, want readinessWant) (*proc, readiness, error) {
	env, err := childEnv(cfg)
	if err != nil {
		return nil, readiness{}, err
	}
	if prog == "" {
		if prog, err = os.Executable(); err != nil {
			return nil, readiness{}, fmt.Errorf("failed to find the executable to re-execute: %w", err)
		}
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, readiness{}, err
	}
	defer stdinR.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		stdinW.Close()
		return nil, readiness{}, err
	}
	defer outR.Close()
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	cmd.Stdin = stdinR
	cmd.Stdout = outW
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = attr
	err = cmd.Start()
	outW.Close()
	if err != nil {
		stdinW.Close()
		return nil, readiness{}, fmt.Errorf("failed to start the %s: %w", cfg.Role, err)
	}
	p := &proc{role: cfg.Role, pid: cmd.Process.Pid, stdin: stdinW, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	// Bounded: a child that fails before its readiness line closes the
	// pipe, and one that hangs ends at its lifetime.
	line, err := bufio.NewReader(outR).ReadString('\n')
	var ready readiness
	if err == nil {
		ready, err = parseReadiness(line, want)
	}
	if err != nil {
		p.stop()
		<-p.done
		return nil, readiness{}, fmt.Errorf("the %s did not get ready: %w", cfg.Role, err)
	}
	return p, ready, nil
}

// stop asks the process to stop: the stop line, then EOF. Call it once.
func (p *proc) stop() {
	if p.stopSelf != nil {
		p.stopSelf()
		return
	}
	_, _ = fmt.Fprintln(p.stdin, stopLine)
	_ = p.stdin.Close()
}

// stopAll asks procs to stop, all at once, then waits until each has
// stopped or timeout fires, and reports whether all stopped.
func stopAll(procs []*proc, timeout <-chan time.Time) bool {
	for _, p := range procs {
		p.stop()
	}
	for _, p := range procs {
		select {
		case <-p.done:
		case <-timeout:
			return false
		}
	}
	return true
}
