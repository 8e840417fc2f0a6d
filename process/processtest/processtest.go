// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Package processtest provides an in-memory process.Table for unit tests of
// code that stops processes: scripted processes that exit on interrupt after
// a delay, ignore interrupts or refuse to be killed, and a record of every
// call.
package processtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/limastop/stop/process"
)

// ErrKillRefused is what Kill returns for a process whose Behavior has
// RefuseKill set.
var ErrKillRefused = errors.New("processtest: kill refused")

// Behavior scripts how a fake process reacts.
type Behavior struct {
	// StartTime is what StartTime reports; zero means the time of Add.
	StartTime time.Time
	// CommandLine is what CommandLine reports.
	CommandLine []string
	// CommandLineErr, if set, is returned by CommandLine instead, as for
	// another user's process whose arguments the OS does not show.
	CommandLineErr error
	// InterruptDelay is how long the process takes to exit after an
	// interrupt.
	InterruptDelay time.Duration
	// IgnoreInterrupt makes Interrupt succeed without effect.
	IgnoreInterrupt bool
	// Parent is the PID of the process's parent, for Children.
	Parent int
	// OnInterrupt, if set, is called by each Interrupt that is
	// delivered, before the process reacts to it.
	OnInterrupt func()
	// InterruptErr, if set, is returned by Interrupt, which then has no
	// effect; process.ErrInterruptUnavailable models a caller without a
	// console on Windows.
	InterruptErr error
	// RefuseKill makes Kill fail with ErrKillRefused and leaves the
	// process running.
	RefuseKill bool
}

// Call is one recorded call on a Table or on a Process it returned.
type Call struct {
	Op  string // "find", "list", "interrupt", "kill", "wait" or "release"
	PID int
}

// Table is a fake process.Table. Its zero value is empty and ready to use.
type Table struct {
	mu    sync.Mutex
	procs map[int]*Process
	calls []Call
}

var (
	_ process.Table  = (*Table)(nil)
	_ process.Lister = (*Table)(nil)
)

// Add registers a running process with the given PID and behaviour,
// replacing any earlier one with that PID, as a recycled PID would.
func (t *Table) Add(pid int, b Behavior) *Process {
	if b.StartTime.IsZero() {
		b.StartTime = time.Now()
	}
	p := &Process{table: t, pid: pid, behavior: b, exited: make(chan struct{})}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.procs == nil {
		t.procs = make(map[int]*Process)
	}
	t.procs[pid] = p
	return p
}

// Find returns the running process with the given PID. Like the system
// table it refuses what process.CheckPID refuses.
func (t *Table) Find(pid int) (process.Process, error) {
	t.record("find", pid)
	if err := process.CheckPID(pid); err != nil {
		return nil, err
	}
	t.mu.Lock()
	p := t.procs[pid]
	t.mu.Unlock()
	if p == nil || p.Exited() {
		return nil, fmt.Errorf("pid %d: %w", pid, process.ErrNotFound)
	}
	return p, nil
}

// List implements process.Lister: the running processes, by PID, with the
// command lines a caller may read.
func (t *Table) List() ([]process.Entry, error) {
	t.record("list", 0)
	t.mu.Lock()
	defer t.mu.Unlock()
	var entries []process.Entry
	for pid, p := range t.procs {
		if p.Exited() {
			continue
		}
		e := process.Entry{PID: pid}
		if p.behavior.CommandLineErr == nil {
			e.CommandLine = slices.Clone(p.behavior.CommandLine)
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b process.Entry) int { return a.PID - b.PID })
	return entries, nil
}

// Calls returns the calls made so far, in order.
func (t *Table) Calls() []Call {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.calls)
}

func (t *Table) record(op string, pid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls = append(t.calls, Call{Op: op, PID: pid})
}

// Process is a fake process. It implements process.Process.
type Process struct {
	table    *Table
	pid      int
	behavior Behavior
	exitOnce sync.Once
	exited   chan struct{}
}

var (
	_ process.Process = (*Process)(nil)
	_ process.Parent  = (*Process)(nil)
)

// Behavior returns the process's script.
func (p *Process) Behavior() Behavior { return p.behavior }

// Exit makes the process exit now, as if it had ended by itself.
func (p *Process) Exit() { p.exitOnce.Do(func() { close(p.exited) }) }

// Done returns a channel that is closed when the process exits.
func (p *Process) Done() <-chan struct{} { return p.exited }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// PID returns the process ID.
func (p *Process) PID() int { return p.pid }

// StartTime returns the scripted start time.
func (p *Process) StartTime() time.Time { return p.behavior.StartTime }

// CommandLine returns the scripted command line, or an error wrapping
// process.ErrNotFound once the process has exited.
func (p *Process) CommandLine() ([]string, error) {
	switch {
	case p.Exited():
		return nil, fmt.Errorf("pid %d: %w", p.pid, process.ErrNotFound)
	case p.behavior.CommandLineErr != nil:
		return nil, p.behavior.CommandLineErr
	}
	return slices.Clone(p.behavior.CommandLine), nil
}

// Children returns the running processes whose Behavior names this one as
// their Parent, or an error wrapping process.ErrNotFound once the process
// has exited.
func (p *Process) Children() ([]int, error) {
	if p.Exited() {
		return nil, fmt.Errorf("pid %d: %w", p.pid, process.ErrNotFound)
	}
	p.table.mu.Lock()
	defer p.table.mu.Unlock()
	var pids []int
	for pid, c := range p.table.procs {
		if c.behavior.Parent == p.pid && !c.Exited() {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// Interrupt makes the process exit after its InterruptDelay, unless it is
// scripted to ignore or refuse interrupts.
func (p *Process) Interrupt() error {
	p.table.record("interrupt", p.pid)
	switch {
	case p.Exited():
		return fmt.Errorf("pid %d: %w", p.pid, process.ErrNotFound)
	case p.behavior.InterruptErr != nil:
		return p.behavior.InterruptErr
	}
	if p.behavior.OnInterrupt != nil {
		p.behavior.OnInterrupt()
	}
	if !p.behavior.IgnoreInterrupt {
		time.AfterFunc(p.behavior.InterruptDelay, p.Exit)
	}
	return nil
}

// Kill makes the process exit now, unless it is scripted to refuse.
func (p *Process) Kill() error {
	p.table.record("kill", p.pid)
	switch {
	case p.Exited():
		return fmt.Errorf("pid %d: %w", p.pid, process.ErrNotFound)
	case p.behavior.RefuseKill:
		return fmt.Errorf("pid %d: %w", p.pid, ErrKillRefused)
	}
	p.Exit()
	return nil
}

// Wait returns nil once the process has exited, or ctx.Err().
func (p *Process) Wait(ctx context.Context) error {
	p.table.record("wait", p.pid)
	select {
	case <-p.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release records the call.
func (p *Process) Release() error {
	p.table.record("release", p.pid)
	return nil
}
