// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/limastop/stop/process"
	"github.com/limastop/stop/wsl"
)

var (
	// ErrNotOurProcess means a pid file (or the caller) names a process
	// that is proven not to be the instance's: a stranger that reused the
	// PID. Nothing was signalled, the process counts as gone and its pid
	// file as stale; the Result's steps carry the error.
	ErrNotOurProcess = process.ErrNotOurProcess

	// ErrIdentityUnknown means a live process that the instance's pid file
	// (or the caller) names is neither proven the instance's nor proven a
	// stranger. Nothing was signalled, removed or unlocked; the error says
	// what to check.
	ErrIdentityUnknown = process.ErrIdentityUnknown

	// ErrUnsafePID means a well-formed PID was refused before anything was
	// signalled: <= 1, beyond 32 bits, or the caller's own or an
	// ancestor's.
	ErrUnsafePID = process.ErrUnsafePID

	// ErrNotInstanceDir means Instance.Dir is not a Lima instance
	// directory (it has no lima.yaml): nothing in it was touched.
	ErrNotInstanceDir = errors.New("not a Lima instance directory")

	// ErrBadPIDFile means a pid file is empty, garbage, not a regular file
	// or unreadable, and no running process could be found in its place.
	// The file is kept; the error says which one to remove once nothing of
	// the instance runs.
	ErrBadPIDFile = process.ErrBadPIDFile
)

// Instance is what stopping needs to know about one Lima instance.
//
// The pid files in Dir are the source of truth: HostAgentPID and DriverPID
// may be zero, and when they disagree with the files the files win, since
// an Instance may be a snapshot taken before the instance restarted.
type Instance struct {
	// Name is the instance name; its WSL2 distro is "lima-" + Name.
	Name string
	// Dir is the instance directory holding ha.pid, <VMType>.pid, the
	// sockets and the temporary files.
	Dir string
	// VMType is Lima's vmType: "qemu", "vz", "wsl2", ...; the driver's pid
	// file is <VMType>.pid.
	VMType string
	// HostAgentPID and DriverPID are the PIDs the caller knows, or zero.
	HostAgentPID int
	DriverPID    int
	// HostAgentStart and DriverStart, when set, are the start times the
	// caller recorded (from process.Process.StartTime) when it launched
	// the processes. They are compared exactly, instead of checking that
	// the process started before its pid file was written.
	HostAgentStart time.Time
	DriverStart    time.Time
	// AdditionalDisks are the names of Lima disks to unlock once a forced
	// stop has confirmed that every process is dead.
	AdditionalDisks []string
}

// Stopper stops Lima instances. Stop returns a non-nil Result, even with an
// error, saying what was done.
type Stopper interface {
	Stop(ctx context.Context, inst *Instance) (*Result, error)
}

// Outcome says how an instance went down.
type Outcome int

const (
	// NotStopped means the stop failed: processes may still be running.
	NotStopped Outcome = iota
	// AlreadyStopped means no process of the instance was running.
	AlreadyStopped
	// StoppedGracefully means the host agent shut the instance down after
	// an interrupt.
	StoppedGracefully
	// StoppedForcibly means processes were killed and their deaths
	// confirmed.
	StoppedForcibly
)

func (o Outcome) String() string {
	switch o {
	case NotStopped:
		return "not stopped"
	case AlreadyStopped:
		return "already stopped"
	case StoppedGracefully:
		return "stopped gracefully"
	case StoppedForcibly:
		return "stopped forcibly"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Result says how a stop went.
//
// Outcome and the error that Stop returns go together like this:
//
//	Outcome            error  meaning
//	NotStopped         set    the stop failed; processes of the instance may run,
//	                          and nothing was removed or unlocked after that point
//	AlreadyStopped,    nil    the instance is stopped and cleaned up
//	StoppedGracefully,
//	StoppedForcibly
//	AlreadyStopped,    set    the instance is stopped, but its clean-up failed
//	StoppedForcibly           (Error.Phase is PhaseCleanUp): a disk lock or a
//	                          stale file remains, as the error says
//
// Stopped reports the first column's "the instance runs no more".
type Result struct {
	// Start is when the stop began; the steps' At count from it.
	Start time.Time
	// Outcome says how the instance went down.
	Outcome Outcome
	// Err is the error that Stop returned, kept with the Result for
	// callers that handle many, such as Shutdown.StopAll.
	Err error
	// Escalation is set when an Orphan stop fell back to a forced stop: it
	// is why the graceful stop did not finish.
	Escalation error
	// Steps are the actions taken, in order.
	Steps []Step
}

// Stopped reports whether nothing of the instance runs any more, even if
// Err reports a failed clean-up.
func (r *Result) Stopped() bool { return r != nil && r.Outcome != NotStopped }

// StepKind says what a Step did.
type StepKind string

// The kinds of steps.
const (
	StepFind      StepKind = "find"       // read a pid file, pin and identify its process
	StepList      StepKind = "list"       // list the process table
	StepSearch    StepKind = "search"     // search the list for a process naming a pid file
	StepRequest   StepKind = "request"    // Graceful.Request
	StepInterrupt StepKind = "interrupt"  // the graceful request to the host agent
	StepWait      StepKind = "wait"       // wait for a process or a distro to stop
	StepKillGroup StepKind = "kill-group" // kill the host agent's process group
	StepKill      StepKind = "kill"       // kill one process
	StepReap      StepKind = "reap"       // free the memory of a killed process
	StepConfirm   StepKind = "confirm"    // wait for a killed process to be gone
	StepCheck     StepKind = "check"      // check pid files or a distro's state
	StepTerminate StepKind = "terminate"  // terminate a WSL2 distro
	StepUnlock    StepKind = "unlock"     // unlock a disk
	StepRemove    StepKind = "remove"     // remove stale files
)

// Step is one action of a stop.
type Step struct {
	// Kind says what the step did.
	Kind StepKind
	// Role is the process the step acted on, if any.
	Role Role
	// PID is that process's PID, if any.
	PID int
	// Action says what was done, for people.
	Action string
	// At is when the step began, since the stop began.
	At time.Duration
	// Took is how long the step took.
	Took time.Duration
	// Err is the step's error, if any. A step can fail without failing
	// the stop: a PID that is not ours (ErrNotOurProcess) counts as gone.
	Err error
}

// String renders the steps as a timeline, one line each.
func (r *Result) String() string {
	var b strings.Builder
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "%10s  %-52s %10s", s.At.Round(time.Microsecond), s.Action, s.Took.Round(time.Microsecond))
		if s.Err != nil {
			fmt.Fprintf(&b, "  (%v)", s.Err)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "outcome: %s", r.Outcome)
	if r.Escalation != nil {
		fmt.Fprintf(&b, " (escalated: %v)", r.Escalation)
	}
	return b.String()
}

// Phase is the part of a stop that an Error comes from.
type Phase string

// The phases of a stop.
const (
	PhaseStart    Phase = "start"    // checking the Instance, taking the lock
	PhaseFind     Phase = "find"     // reading pid files, identifying processes
	PhaseGraceful Phase = "graceful" // requesting the stop, waiting for the exits
	PhaseKill     Phase = "kill"     // killing, confirming the deaths
	PhaseWSL      Phase = "wsl"      // terminating the WSL2 distro
	PhaseCleanUp  Phase = "clean-up" // checking pid files, unlocking disks, removing files
)

// Error is the error of a failed stop: which instance, in which phase, and
// why. errors.Is sees through it to the cause, such as
// context.DeadlineExceeded or ErrIdentityUnknown.
type Error struct {
	Instance string
	Phase    Phase
	Err      error
}

func (e *Error) Error() string { return fmt.Sprintf("instance %q: %v", e.Instance, e.Err) }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// phases maps each kind of step to its phase.
var phases = map[StepKind]Phase{
	StepFind: PhaseFind, StepList: PhaseFind, StepSearch: PhaseFind,
	StepRequest: PhaseGraceful, StepInterrupt: PhaseGraceful, StepWait: PhaseGraceful,
	StepKillGroup: PhaseKill, StepKill: PhaseKill, StepReap: PhaseKill, StepConfirm: PhaseKill,
	StepCheck: PhaseCleanUp, StepTerminate: PhaseWSL, StepUnlock: PhaseCleanUp, StepRemove: PhaseCleanUp,
}

// run is the state of one Stop call.
type run struct {
	inst     *Instance
	log      *slog.Logger
	verify   Verifier
	table    process.Table // set by find
	pidFiles []string      // the pid files of the instance, set by find
	begin    time.Time
	res      *Result
	phase    Phase
}

// step runs f as a step of the stop and records it. t is the process it
// acts on, or nil.
func (r *run) step(kind StepKind, t *target, action string, f func() error) error {
	r.phase = phases[kind]
	if r.log.Enabled(context.Background(), slog.LevelDebug) {
		r.log.Debug("step started", r.attrs(kind, t, action)...)
	}
	start := time.Now()
	err := f()
	r.record(start, kind, t, action, err)
	return err
}

// record records a step that began at start and ends now.
func (r *run) record(start time.Time, kind StepKind, t *target, action string, err error) {
	r.phase = phases[kind]
	took := time.Since(start)
	s := Step{Kind: kind, Action: action, At: start.Sub(r.begin), Took: took, Err: err}
	if t != nil {
		s.Role, s.PID = t.role, t.claim.pid
		if t.p != nil {
			s.PID = t.p.PID()
		}
	}
	r.res.Steps = append(r.res.Steps, s)
	level, msg, outcome := slog.LevelInfo, "step done", slog.Attr{}
	switch {
	case errors.Is(err, process.ErrNotFound):
		// Gone already, as a stop wants it: no cause for a warning.
		outcome = slog.Bool("gone", true)
	case err != nil:
		level, msg, outcome = slog.LevelWarn, "step failed", slog.Any("error", err)
	}
	// The attributes are built only for a record that is kept: a stop
	// without a Logger spends nothing on them.
	if !r.log.Enabled(context.Background(), level) {
		return
	}
	attrs := append(r.attrs(kind, t, action), slog.Duration("took", took))
	if outcome.Key != "" {
		attrs = append(attrs, outcome)
	}
	r.log.Log(context.Background(), level, msg, attrs...)
}

// attrs are the attributes of a step's log records.
func (r *run) attrs(kind StepKind, t *target, action string) []any {
	attrs := []any{slog.String("instance", r.inst.Name), slog.String("step", string(kind)), slog.String("action", action)}
	if t != nil {
		attrs = append(attrs, slog.String("role", string(t.role)))
		if t.p != nil {
			attrs = append(attrs, slog.Int("pid", t.p.PID()))
		}
	}
	return attrs
}

// policy is what a Stopper does with the processes that find pinned.
type policy func(ctx context.Context, r *run, ts targets) error

// stopWith finds the processes of inst in table and runs stop on them,
// holding the instance's lock (see start). name prefixes an error of find.
func stopWith(ctx context.Context, inst *Instance, log *slog.Logger, verify Verifier, table process.Table, name string, stop policy) (*Result, error) {
	r, unlock, err := start(ctx, inst, log)
	r.verify = verify
	defer unlock()
	if err == nil {
		var ts targets
		ts, err = r.find(orSystem(table))
		defer ts.release()
		if err != nil {
			err = fmt.Errorf("%s: %w", name, err)
		} else {
			err = stop(ctx, r, ts)
		}
	}
	if err != nil {
		name := "<nil>"
		if inst != nil {
			name = inst.Name
		}
		err = &Error{Instance: name, Phase: r.phase, Err: err}
		r.res.Err = err
	}
	return r.res, err
}

// start validates inst and takes the instance's lock, so that concurrent
// stops of one instance in this process run one after the other: the
// later ones then find it stopped and report AlreadyStopped.
func start(ctx context.Context, inst *Instance, log *slog.Logger) (*run, func(), error) {
	begin := time.Now()
	r := &run{inst: inst, log: orDiscard(log), begin: begin, res: &Result{Start: begin}, phase: PhaseStart}
	if err := inst.validate(); err != nil {
		return r, func() {}, err
	}
	unlock, err := lockInstance(ctx, inst.Dir)
	if err != nil {
		return r, func() {}, fmt.Errorf("waiting for another stop of instance %q: %w", inst.Name, err)
	}
	return r, unlock, nil
}

func (inst *Instance) validate() error {
	switch {
	case inst == nil:
		return errors.New("no instance")
	case inst.Dir == "":
		return fmt.Errorf("instance %q has no directory", inst.Name)
	case inst.VMType == "" || inst.VMType != filepath.Base(inst.VMType) || strings.ContainsAny(inst.VMType, `/\`):
		return fmt.Errorf("instance %q has an invalid vmType %q", inst.Name, inst.VMType)
	}
	// Nothing is touched in a directory that is not an instance's: a
	// forced stop removes pid files, sockets and temporary files.
	if fi, err := os.Stat(inst.Dir); err != nil {
		return fmt.Errorf("instance %q: %w", inst.Name, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("instance %q: %q is not a directory", inst.Name, inst.Dir)
	}
	if _, err := os.Stat(filepath.Join(inst.Dir, "lima.yaml")); err != nil {
		return fmt.Errorf("%w: %q has no lima.yaml (%w)", ErrNotInstanceDir, inst.Dir, err)
	}
	return nil
}

// wsl2 reports whether the instance runs in a WSL2 distro.
func (inst *Instance) wsl2() bool { return inst.VMType == "wsl2" }

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func orSystem(t process.Table) process.Table {
	if t == nil {
		return process.System()
	}
	return t
}

func orWSL(ex wsl.Executor) wsl.Executor {
	if ex == nil {
		return wsl.Exec{}
	}
	return ex
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
