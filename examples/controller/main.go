// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Command controller shows how a controller that manages Lima instances,
// such as a Rancher Desktop daemon, uses this module:
//
//   - on start-up it recovers: an instance that should not run but whose
//     host agent survived the controller's last exit is an orphan no one
//     watches, and stop.Orphan ends it, gracefully if it can;
//   - on shutdown it stops every instance at once within a deadline with
//     stop.Shutdown, which also terminates WSL2 distros on the timeout path.
//
// It runs on simulated instances, so it needs no Lima:
//
//	go run ./examples/controller
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
)

// names are the instances the controller manages, and desired the spec it
// reconciles towards: which of them should run.
var (
	names   = []string{"web", "db", "old", "stuck"}
	desired = map[string]bool{"web": true, "db": true}
)

func main() {
	siminst.RunIfChild()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "controller:", err)
		os.Exit(1)
	}
}

func run() error {
	home, err := os.MkdirTemp("", "limastop-controller")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)

	// What the previous run of the controller left behind: every instance
	// running, "stuck" with a host agent that ignores interrupts.
	running := map[string]*siminst.Instance{}
	for _, name := range names {
		sim, err := siminst.Start(context.Background(), siminst.Options{
			LimaHome: home, Name: name, ShutdownDelay: 50 * time.Millisecond,
			IgnoreInterrupt: name == "stuck", Lifetime: time.Minute,
		})
		if err != nil {
			return err
		}
		defer sim.Close()
		running[name] = sim
	}

	fmt.Println("== recovery: stop the orphans that should not run")
	orphan := stop.Orphan{Graceful: stop.Graceful{Timeout: 300 * time.Millisecond}}
	for _, name := range names {
		if desired[name] {
			continue
		}
		res, err := orphan.Stop(context.Background(), instance(running[name]))
		report(name, res, err)
	}

	fmt.Println("\n== shutdown: stop everything within 2s")
	var all []*stop.Instance
	for _, name := range names {
		if desired[name] {
			all = append(all, instance(running[name]))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	results, err := stop.Shutdown{}.StopAll(ctx, all)
	for i, res := range results {
		report(all[i].Name, res, nil)
	}
	if err != nil {
		fmt.Println("errors:", err)
	}
	return nil
}

// instance is what the controller knows of a simulated instance. A real
// controller gets it from Lima's store (see package lima).
func instance(sim *siminst.Instance) *stop.Instance {
	return &stop.Instance{Name: sim.Name(), Dir: sim.Dir(), VMType: sim.VMType()}
}

func report(name string, res *stop.Result, err error) {
	fmt.Printf("%-6s %s", name, res.Outcome)
	if res.Escalation != nil {
		fmt.Printf(" (graceful stop gave way: %v)", res.Escalation)
	}
	if err != nil {
		fmt.Printf(": %v", err)
	}
	fmt.Println()
}
