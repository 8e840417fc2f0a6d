// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Role names a simulated process.
type Role string

// The simulated processes.
const (
	RoleHostAgent Role = "hostagent"
	RoleDriver    Role = "driver"
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

// readyPrefix starts the line with which the host agent tells Start that it
// is ready; the driver's PID follows.
const readyPrefix = "ready "

// readyLine is the line with which the driver tells the host agent that it
// has written its pid file.
const readyLine = "ready"

// stopLine is what the host agent writes to its driver's stdin to stop it.
// A bare EOF means the host agent died, and the driver runs on, as QEMU
// does when its host agent is killed.
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
