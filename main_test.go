// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
)

// stopperEnv makes the test binary a separate process that stops the
// instance of the directory in its args, as a second program (a limactl, a
// daemon) would, and prints the outcome.
const stopperEnv = "LIMASTOP_TEST_STOPPER"

// TestMain lets the test binary double as the simulated instance's host
// agent and driver, and as a second stopping process. Run as the tests, it
// fails them if a goroutine outlives them.
func TestMain(m *testing.M) {
	siminst.RunIfChild()
	if policy := os.Getenv(stopperEnv); policy != "" {
		os.Exit(runStopper(policy, os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

// runStopper stops the instance in args[1] (named args[0]) with policy and
// prints its outcome.
func runStopper(policy string, args []string) int {
	stoppers := map[string]stop.Stopper{
		"graceful": stop.Graceful{Timeout: 20 * time.Second},
		"forcible": stop.Forcible{},
	}
	s, ok := stoppers[policy]
	if !ok || len(args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s=graceful|forcible NAME DIR\n", stopperEnv)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := s.Stop(ctx, &stop.Instance{Name: args[0], Dir: args[1], VMType: "qemu"})
	fmt.Println(res.Outcome)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
