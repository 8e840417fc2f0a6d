// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stopsignal_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/limastop/stop"
	"github.com/limastop/stop/process"
	"github.com/limastop/stop/stopsignal"
)

// A host agent in the style of Lima's, which selects on a channel of
// interrupts, opts in with Notify where it called signal.Notify before.
func ExampleNotify() {
	interrupts := make(chan os.Signal, 1)
	stopNotify, err := stopsignal.Notify(interrupts)
	if err != nil {
		fmt.Println("cannot opt into stop requests:", err)
		return
	}
	defer stopNotify()
	// Only now write the pid file and start the VM. Here the VM's end is
	// a timer, so that the example ends on every OS.
	vmExited := time.After(10 * time.Millisecond)

	select {
	case sig := <-interrupts:
		fmt.Println("shutting the VM down on", sig)
	case <-vmExited:
		fmt.Println("the VM exited")
	}
	// Output: the VM exited
}

// A host agent built on contexts opts in with NotifyContext: a stop request
// cancels the context, and context.Cause says which request it was.
func ExampleNotifyContext() {
	ctx, stopNotify, err := stopsignal.NotifyContext(context.Background())
	if err != nil {
		fmt.Println("cannot opt into stop requests:", err)
		return
	}
	defer stopNotify()
	// The host agent's work, which ends when the VM exits or ctx ends.
	// Here the VM's end is a timer, so that the example ends on every OS.
	run := func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(10 * time.Millisecond):
			return nil
		}
	}

	if err := run(ctx); err != nil {
		fmt.Println("shut down:", err)
		return
	}
	fmt.Println("the VM exited")
	// Output: the VM exited
}

// A daemon whose host agents already name their stop events keeps its
// names: one function names the event for both sides.
func ExampleEventName() {
	eventName := func(instance string, pid int) string {
		return fmt.Sprintf(`Local\rdd-%s-interrupt-hostagent-%s-%d`, "example", instance, pid)
	}

	// The host agent of instance "default", at start-up:
	interrupts := make(chan os.Signal, 1)
	stopNotify, err := stopsignal.Notify(interrupts, stopsignal.EventName(eventName("default", os.Getpid())))
	if err != nil {
		fmt.Println("cannot opt into stop requests:", err)
		return
	}
	defer stopNotify()

	// The daemon, to stop instance "default": a table for this instance.
	graceful := stop.Graceful{Processes: process.SystemTable{
		EventName: func(pid int) string { return eventName("default", pid) },
	}}
	_ = graceful // graceful.Stop(ctx, inst) sets the event of the instance's host agent.

	fmt.Println(eventName("default", 4242))
	// Output: Local\rdd-example-interrupt-hostagent-default-4242
}
