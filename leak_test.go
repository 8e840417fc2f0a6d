// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/process"
	"github.com/limastop/stop/process/processtest"
	"github.com/limastop/stop/wsl/wsltest"
)

// leakScenario is one kind of stop that TestNoLeakOverManyStops repeats.
type leakScenario struct {
	name string
	// run stops an instance once with s, set up afresh, and tears down
	// what the stop left running. The stop's error is for the tally.
	run func(t *testing.T, s policy) error
}

// TestNoLeakOverManyStops repeats stops of every policy, through their
// success and their error paths, and checks that the goroutines and the
// open descriptors (handles on Windows) come back to what they were. The
// fakes cover the paths a real process cannot be made to take; the real
// process table covers the descriptors: pidfds, pid files, the instance
// locks.
func TestNoLeakOverManyStops(t *testing.T) {
	// Rounds of every scenario with every policy: at least minRounds
	// (over a thousand stops), then more up to maxRounds while the budget
	// lasts (the race detector and Wine slow them down); and rounds of
	// stops of simulated instances with every policy.
	minRounds, maxRounds, budget, simRounds := 34, 100, 10*time.Second, 20
	if testing.Short() {
		minRounds, maxRounds, simRounds = 4, 4, 2
	}
	other, bystander := startBystander(t)
	scenarios := leakScenarios(t, bystander)
	stops, failed := 0, 0
	took := make([]time.Duration, len(scenarios))
	round := func() {
		for i, sc := range scenarios {
			start := time.Now()
			for _, s := range leakPolicies() {
				stops++
				if err := sc.run(t, s); err != nil {
					failed++
				}
			}
			took[i] += time.Since(start)
		}
	}
	// A first round lets the runtime and the packages set up what they
	// keep for good (the netpoller, the timers' goroutines, lazily loaded
	// DLLs).
	round()
	runtime.GC()
	goroutines, fds := runtime.NumGoroutine(), openDescriptors(t)
	ignore := goleak.IgnoreCurrent()
	begin := time.Now()
	for i := 0; i < minRounds || (i < maxRounds && time.Since(begin) < budget); i++ {
		round()
	}
	start := time.Now()
	for range simRounds {
		for _, s := range []stop.Stopper{
			stop.Graceful{Timeout: 10 * time.Second},
			stop.Forcible{Timeout: 10 * time.Second},
			stop.Orphan{Graceful: stop.Graceful{Timeout: 10 * time.Second}, Forcible: stop.Forcible{Timeout: 10 * time.Second}},
		} {
			sim, inst := simulate(t, siminst.Options{ShutdownDelay: time.Millisecond})
			stops++
			if _, err := s.Stop(context.Background(), inst); err != nil {
				failed++
				t.Errorf("%T stop of a simulated instance: %v", s, err)
			}
			require.NoError(t, sim.Close())
		}
	}
	simTook := time.Since(start)
	require.NoError(t, goleak.Find(ignore), "goroutines outlived %d stops", stops)
	require.True(t, running(bystander), "the bystander, pid %d, was stopped", bystander.PID())
	assert.Empty(t, hostAgentRecords(t, other), "the bystander was interrupted")
	var fdsAfter int
	// The pipes of the simulated instances' children close as their
	// waiters finish, a little later. No garbage collection here: a
	// descriptor left to a finalizer counts as leaked.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if fdsAfter = openDescriptors(t); fdsAfter <= fds || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("%d stops (%d of them failing by design) in %d scenarios x %d policies: goroutines %d before, %d after; open descriptors %s before, %s after",
		stops, failed, len(scenarios), len(leakPolicies()), goroutines, runtime.NumGoroutine(), countString(fds), countString(fdsAfter))
	for i, sc := range scenarios {
		t.Logf("%-30s %v", sc.name, took[i].Round(time.Millisecond))
	}
	t.Logf("%-30s %v", "simulated instances", simTook.Round(time.Millisecond))
	if fds >= 0 {
		assert.LessOrEqual(t, fdsAfter, fds, "descriptors leaked")
	}
}

func countString(n int) string {
	if n < 0 {
		return "(not counted here)"
	}
	return strconv.Itoa(n)
}

// leakPolicies returns the three policies with timeouts short enough for
// thousands of stops, each using the given table.
func leakPolicies() []policy {
	return []policy{
		{"graceful", func(t process.Table) stop.Stopper {
			return stop.Graceful{Processes: t, Timeout: 5 * time.Millisecond}
		}},
		{"forcible", func(t process.Table) stop.Stopper {
			return stop.Forcible{Processes: t, Timeout: 200 * time.Millisecond}
		}},
		{"orphan", func(t process.Table) stop.Stopper {
			return stop.Orphan{Graceful: stop.Graceful{Processes: t, Timeout: 5 * time.Millisecond}, Forcible: stop.Forcible{Timeout: 200 * time.Millisecond}}
		}},
	}
}

// leakScenarios returns the stops that TestNoLeakOverManyStops repeats.
func leakScenarios(t *testing.T, bystander process.Process) []leakScenario {
	fake := func(ha, drv processtest.Behavior, endsDriver bool, prepare func(f *fixture)) func(t *testing.T, s policy) error {
		return func(t *testing.T, s policy) error {
			f := newFixture(t, ha, drv)
			if endsDriver {
				f.haEndsDriver()
			}
			if prepare != nil {
				prepare(f)
			}
			_, err := s.new(&f.table).Stop(context.Background(), f.inst)
			// Whatever the stop left running ends now, so that no
			// goroutine waits on it.
			f.ha.Exit()
			f.drv.Exit()
			return err
		}
	}
	return []leakScenario{
		{"stopped", fake(processtest.Behavior{}, processtest.Behavior{}, true, nil)},
		{"interrupt ignored", fake(processtest.Behavior{IgnoreInterrupt: true}, processtest.Behavior{}, false, nil)},
		{"kill refused", fake(processtest.Behavior{IgnoreInterrupt: true, RefuseKill: true}, processtest.Behavior{RefuseKill: true}, false, nil)},
		{"identity unknown", fake(processtest.Behavior{CommandLine: stranger}, processtest.Behavior{}, false, nil)},
		{"garbage pid file", fake(processtest.Behavior{CommandLine: stranger}, processtest.Behavior{}, false,
			func(f *fixture) { writeFile(t, f.haPIDFile, "garbage\n") })},
		{"exits during find", func(t *testing.T, s policy) error {
			f := newFixture(t, processtest.Behavior{}, processtest.Behavior{}).haEndsDriver()
			table := hookTable{&f.table, func(pid int) {
				if pid == driverPID {
					f.drv.Exit()
				}
			}}
			_, err := s.new(table).Stop(context.Background(), f.inst)
			f.ha.Exit()
			return err
		}},
		{"cancelled", func(t *testing.T, s policy) error {
			f := newFixture(t, processtest.Behavior{IgnoreInterrupt: true}, processtest.Behavior{})
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			defer cancel()
			_, err := s.new(&f.table).Stop(ctx, f.inst)
			f.ha.Exit()
			f.drv.Exit()
			return err
		}},
		{"wsl.exe hung", func(t *testing.T, s policy) error {
			var table processtest.Table
			inst := newWSL2Instance(t, &table, "default", haPID, processtest.Behavior{IgnoreInterrupt: true})
			var ex wsltest.Fake
			ex.On("--terminate lima-default", wsltest.Response{Hang: true})
			ex.On("--list --verbose", wsltest.Response{Hang: true})
			stopper := map[string]stop.Stopper{
				"graceful": stop.Graceful{Processes: &table, WSL: &ex, Timeout: 5 * time.Millisecond},
				"forcible": stop.Forcible{Processes: &table, WSL: &ex, Timeout: 5 * time.Millisecond},
				"orphan": stop.Orphan{Graceful: stop.Graceful{Processes: &table, WSL: &ex, Timeout: 5 * time.Millisecond},
					Forcible: stop.Forcible{Timeout: 5 * time.Millisecond}},
			}[s.name]
			_, err := stopper.Stop(context.Background(), inst)
			if p, ferr := table.Find(haPID); ferr == nil {
				_ = p.Kill()
			}
			return err
		}},
		{"real table, stranger", realStale(t, bystander, time.Now().Add(-time.Hour))},
		{"real table, identity unknown", realStale(t, bystander, time.Now().Add(time.Hour))},
	}
}

// realStale returns a scenario in which the pid files of a stopped instance
// name the bystander, written at written: an hour before it started, it is
// a stranger; an hour after, its identity is unknown. Either way the real
// process table pins it, and nothing may be signalled: the test checks at
// its end that the bystander runs and has not been interrupted.
func realStale(t *testing.T, bystander process.Process, written time.Time) func(t *testing.T, s policy) error {
	return func(t *testing.T, s policy) error {
		f := newFixture(t, processtest.Behavior{}, processtest.Behavior{})
		f.ha.Exit()
		f.drv.Exit()
		for _, name := range []string{"ha.pid", "qemu.pid"} {
			path := filepath.Join(f.inst.Dir, name)
			writeFile(t, path, strconv.Itoa(bystander.PID())+"\n")
			require.NoError(t, os.Chtimes(path, written, written))
		}
		_, err := s.new(process.System()).Stop(context.Background(), f.inst)
		return err
	}
}

// running reports whether p has not exited within a moment. (A context
// that has already ended would not do: Wait may return its error before it
// looks at the process.)
func running(p process.Process) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	return errors.Is(p.Wait(ctx), context.DeadlineExceeded)
}

// startBystander starts a simulated instance whose host agent the real
// scenarios name, and returns it with that host agent pinned.
func startBystander(t *testing.T) (*siminst.Instance, process.Process) {
	t.Helper()
	sim, _ := simulate(t, siminst.Options{Name: "bystander"})
	return sim, pin(t, sim.HostAgentPID())
}

// hookTable is a fake process table that calls afterFind after each Find,
// to inject what happens while a stop finds its processes.
type hookTable struct {
	*processtest.Table
	afterFind func(pid int)
}

func (h hookTable) Find(pid int) (process.Process, error) {
	p, err := h.Table.Find(pid)
	h.afterFind(pid)
	return p, err
}
