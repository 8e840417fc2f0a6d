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
	title string
	opts  siminst.Options
	// tamper is applied to the instance before the stop; the processes
	// it returns, if any, are the ones to report on afterwards.
	tamper  func(sim *siminst.Instance) (*siminst.Instance, error)
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
			title: "Forcible: the pid files look older than their processes (a restored LIMA_HOME); the command lines prove them ours",
			opts:  siminst.Options{Name: "touched"},
			tamper: func(sim *siminst.Instance) (*siminst.Instance, error) {
				return sim, touch(sim.Dir(), "ha.pid", "qemu.pid")
			},
			stopper: stop.Forcible{},
		},
		{
			title:   "Forcible: the instance crashed, and its PIDs now belong to another instance's processes",
			opts:    siminst.Options{Name: "recycled"},
			tamper:  recycle,
			stopper: stop.Forcible{},
		},
		{
			title: "Forcible: ha.pid holds 4294967295, which Go's syscall.Kill turns into kill(-1); the host agent is found by its command line",
			opts:  siminst.Options{Name: "garbage"},
			tamper: func(sim *siminst.Instance) (*siminst.Instance, error) {
				return sim, os.WriteFile(filepath.Join(sim.Dir(), "ha.pid"), []byte("4294967295\n"), 0o644)
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
	watched := sim
	if sc.tamper != nil {
		if watched, err = sc.tamper(sim); err != nil {
			return err
		}
		defer watched.Close()
	}

	res, err := sc.stopper.Stop(ctx, &stop.Instance{Name: sim.Name(), Dir: sim.Dir(), VMType: sim.VMType()})
	fmt.Println(res)
	if err != nil {
		fmt.Printf("error: %v\n", err)
	}
	fmt.Printf("host agent of %q: %s\n\n", watched.Name(), hostAgentEnd(watched))
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

// touch makes the named files an hour old.
func touch(dir string, names ...string) error {
	old := time.Now().Add(-time.Hour)
	for _, name := range names {
		if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
			return err
		}
	}
	return nil
}

// recycle kills sim's processes, as a crash would, leaving their pid files,
// then starts another instance and writes its PIDs into those files: a
// recycled PID, held by a process that started after the file was written.
func recycle(sim *siminst.Instance) (*siminst.Instance, error) {
	if err := sim.Close(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	other, err := siminst.Start(ctx, siminst.Options{LimaHome: sim.LimaHome(), Name: "bystander", Lifetime: time.Minute})
	if err != nil {
		return nil, err
	}
	fmt.Printf("instance %q crashed; instance %q now holds host agent pid %d, driver pid %d\n",
		sim.Name(), other.Name(), other.HostAgentPID(), other.DriverPID())
	for name, pid := range map[string]int{"ha.pid": other.HostAgentPID(), "qemu.pid": other.DriverPID()} {
		if err := os.WriteFile(filepath.Join(sim.Dir(), name), []byte(fmt.Sprintf("%d\n", pid)), 0o644); err != nil {
			return other, err
		}
	}
	return other, touch(sim.Dir(), "ha.pid", "qemu.pid")
}
