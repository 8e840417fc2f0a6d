// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/limastop/stop/process"
	"github.com/limastop/stop/process/processtest"
)

// From a pid file to a stopped process: read the claim, pin the process,
// check that it is the one the claim is about, and only then signal it.
// The table here is a fake with a scripted process, so that the example
// runs anywhere; real code uses process.System().
func Example() {
	dir, err := os.MkdirTemp("", "default")
	if err != nil {
		panic(err)
	}
	defer func() { // entry by entry: os.RemoveAll fails under Wine
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
		_ = os.Remove(dir)
	}()
	pidFile := filepath.Join(dir, "ha.pid")
	fake := new(processtest.Table)
	fake.Add(4000002, processtest.Behavior{
		CommandLine:    []string{"limactl", "hostagent", "--pidfile", pidFile, "default"},
		InterruptDelay: 10 * time.Millisecond,
	})
	if err := os.WriteFile(pidFile, []byte("4000002\n"), 0o644); err != nil {
		panic(err)
	}
	var table process.Table = fake // process.System() in real code

	pid, written, err := process.ReadPIDFile(pidFile)
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := table.Find(pid)
	if errors.Is(err, process.ErrNotFound) {
		fmt.Println("not running")
		return
	} else if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Release()
	// A process that started after its pid file was written holds a
	// recycled PID.
	if err := process.VerifyPIDFile(p, written); err != nil {
		fmt.Println(err)
		return
	}
	// Lima's processes name their pid files on their command lines.
	args, err := p.CommandLine()
	if err != nil || !slices.Contains(args, pidFile) {
		fmt.Println("not the instance's host agent:", args, err)
		return
	}
	if err := p.Interrupt(); err != nil && !errors.Is(err, process.ErrNotFound) {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("pid", p.PID(), "exited")
	// Output: pid 4000002 exited
}

// CheckPID refuses every PID that must never be signalled, whatever runs
// with it: -1, 0 and 1 (on Unix, -1 and 0 address process groups), the
// caller's own and its ancestors'. Find refuses them too.
func ExampleCheckPID() {
	for _, pid := range []int{-1, 0, 1, os.Getpid(), os.Getppid()} {
		fmt.Println(errors.Is(process.CheckPID(pid), process.ErrUnsafePID))
	}
	_, err := process.System().Find(os.Getpid())
	fmt.Println(errors.Is(err, process.ErrUnsafePID))
	// Output:
	// true
	// true
	// true
	// true
	// true
	// true
}

// ParsePID takes what a pid file holds and refuses anything but a plain
// decimal PID, and PIDs that must never be signalled.
func ExampleParsePID() {
	for _, text := range []string{"4242\n", " 4242 ", "+4242", "0x10", "", "-1", "0", "4294967295"} {
		pid, err := process.ParsePID(text)
		switch {
		case errors.Is(err, process.ErrBadPIDFile):
			fmt.Printf("%q: not a PID\n", text)
		case errors.Is(err, process.ErrUnsafePID):
			fmt.Printf("%q: unsafe\n", text)
		default:
			fmt.Printf("%q: %d\n", text, pid)
		}
	}
	// Output:
	// "4242\n": 4242
	// " 4242 ": 4242
	// "+4242": not a PID
	// "0x10": not a PID
	// "": not a PID
	// "-1": not a PID
	// "0": unsafe
	// "4294967295": unsafe
}
