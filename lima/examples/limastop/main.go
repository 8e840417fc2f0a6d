// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Command limastop stops instances of a real Lima installation (LIMA_HOME,
// or ~/.lima) with a chosen policy, printing each step as it happens.
//
//	limastop [-policy orphan|graceful|forcible] [-timeout 1m] [-v] NAME...
//
// Exit codes: 0 when every instance is stopped (or already was), 1 when a
// stop failed, 2 for bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/lima-vm/lima/pkg/store"

	"github.com/limastop/stop"
	"github.com/limastop/stop/lima"
	"github.com/limastop/stop/process"
)

func main() {
	os.Exit(run())
}

func run() int {
	policy := flag.String("policy", "orphan", "orphan (graceful, then forced), graceful or forcible")
	timeout := flag.Duration("timeout", 0, "bound of the whole stop of each instance; 0: the policy's defaults")
	verbose := flag.Bool("v", false, "print every step as it happens")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [flags] NAME...\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	stopper, err := newStopper(*policy, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	code := 0
	for _, name := range flag.Args() {
		if err := stopOne(ctx, stopper, name, *timeout); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			code = 1
		}
	}
	return code
}

func newStopper(policy string, logger *slog.Logger) (stop.Stopper, error) {
	// limactl starts host agents with CREATE_NEW_PROCESS_GROUP on
	// Windows, so CTRL_BREAK to a host agent's PID reaches its own group
	// only: run from a console, this command can stop them gracefully.
	procs := process.SystemTable{ConsoleBreak: true}
	graceful := stop.Graceful{Processes: procs, Logger: logger}
	forcible := stop.Forcible{Processes: procs, Disks: lima.Disks{}, Logger: logger}
	switch policy {
	case "orphan":
		return stop.Orphan{Graceful: graceful, Forcible: forcible}, nil
	case "graceful":
		return graceful, nil
	case "forcible":
		return forcible, nil
	}
	return nil, fmt.Errorf("unknown policy %q: want orphan, graceful or forcible", policy)
}

func stopOne(ctx context.Context, stopper stop.Stopper, name string, timeout time.Duration) error {
	inst, err := store.Inspect(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no such instance")
		}
		return err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	res, err := stopper.Stop(ctx, lima.Instance(inst))
	fmt.Printf("%s: %s\n", name, res.Outcome)
	return err
}
