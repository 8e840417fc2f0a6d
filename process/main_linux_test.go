// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// runThreadParent is runParent with the waiter started from a thread other
// than the main one, a thread that then stays parked: the kernel lists the
// waiter among that thread's children, not the main thread's.
func runThreadParent() {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=wait")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	started := make(chan error)
	var fork func()
	fork = func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Keep the main thread here, so that the next try runs
			// on another.
			go fork()
			select {}
		}
		started <- cmd.Start()
		select {}
	}
	go fork()
	if err := <-started; err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("child %d\n", cmd.Process.Pid)
	go func() { _ = cmd.Wait() }()
	runWaiter()
}
