//go:build !windows

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/internal/testutil"
)

// TestInterrupt sends Ctrl-C's SIGINT, or SIGTERM, to limastop while it
// waits for a host agent that ignores interrupts: limastop stops waiting,
// says what it left behind and exits with 130, and the host agent runs on.
// Windows has no signal to send another process; this is Unix only.
func TestInterrupt(t *testing.T) {
	for _, sig := range []os.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(fmt.Sprint(sig), func(t *testing.T) {
			t.Parallel()
			home := testutil.TempDir(t, "lima")
			sim := startSim(t, home, siminst.Options{Name: "sim", IgnoreInterrupt: true})
			ctx, cancel := context.WithTimeout(t.Context(), cliTimeout)
			defer cancel()
			c := startCLI(t, ctx, home, "sim")
			c.waitFor(t, "sim: waiting for host agent")
			start := time.Now()
			require.NoError(t, c.cmd.Process.Signal(sig))
			code, stdout, stderr := c.wait(t)

			assert.Equal(t, exitInterrupted, code)
			assert.Less(t, time.Since(start), 10*time.Second)
			assert.Contains(t, stdout, "sim: not stopped (interrupted)")
			assert.Contains(t, stderr, fmt.Sprintf("sim: interrupted: the host agent (pid %d) was asked to stop and may still be shutting down", sim.HostAgentPID()))
			assert.Contains(t, stderr, "sim: next: run limastop sim to finish the stop, or limastop -f sim to force it")
			select {
			case <-sim.HostAgentDone():
				t.Error("the host agent was stopped")
			default:
			}
		})
	}
}

// waitFor waits until limastop prints a line to standard error that
// contains s.
func (c *cli) waitFor(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(cliTimeout)
	for {
		select {
		case line := <-c.lines:
			if strings.Contains(line, s) {
				return
			}
		case <-c.done:
			t.Fatalf("limastop's standard error ended without %q:\n%s", s, c.errText())
		case <-timeout:
			t.Fatalf("limastop printed no %q within %s:\n%s", s, cliTimeout, c.errText())
		}
	}
}
