// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lima-vm/lima/pkg/store"

	"github.com/limastop/stop"
	"github.com/limastop/stop/lima"
	"github.com/limastop/stop/process"
	"github.com/limastop/stop/wsl"
)

// The exit codes, as the package documentation lists them.
const (
	exitStopped     = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// The policies.
const (
	policyGraceful = "graceful"
	policyForcible = "forcible"
	policyOrphan   = "orphan"
)

// defaultInstance is the instance limactl acts on when given no name.
const defaultInstance = "default"

const usage = `usage: limastop [-f] [-policy graceful|forcible|orphan] [-timeout D] [-v] [NAME...]

Stops Lima instances safely, as "limactl stop" does, several at once.
NAME defaults to "default". Instances are looked up in $LIMA_HOME, or in
~/.lima when LIMA_HOME is not set.

  -f          force: kill the instance's processes, confirm their deaths,
              then clean up (the same as -policy forcible)
  -policy P   graceful (default): interrupt the host agent and wait for it
              and the driver to exit, as limactl stop does;
              forcible: as -f;
              orphan: graceful, then forcible after 15s
  -timeout D  bound of the whole stop, such as 30s or 5m
              (default: the policy's own, 3m graceful, 30s forcible)
  -v          print every step as it ends, with how long it took
  -h          print this help

Ctrl-C or SIGTERM interrupts: nothing further is signalled or removed.

Exit codes:
  0    every instance is stopped, or already was
  1    a stop failed, or an instance was not found or could not be read
  2    bad usage
  130  interrupted by Ctrl-C or SIGTERM
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are what the command line asks for.
type options struct {
	names   []string
	policy  string
	timeout time.Duration
	verbose bool
}

// run runs limastop with args and returns its exit code.
func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseArgs(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return exitStopped
	case err != nil:
		fmt.Fprintf(stderr, "limastop: %v\nlimastop: run limastop -h for help\n", err)
		return exitUsage
	}

	prog := newProgress(stderr, opts.verbose)
	defer prog.Close()
	ctx, interrupted, restoreSignals := notifySignals(context.Background(), prog.Interrupted)
	defer restoreSignals()
	if opts.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.timeout)
		defer cancel()
	}

	code := exitStopped
	var insts []*stop.Instance
	for _, name := range opts.names {
		inst, warnings, err := lookUp(name)
		if err != nil {
			printError(stderr, name, err)
			code = exitFailed
			continue
		}
		for _, w := range warnings {
			fmt.Fprintf(stderr, "limastop: %s: Lima reports: %s\n", name, oneLine(w))
		}
		insts = append(insts, inst)
	}
	if len(insts) == 0 {
		if interrupted() {
			return exitInterrupted
		}
		return code
	}

	logger := slog.New(prog)
	sd := stop.Shutdown{
		Stopper: newStopper(opts.policy, logger),
		WSL:     lastResort{forcing: opts.policy != policyGraceful, interrupted: interrupted},
		Logger:  logger,
	}
	results, _ := sd.StopAll(ctx, insts)
	prog.Close()
	// From here on, a second Ctrl-C ends limastop at once.
	restoreSignals()

	for i, inst := range insts {
		res := results[i]
		fmt.Fprintf(stdout, "%s: %s\n", inst.Name, outcome(res, interrupted()))
		if res.Err != nil {
			printError(stderr, inst.Name, explain(inst, opts, res, interrupted()))
			code = exitFailed
		}
	}
	if interrupted() {
		return exitInterrupted
	}
	return code
}

// parseArgs parses the command line. Flags may follow names, as limactl
// (cobra) allows: "limastop default -f".
func parseArgs(args []string) (options, error) {
	var o options
	flags := flag.NewFlagSet("limastop", flag.ContinueOnError)
	flags.SetOutput(io.Discard) // run prints the error and the usage
	force := flags.Bool("f", false, "")
	flags.StringVar(&o.policy, "policy", policyGraceful, "")
	flags.DurationVar(&o.timeout, "timeout", 0, "")
	flags.BoolVar(&o.verbose, "v", false, "")
	for {
		if err := flags.Parse(args); err != nil {
			return o, err
		}
		rest := flags.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			o.names = append(o.names, rest...)
			break
		}
		o.names, args = append(o.names, rest[0]), rest[1:]
	}
	policySet := false
	flags.Visit(func(f *flag.Flag) { policySet = policySet || f.Name == "policy" })
	switch {
	case o.policy != policyGraceful && o.policy != policyForcible && o.policy != policyOrphan:
		return o, fmt.Errorf("unknown policy %q: want graceful, forcible or orphan", o.policy)
	case *force && policySet && o.policy != policyForcible:
		return o, fmt.Errorf("-f and -policy %s contradict each other: -f is -policy forcible", o.policy)
	case o.timeout < 0:
		return o, fmt.Errorf("negative -timeout %s", o.timeout)
	}
	if *force {
		o.policy = policyForcible
	}
	if len(o.names) == 0 {
		o.names = []string{defaultInstance}
	}
	var names []string
	for _, name := range o.names {
		if err := store.ValidateInstName(name); err != nil {
			return o, err
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	o.names = names
	return o, nil
}

// notifySignals returns a context that Ctrl-C (os.Interrupt) or SIGTERM
// cancels, after calling onSignal; a function that reports whether one
// did; and a function that restores the signals' default behaviour.
func notifySignals(parent context.Context, onSignal func()) (ctx context.Context, interrupted func() bool, restore func()) {
	ctx, cancel := context.WithCancel(parent)
	var got atomic.Bool
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
			got.Store(true)
			onSignal()
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, got.Load, func() {
		signal.Stop(ch)
		cancel()
	}
}

// newStopper returns the stopper of policy.
func newStopper(policy string, logger *slog.Logger) stop.Stopper {
	// limactl starts host agents with CREATE_NEW_PROCESS_GROUP on
	// Windows, so CTRL_BREAK to a host agent's PID reaches its own group
	// only: run from a console, limastop can stop them gracefully.
	procs := process.SystemTable{ConsoleBreak: true}
	graceful := stop.Graceful{Processes: procs, Logger: logger}
	forcible := stop.Forcible{Processes: procs, Disks: lima.Disks{}, Logger: logger}
	switch policy {
	case policyForcible:
		return forcible
	case policyOrphan:
		return stop.Orphan{Graceful: graceful, Forcible: forcible}
	}
	return graceful
}

// lastResort runs wsl.exe for stop.Shutdown, whose last resort for a WSL2
// instance whose stop failed is to terminate its distro. That is forcing,
// so it runs only if the user asked for force (-f, -policy orphan) and has
// not interrupted limastop.
type lastResort struct {
	forcing     bool
	interrupted func() bool
}

var _ wsl.Executor = lastResort{}

func (l lastResort) Run(ctx context.Context, args ...string) (string, error) {
	switch {
	case !l.forcing:
		return "", errors.New("not terminated: -policy graceful does not force")
	case l.interrupted():
		return "", errors.New("not terminated: interrupted")
	}
	return wsl.Exec{}.Run(ctx, args...)
}

// lookUp inspects the instance name with Lima's store, as limactl stop
// does, and returns it with the errors Lima reported about an instance it
// could still read. An error says what to do next.
func lookUp(name string) (*stop.Instance, []error, error) {
	li, err := store.Inspect(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, notFound(name, err)
	case err != nil:
		return nil, nil, withNext(fmt.Errorf("cannot look the instance up: %w", err), "check LIMA_HOME ("+limaHome()+")")
	case li.Config == nil:
		// Lima could not load lima.yaml, so it knows neither the vmType
		// nor the pid files: nothing can be stopped safely.
		yaml := filepath.Join(li.Dir, "lima.yaml")
		err := fmt.Errorf("cannot load lima.yaml: %w", errors.Join(li.Errors...))
		if errors.Is(err, fs.ErrPermission) {
			return nil, nil, withNext(err, "run limastop as the user who owns "+yaml)
		}
		return nil, nil, withNext(err, "fix "+yaml+" (limactl fails on it the same way), then run limastop "+name+" again")
	}
	return lima.Instance(li), li.Errors, nil
}

// notFound is the error for an instance that does not exist: where it was
// looked for, and what is there instead.
func notFound(name string, err error) error {
	yaml := filepath.Join(store.Directory(), name, "lima.yaml")
	var pe *fs.PathError
	if errors.As(err, &pe) {
		yaml = pe.Path
	}
	msg := fmt.Errorf("no such instance: %s does not exist (%s)", yaml, limaHome())
	home := store.Directory()
	names, _ := store.Instances()
	if len(names) == 0 {
		return withNext(msg, home+" holds no instances: set LIMA_HOME to the directory that holds "+name)
	}
	if len(names) > 10 {
		names = append(names[:10], "…")
	}
	return withNext(msg, "the instances in "+home+" are "+strings.Join(names, ", ")+"; or set LIMA_HOME to the directory that holds "+name)
}

// limaHome says where Lima looks for instances, and why.
func limaHome() string {
	if env := os.Getenv("LIMA_HOME"); env != "" {
		return "LIMA_HOME=" + env
	}
	return "LIMA_HOME is not set: ~/.lima is " + store.Directory()
}

// outcome says how an instance's stop went, for standard output.
func outcome(res *stop.Result, interrupted bool) string {
	s := res.Outcome.String()
	switch {
	case res.Stopped() && res.Err != nil:
		return s + ", but its clean-up failed"
	case !res.Stopped() && interrupted:
		return s + " (interrupted)"
	case res.Outcome == stop.StoppedGracefully || res.Outcome == stop.StoppedForcibly:
		var took time.Duration
		for _, st := range res.Steps {
			took = max(took, st.At+st.Took)
		}
		return fmt.Sprintf("%s in %s", s, roundDuration(took))
	}
	return s
}
