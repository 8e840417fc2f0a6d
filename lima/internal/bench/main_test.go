//go:build linux

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package bench_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lima-vm/lima/pkg/store"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/lima"
	"github.com/limastop/stop/process"
)

func TestMain(m *testing.M) {
	siminst.RunIfChild()
	// Lima logs every step through logrus; the benchmarks measure stops,
	// not terminal output.
	logrus.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// Bounds that keep a broken run from hanging; none is a measurement.
const (
	simLifetime = time.Minute
	waitBound   = 30 * time.Second
	// startParallelism is how many simulated instances start at once.
	startParallelism = 8
)

// limaHome creates an empty Lima home and makes it LIMA_HOME, where Lima's
// store looks, for the rest of the benchmark.
func limaHome(tb testing.TB) string {
	tb.Helper()
	home := tb.TempDir()
	tb.Setenv("LIMA_HOME", home)
	return home
}

// sim is a running simulated instance with the benchmark's own observer of
// its processes.
type sim struct {
	*siminst.Instance
	driverExit chan time.Time // receives when the observer saw the driver exit
}

// startSim starts a simulated instance named name in home and starts
// observing it. It is closed at cleanup.
func startSim(tb testing.TB, home, name string, opts siminst.Options) *sim {
	tb.Helper()
	sims := startSims(tb, home, []string{name}, opts)
	return sims[0]
}

// startSims starts one simulated instance per name, a few at a time.
func startSims(tb testing.TB, home string, names []string, opts siminst.Options) []*sim {
	tb.Helper()
	opts.LimaHome = home
	opts.Lifetime = simLifetime
	sims := make([]*sim, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, startParallelism)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			o := opts
			o.Name = name
			if len(opts.AdditionalDisks) > 0 {
				o.AdditionalDisks = []string{name + "-data"}
			}
			sims[i], errs[i] = newSim(o)
		})
	}
	wg.Wait()
	for _, s := range sims {
		if s != nil {
			tb.Cleanup(func() { _ = s.Close() })
		}
	}
	for _, err := range errs {
		require.NoError(tb, err)
	}
	return sims
}

func newSim(opts siminst.Options) (*sim, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	inst, err := siminst.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	driver, err := process.System().Find(inst.DriverPID())
	if err != nil {
		_ = inst.Close()
		return nil, fmt.Errorf("observing the driver: %w", err)
	}
	s := &sim{Instance: inst, driverExit: make(chan time.Time, 1)}
	go func() {
		defer driver.Release()
		ctx, cancel := context.WithTimeout(context.Background(), simLifetime)
		defer cancel()
		var at time.Time
		if driver.Wait(ctx) == nil {
			at = time.Now()
		}
		s.driverExit <- at
	}()
	return s, nil
}

// gone waits until the observer has seen both processes exit and returns
// when the later one did.
func (s *sim) gone(tb testing.TB) time.Time {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	ha, err := s.WaitHostAgent(ctx)
	require.NoError(tb, err, "host agent of %s", s.Name())
	var driver time.Time
	select {
	case driver = <-s.driverExit:
	case <-ctx.Done():
	}
	require.False(tb, driver.IsZero(), "driver of %s did not exit", s.Name())
	return later(ha.Time, driver)
}

// lastExit returns when the later of the two processes recorded its exit,
// checking that both ended by themselves, gracefully.
func (s *sim) lastExit(tb testing.TB) time.Time {
	tb.Helper()
	recs, err := s.Records()
	require.NoError(tb, err)
	var last time.Time
	roles := map[siminst.Role]bool{}
	for _, r := range recs {
		require.NotEqual(tb, siminst.ReasonLifetime, r.Reason, "%s of %s", r.Role, s.Name())
		roles[r.Role] = true
		last = later(last, r.Time)
	}
	require.Len(tb, roles, 2, "exit records of %s: %v", s.Name(), recs)
	return last
}

// inspect is what a caller does first with either implementation: read the
// instance through Lima's store, which must see it Running.
func (s *sim) inspect(tb testing.TB) *store.Instance {
	tb.Helper()
	li, err := store.Inspect(s.Name())
	require.NoError(tb, err)
	require.Empty(tb, li.Errors)
	require.Equal(tb, store.StatusRunning, li.Status, "instance %s", s.Name())
	return li
}

// instance converts Lima's view of s for this module, as package lima's
// callers do.
func (s *sim) instance(tb testing.TB) *stop.Instance {
	tb.Helper()
	return lima.Instance(s.inspect(tb))
}

// call is one measured stop.
type call struct {
	start, returned time.Time
	allocated       uint64 // bytes allocated by the whole process meanwhile
	mallocs         uint64
	err             error
}

// took is how long the call took.
func (c call) took() time.Duration { return c.returned.Sub(c.start) }

// measure runs f between two runtime.ReadMemStats and, if timed, with the
// benchmark timer running. The clock readings are taken inside the
// brackets, so they do not include ReadMemStats.
func measure(b *testing.B, timed bool, f func() error) call {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if timed {
		b.StartTimer()
	}
	c := call{start: time.Now()}
	c.err = f()
	c.returned = time.Now()
	if timed {
		b.StopTimer()
	}
	runtime.ReadMemStats(&after)
	c.allocated = after.TotalAlloc - before.TotalAlloc
	c.mallocs = after.Mallocs - before.Mallocs
	return c
}

// cpuTime returns the CPU time, user and system, that this process has used
// so far: all its threads, and none of its children's.
func cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	require.NoError(tb, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// eachPair is the loop of a benchmark that compares the two
// implementations: each iteration starts a simulated instance with opts for
// each, then stops ours with ours and Lima's with lima, in the order
// interleave gives. The benchmark timer runs only where they start it.
func eachPair(b *testing.B, opts siminst.Options, ours, lima func(*sim)) {
	home := limaHome(b)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		oursSim := startSim(b, home, fmt.Sprintf("ours-%d", i), opts)
		limaSim := startSim(b, home, fmt.Sprintf("lima-%d", i), opts)
		interleave(i, func() { ours(oursSim) }, func() { lima(limaSim) })
		b.StartTimer()
	}
}

// interleave runs both implementations' parts of iteration i, alternating
// which goes first, so that neither always runs on a machine the other has
// just warmed up.
func interleave(i int, ours, lima func()) {
	if i%2 == 0 {
		ours()
		lima()
	} else {
		lima()
		ours()
	}
}

// stopExpecting runs s on inst and fails unless it ends with want.
func stopExpecting(s stop.Stopper, inst *stop.Instance, want stop.Outcome) error {
	_, err := stopResult(s, inst, want)
	return err
}

// stopResult is stopExpecting that also returns the Result.
func stopResult(s stop.Stopper, inst *stop.Instance, want stop.Outcome) (*stop.Result, error) {
	res, err := s.Stop(context.Background(), inst)
	if err == nil && res.Outcome != want {
		err = fmt.Errorf("outcome %s, want %s", res.Outcome, want)
	}
	return res, err
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// median returns the median of xs; the mean of the two middle ones for an
// even count.
func median[T ~int64 | ~uint64 | ~float64](xs []T) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return float64(s[n/2])
	}
	return (float64(s[n/2-1]) + float64(s[n/2])) / 2
}

// ms converts a median of durations to milliseconds.
func ms(d []time.Duration) float64 { return median(d) / float64(time.Millisecond) }

// ratio is a/b, or 0 when b is not positive.
func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}
