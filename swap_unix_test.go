//go:build linux || darwin

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/process/processtest"
)

// TestPIDFileSwappedDuringStops: while stops run, ha.pid is swapped again
// and again for a FIFO, for a symlink to a file naming a bystander, and
// back. The bystander's command line names ha.pid too, so read through the
// symlink it would count as the host agent. Every stop returns within its
// bound, the symlink is never followed (the bystander is never signalled)
// and the FIFO never blocks.
func TestPIDFileSwappedDuringStops(t *testing.T) {
	const bystander = haPID + 500
	for i := range 100 {
		f := newFixture(t, processtest.Behavior{}, processtest.Behavior{}).haEndsDriver()
		f.table.Add(bystander, processtest.Behavior{CommandLine: f.ha.Behavior().CommandLine})
		dir := f.inst.Dir
		bait := filepath.Join(filepath.Dir(dir), "bait.pid")
		writeFile(t, bait, strconv.Itoa(bystander)+"\n")
		regular := filepath.Join(dir, "regular.tmp")
		writeFile(t, regular, strconv.Itoa(haPID)+"\n")

		done := make(chan struct{})
		swapped := make(chan struct{})
		go func() {
			defer close(swapped)
			tmp := filepath.Join(dir, "swap.tmp")
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				_ = os.Remove(tmp)
				// Mostly the symlink: it is the swap that a regression
				// would let through.
				switch n % 5 {
				case 0:
					_ = syscall.Mkfifo(tmp, 0o644)
				case 1:
					_ = os.Link(regular, tmp)
				default:
					_ = os.Symlink(bait, tmp)
				}
				_ = os.Rename(tmp, f.haPIDFile)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		begin := time.Now()
		s := policies()[i%3].new(&f.table)
		_, _ = s.Stop(ctx, f.inst)
		took := time.Since(begin)
		cancel()
		close(done)
		<-swapped
		require.Less(t, took, 5*time.Second, "round %d: a stop blocked", i)
		assert.Empty(t, f.signalled(bystander), "round %d: the symlink was followed", i)
	}
}
