// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package processtest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/limastop/stop/process"
	"github.com/limastop/stop/process/processtest"
)

// A Table holds scripted processes: here one that exits shortly after an
// interrupt and one that cannot be killed. Calls records what the code
// under test did to them.
func ExampleTable() {
	var table processtest.Table
	table.Add(4000002, processtest.Behavior{InterruptDelay: 10 * time.Millisecond})
	table.Add(4000003, processtest.Behavior{IgnoreInterrupt: true, RefuseKill: true})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, _ := table.Find(4000002)
	fmt.Println(p.Interrupt(), p.Wait(ctx))

	stuck, _ := table.Find(4000003)
	fmt.Println(errors.Is(stuck.Kill(), processtest.ErrKillRefused))

	_, err := table.Find(4000002)
	fmt.Println(errors.Is(err, process.ErrNotFound))

	for _, c := range table.Calls() {
		fmt.Println(c.Op, c.PID)
	}
	// Output:
	// <nil> <nil>
	// true
	// true
	// find 4000002
	// interrupt 4000002
	// wait 4000002
	// find 4000003
	// kill 4000003
	// find 4000002
}
