// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Command simlima starts simulated Lima instances (internal/siminst: a fake
// host agent and a fake driver per instance, with Lima's command lines and
// pid files) in a Lima home directory, for ../run.sh to stop with limactl.
// Once every instance runs, it writes one line per instance to the file
// given with -o, "NAME HOST_AGENT_PID DRIVER_PID", and then waits until it
// is asked to end (SIGTERM or SIGINT) or its lifetime is over, and kills
// whatever of its instances still runs.
//
//	simlima -home DIR -o FILE [-lifetime 2m] NAME...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/limastop/stop/internal/siminst"
)

func main() {
	// The simulated processes are this binary, re-executed.
	siminst.RunIfChild()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "simlima:", err)
		os.Exit(1)
	}
}

func run() error {
	home := flag.String("home", "", "the Lima home directory (LIMA_HOME) to create the instances in")
	out := flag.String("o", "", "the file to write the instances' PIDs to once they run")
	lifetime := flag.Duration("lifetime", 2*time.Minute, "how long the simulation lasts at most")
	flag.Parse()
	if *home == "" || *out == "" || flag.NArg() == 0 {
		flag.Usage()
		return errors.New("-home, -o and at least one NAME are required")
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	ctx, cancelLifetime := context.WithTimeout(ctx, *lifetime)
	defer cancelLifetime()

	var insts []*siminst.Instance
	defer func() {
		for _, inst := range insts {
			if err := inst.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "simlima: %s: %v\n", inst.Name(), err)
			}
		}
	}()
	var pids strings.Builder
	for _, name := range flag.Args() {
		startCtx, cancelStart := context.WithTimeout(ctx, 30*time.Second)
		inst, err := siminst.Start(startCtx, siminst.Options{LimaHome: *home, Name: name, Lifetime: *lifetime})
		cancelStart()
		if err != nil {
			return fmt.Errorf("failed to start %q: %w", name, err)
		}
		insts = append(insts, inst)
		fmt.Fprintf(&pids, "%s %d %d\n", name, inst.HostAgentPID(), inst.DriverPID())
	}
	// Written whole, then renamed: a reader never sees half of it.
	if err := os.WriteFile(*out+".tmp", []byte(pids.String()), 0o644); err != nil {
		return err
	}
	if err := os.Rename(*out+".tmp", *out); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
