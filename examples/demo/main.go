// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Command demo stops simulated Lima instances with each policy and prints a
// timeline of every stop. It needs no Lima: each instance is a real fake
// host agent and a real fake driver (this program re-executed) writing real
// pid files into a temporary LIMA_HOME.
//
//	go run ./examples/demo
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
)

type scenario struct {
	title   string
	opts    siminst.Options
	tamper  func(dir string) error // applied to the instance directory before the stop
	stopper stop.Stopper
}

func main() {
	siminst.RunIfChild()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	home, err := os.MkdirTemp("", "limastop-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)

	scenarios := []scenario{
		{
			title:   "Graceful: the host agent shuts down 100ms after the interrupt",
			opts:    siminst.Options{Name: "graceful", ShutdownDelay: 100 * time.Millisecond},
			stopper: stop.Graceful{},
		},
		{
			title:   "Forcible: kill, confirm both deaths, then clean up",
			opts:    siminst.Options{Name: "forcible"},
			stopper: stop.Forcible{},
		},
		{
			title:   "Orphan: the host agent ignores interrupts; 500ms grace, then forced",
			opts:    siminst.Options{Name: "orphan", IgnoreInterrupt: true},
			stopper: stop.Orphan{Graceful: stop.Graceful{Timeout: 500 * time.Millisecond}},
		},
		{
			title: "Forcible: ha.pid was written before its PID's process started (a recycled PID)",
			opts:  siminst.Options{Name: "recycled"},
			tamper: func(dir string) error {
				old := time.Now().Add(-time.Hour)
				return os.Chtimes(filepath.Join(dir, "ha.pid"), old, old)
			},
			stopper: stop.Forcible{},
		},
		{
			title: "Forcible: ha.pid holds 4294967295, which Go's syscall.Kill turns into kill(-1)",
			opts:  siminst.Options{Name: "garbage"},
			tamper: func(dir string) error {
				return os.WriteFile(filepath.Join(dir, "ha.pid"), []byte("4294967295\n"), 0o644)
			},
			stopper: stop.Forcible{},
		},
	}
	for _, sc := range scenarios {
		if err := play(home, sc); err != nil {
			return err
		}
	}
	return nil
}

func play(home string, sc scenario) error {
	fmt.Printf("== %s\n", sc.title)
	sc.opts.LimaHome = home
	sc.opts.Lifetime = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sim, err := siminst.Start(ctx, sc.opts)
	if err != nil {
		return err
	}
	defer sim.Close()
	fmt.Printf("instance %q: host agent pid %d, driver pid %d\n", sim.Name(), sim.HostAgentPID(), sim.DriverPID())
	if sc.tamper != nil {
		if err := sc.tamper(sim.Dir()); err != nil {
			return err
		}
	}

	res, err := sc.stopper.Stop(ctx, &stop.Instance{Name: sim.Name(), Dir: sim.Dir(), VMType: sim.VMType()})
	fmt.Println(res)
	if err != nil {
		fmt.Printf("error: %v\n", err)
	}
	fmt.Printf("host agent: %s\n\n", hostAgentEnd(sim))
	return nil
}

// hostAgentEnd says how the simulated host agent ended, from its own record
// (an interrupted host agent records why it exits; a killed one cannot).
func hostAgentEnd(sim *siminst.Instance) string {
	select {
	case <-sim.HostAgentDone():
	case <-time.After(200 * time.Millisecond):
		return "still running (left alone)"
	}
	records, err := sim.Records()
	if err != nil {
		return err.Error()
	}
	for _, r := range records {
		if r.Role == siminst.RoleHostAgent {
			return fmt.Sprintf("exited by itself (%s)", r.Reason)
		}
	}
	return "killed"
}
