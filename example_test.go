// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/limastop/stop"
	"github.com/limastop/stop/process"
	"github.com/limastop/stop/process/processtest"
)

// exampleInstance writes an instance directory whose pid files name the
// fake processes of table. A real caller gets the directory from Lima.
func exampleInstance(table *processtest.Table, ha, driver processtest.Behavior) (*stop.Instance, func()) {
	home, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	dir := filepath.Join(home, "default")
	_ = os.Mkdir(dir, 0o755)
	// Lima's command lines name the pid files: that is how a process is
	// known to be the instance's.
	driver.CommandLine = []string{"qemu-system-x86_64", "-pidfile", filepath.Join(dir, "qemu.pid")}
	ha.CommandLine = []string{"limactl", "hostagent", "--pidfile", filepath.Join(dir, "ha.pid"), "default"}
	table.Add(driverPID, driver)
	table.Add(haPID, ha)
	_ = os.WriteFile(filepath.Join(dir, "qemu.pid"), []byte(strconv.Itoa(driverPID)+"\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "ha.pid"), []byte(strconv.Itoa(haPID)+"\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "ha.sock"), nil, 0o644)
	_ = os.WriteFile(filepath.Join(dir, "lima.yaml"), []byte("vmType: qemu\n"), 0o644)
	cleanup := func() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
		_ = os.Remove(dir)
		_ = os.Remove(home)
	}
	return &stop.Instance{Name: "default", Dir: dir, VMType: "qemu"}, cleanup
}

// A forced stop kills the driver and then the host agent, confirms both
// deaths and only then removes the stale files.
func ExampleForcible() {
	var table processtest.Table
	inst, cleanup := exampleInstance(&table, processtest.Behavior{}, processtest.Behavior{})
	defer cleanup()

	res, err := stop.Forcible{Processes: &table}.Stop(context.Background(), inst)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range res.Steps {
		fmt.Println(s.Action)
	}
	fmt.Println(res.Outcome)
	// Output:
	// find driver (pid 4000003)
	// find host agent (pid 4000002)
	// find descendants: 0
	// kill driver (pid 4000003)
	// kill host agent (pid 4000002)
	// confirm driver (pid 4000003) exited
	// confirm host agent (pid 4000002) exited
	// check that every pid file is stale
	// remove stale pid files, sockets and temporary files
	// stopped forcibly
}

// An orphaned host agent that cannot be interrupted, here because the caller
// is a Windows service without a console, is stopped forcibly at once.
func ExampleOrphan() {
	var table processtest.Table
	ha := processtest.Behavior{InterruptErr: fmt.Errorf("%w: no console", process.ErrInterruptUnavailable)}
	inst, cleanup := exampleInstance(&table, ha, processtest.Behavior{})
	defer cleanup()

	res, err := stop.Orphan{
		Graceful: stop.Graceful{Processes: &table},
		Forcible: stop.Forcible{Processes: &table},
	}.Stop(context.Background(), inst)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Outcome)
	fmt.Println(errors.Is(res.Escalation, process.ErrInterruptUnavailable))
	// Output:
	// stopped forcibly
	// true
}
