// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Role names a simulated process.
type Role string

// The simulated processes.
const (
	RoleHostAgent      Role = "hostagent"
	RoleDriver         Role = "driver"
	RoleExternalDriver Role = "external-driver"
	RoleHelper         Role = "helper"
)

// envChild holds the JSON childConfig of a simulated process. Its presence
// is what makes RunIfChild take over.
const envChild = "LIMASTOP_SIMINST_CHILD"

// Exit codes of the simulated processes. 1 is left to kills on Windows (see
// Exit.Killed) and 2 to Go's runtime, which exits with it on a panic.
const (
	exitGraceful = 0
	exitLifetime = 3
	exitFailure  = 4
)

// maxDescendants bounds Options.Descendants: each is a process.
const maxDescendants = 16

// stopLine is what a simulated process writes to its child's stdin to stop
// it. A bare EOF means the parent died, and the child runs on, as QEMU and
// ssh do when their host agent is killed.
const stopLine = "stop"

// childConfig is what a simulated process needs to know, passed in its
// environment rather than in its arguments: those are Lima's command lines,
// for the stop policies to inspect, and RunIfChild must take over before a
// test binary's flag parsing would see them.
type childConfig struct {
	Role            Role          `json:"role"`
	Dir             string        `json:"dir"`
	VMType          string        `json:"vmType"`
	Records         string        `json:"records"`
	ShutdownDelay   time.Duration `json:"shutdownDelay"`
	IgnoreInterrupt bool          `json:"ignoreInterrupt"`
	NoStopEvent     bool          `json:"noStopEvent"`
	StopEventPrefix string        `json:"stopEventPrefix"`
	NoPIDFileArgs   bool          `json:"noPIDFileArgs"`
	Lifetime        time.Duration `json:"lifetime"`
	// ExternalDriver names the host agent's external driver server, ""
	// for none.
	ExternalDriver string `json:"externalDriver"`
	// Descendants is, for the host agent, how many helpers it chains;
	// for a helper, how many it heads, itself included.
	Descendants int `json:"descendants"`
	// LightHelpers: the helpers are a shell and a sleep (see
	// Options.LightHelpers).
	LightHelpers bool `json:"lightHelpers"`
}

// newChildConfig checks opts and fills in the defaults.
func newChildConfig(opts Options) (childConfig, error) {
	if opts.LimaHome == "" {
		return childConfig{}, errors.New("siminst: Options.LimaHome must be set")
	}
	name := opts.Name
	if name == "" {
		name = DefaultName
	}
	if err := checkName(name); err != nil {
		return childConfig{}, fmt.Errorf("siminst: instance name: %w", err)
	}
	vmType := opts.VMType
	if vmType == "" {
		vmType = DefaultVMType
	}
	if err := checkName(vmType); err != nil {
		return childConfig{}, fmt.Errorf("siminst: vmType: %w", err)
	}
	if opts.Descendants < 0 || opts.Descendants > maxDescendants {
		return childConfig{}, fmt.Errorf("siminst: Options.Descendants is %d, not between 0 and %d", opts.Descendants, maxDescendants)
	}
	if opts.LightHelpers && (runtime.GOOS == "windows" || opts.Descendants > maxLightHelpers) {
		return childConfig{}, fmt.Errorf("siminst: Options.LightHelpers allows at most %d helpers, and none on Windows", maxLightHelpers)
	}
	if opts.ExternalDriver != "" {
		if err := checkName(opts.ExternalDriver); err != nil {
			return childConfig{}, fmt.Errorf("siminst: external driver: %w", err)
		}
	}
	lifetime := opts.Lifetime
	if lifetime <= 0 {
		lifetime = DefaultLifetime
	}
	home, err := filepath.Abs(opts.LimaHome)
	if err != nil {
		return childConfig{}, err
	}
	return childConfig{
		Dir:             filepath.Join(home, name),
		VMType:          vmType,
		Records:         recordFile(home, name),
		ShutdownDelay:   opts.ShutdownDelay,
		IgnoreInterrupt: opts.IgnoreInterrupt,
		NoStopEvent:     opts.NoStopEvent,
		StopEventPrefix: opts.StopEventPrefix,
		NoPIDFileArgs:   opts.NoPIDFileArgs,
		Lifetime:        lifetime,
		ExternalDriver:  opts.ExternalDriver,
		Descendants:     opts.Descendants,
		LightHelpers:    opts.LightHelpers,
	}, nil
}

// checkName accepts names that are a single path element and that Lima does
// not reserve (a leading "_" or ".").
func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, `/\:`) || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") {
		return fmt.Errorf("%q is not a plain file name", name)
	}
	return nil
}

// RunIfChild runs the simulated process that Start asked for and exits, if
// the current process is one; otherwise it returns at once. Call it first
// thing in main or TestMain of every program that calls Start.
func RunIfChild() {
	env, ok := os.LookupEnv(envChild)
	if !ok {
		return
	}
	var cfg childConfig
	if err := json.Unmarshal([]byte(env), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "siminst: bad %s: %v\n", envChild, err)
		os.Exit(exitFailure)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("role", cfg.Role, "pid", os.Getpid())
	switch cfg.Role {
	case RoleHostAgent:
		os.Exit(runHostAgent(cfg, log))
	case RoleDriver:
		os.Exit(runDriver(cfg, log))
	case RoleExternalDriver:
		os.Exit(runExternalDriver(cfg, log))
	case RoleHelper:
		os.Exit(runHelper(cfg, log))
	}
	log.Error("unknown role")
	os.Exit(exitFailure)
}

// exitBy appends the record of the current process's end and returns code,
// for the process to exit with.
func exitBy(cfg childConfig, log *slog.Logger, reason Reason, code int) int {
	rec := Record{Role: cfg.Role, PID: os.Getpid(), Args: os.Args[1:], Reason: reason, Time: time.Now()}
	if err := appendJSONLine(cfg.Records, rec); err != nil {
		log.Error("failed to record the exit", "error", err)
		return exitFailure
	}
	log.Info("exiting", "reason", reason)
	return code
}

// runChild is what the driver, the external driver and the helpers share
// once they have started what they start (kids): it reports ready, then
// runs until its parent writes the stop line to its stdin, when it stops
// kids, waits for them, calls cleanup (if set) and exits by
// ReasonStdinClosed; or until its lifetime ends. A bare EOF on stdin means
// that its parent died: it runs on, as QEMU and ssh do when a host agent is
// killed, until it is killed or its lifetime ends. It returns the exit
// code.
func runChild(cfg childConfig, log *slog.Logger, lifetime *time.Timer, ready readiness, kids []*proc, cleanup func()) int {
	stop := make(chan bool, 1)
	go func() {
		s := bufio.NewScanner(os.Stdin)
		for s.Scan() {
			if s.Text() == stopLine {
				stop <- true
				return
			}
		}
		stop <- false
	}()
	_, err := fmt.Fprintln(os.Stdout, ready)
	_ = os.Stdout.Close()
	if err != nil {
		log.Error("failed to report readiness", "error", err)
		stopAll(kids, lifetime.C)
		return exitFailure
	}
	for {
		select {
		case asked := <-stop:
			if !asked {
				log.Info("the parent went away; running on until killed")
				stop = nil
				continue
			}
			// Its children first, as Lima's host agent stops its
			// driver before it removes its own files.
			if !stopAll(kids, lifetime.C) {
				return exitBy(cfg, log, ReasonLifetime, exitLifetime)
			}
			if cleanup != nil {
				cleanup()
			}
			return exitBy(cfg, log, ReasonStdinClosed, exitGraceful)
		case <-lifetime.C:
			return exitBy(cfg, log, ReasonLifetime, exitLifetime)
		}
	}
}

// readiness is what a simulated process reports on the one line it writes
// to stdout once it is ready: the PIDs of the processes it started, which
// its parent has no other way to learn. The line is "ready" followed by
// the fields that are set, in this order:
//
//	ready driver=<pid> external-driver=<pid> helpers=<pid>,<pid>,...
//
// The host agent reports its driver (its own PID for vz), its external
// driver server, if any, and its helpers, outermost first; a helper
// reports the helpers below it; the drivers report nothing.
type readiness struct {
	driver         int
	externalDriver int
	helpers        []int
}

// readinessWant is which fields a parent expects on its child's readiness
// line.
type readinessWant struct {
	driver         bool
	externalDriver bool
	helpers        int
}

// Readiness line field names.
const (
	readyWord         = "ready"
	keyDriver         = "driver"
	keyExternalDriver = "external-driver"
	keyHelpers        = "helpers"
)

// String returns the readiness line, without its newline.
func (r readiness) String() string {
	fields := []string{readyWord}
	if r.driver != 0 {
		fields = append(fields, keyDriver+"="+strconv.Itoa(r.driver))
	}
	if r.externalDriver != 0 {
		fields = append(fields, keyExternalDriver+"="+strconv.Itoa(r.externalDriver))
	}
	if len(r.helpers) > 0 {
		pids := make([]string, len(r.helpers))
		for i, pid := range r.helpers {
			pids[i] = strconv.Itoa(pid)
		}
		fields = append(fields, keyHelpers+"="+strings.Join(pids, ","))
	}
	return strings.Join(fields, " ")
}

// pids returns the PIDs r reports.
func (r readiness) pids() []int {
	var pids []int
	for _, pid := range []int{r.driver, r.externalDriver} {
		if pid != 0 {
			pids = append(pids, pid)
		}
	}
	return append(pids, r.helpers...)
}

// parseReadiness parses a readiness line, newline included, that must
// hold exactly the fields of want, in order, each PID positive, decimal
// without sign or leading zeros, and no PID twice: a line that says more or
// less than expected means the simulation is broken, and a PID misread
// would have Close kill a stranger.
func parseReadiness(line string, want readinessWant) (readiness, error) {
	var r readiness
	body, ok := strings.CutSuffix(line, "\n")
	fields := strings.Split(body, " ")
	if !ok || fields[0] != readyWord {
		return r, fmt.Errorf("unexpected readiness line %q", line)
	}
	var keys []string
	if want.driver {
		keys = append(keys, keyDriver)
	}
	if want.externalDriver {
		keys = append(keys, keyExternalDriver)
	}
	if want.helpers > 0 {
		keys = append(keys, keyHelpers)
	}
	if len(fields)-1 != len(keys) {
		return r, fmt.Errorf("readiness line %q: want the fields %q", line, keys)
	}
	for i, key := range keys {
		value, ok := strings.CutPrefix(fields[i+1], key+"=")
		if !ok {
			return r, fmt.Errorf("readiness line %q: field %d is not %s=", line, i+1, key)
		}
		var err error
		switch key {
		case keyDriver:
			r.driver, err = parseReadyPID(value)
		case keyExternalDriver:
			r.externalDriver, err = parseReadyPID(value)
		case keyHelpers:
			values := strings.Split(value, ",")
			if len(values) != want.helpers {
				err = fmt.Errorf("%d helpers, not %d", len(values), want.helpers)
			}
			for _, v := range values {
				if err != nil {
					break
				}
				var pid int
				pid, err = parseReadyPID(v)
				r.helpers = append(r.helpers, pid)
			}
		}
		if err != nil {
			return readiness{}, fmt.Errorf("readiness line %q: %s: %w", line, key, err)
		}
	}
	pids := r.pids()
	slices.Sort(pids)
	if len(slices.Compact(pids)) != len(r.pids()) {
		return readiness{}, fmt.Errorf("readiness line %q names a PID twice", line)
	}
	return r, nil
}

// parseReadyPID parses a PID of a readiness line.
func parseReadyPID(s string) (int, error) {
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 || strconv.Itoa(pid) != s {
		return 0, fmt.Errorf("%q is not a PID", s)
	}
	return pid, nil
}
