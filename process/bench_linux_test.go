// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package process_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/limastop/stop/process"
)

// BenchmarkReapAfterLook measures what looking at a process's threads in
// /proc costs when the process dies. Each iteration starts two waiters (Go
// processes with several threads), pins both, and in every other
// iteration also lists their children (Children: every thread's entry in
// /proc/PID/task); then it kills both at once. "dead" is until Wait has
// confirmed both deaths, "reaped" until the test, their parent, has reaped
// both: the kernel drops the /proc entries built by a lookup as it
// releases the process. Each reports the median; process start-up is not
// timed.
func BenchmarkReapAfterLook(b *testing.B) {
	dead := map[bool][]time.Duration{}
	reaped := map[bool][]time.Duration{}
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		look := i%2 == 1
		cs := []*child{startChild(b), startChild(b)}
		ps := make([]process.Process, len(cs))
		for j, c := range cs {
			p, err := process.System().Find(c.pid)
			require.NoError(b, err)
			ps[j] = p
			if look {
				_, err := p.(process.Parent).Children()
				require.NoError(b, err)
			}
		}
		b.StartTimer()
		start := time.Now()
		var mu sync.Mutex
		var last time.Time
		var wg sync.WaitGroup
		for _, p := range ps {
			require.NoError(b, p.Kill())
		}
		for _, c := range cs {
			wg.Go(func() {
				_ = c.cmd.Wait() // killed: an error by design
				mu.Lock()
				defer mu.Unlock()
				last = time.Now()
			})
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		for _, p := range ps {
			require.NoError(b, p.Wait(ctx))
		}
		cancel()
		dead[look] = append(dead[look], time.Since(start))
		wg.Wait()
		reaped[look] = append(reaped[look], last.Sub(start))
		b.StopTimer()
		for _, p := range ps {
			require.NoError(b, p.Release())
		}
		b.StartTimer()
	}
	for look, prefix := range map[bool]string{false: "", true: "looked-"} {
		if len(dead[look]) > 0 { // a single iteration does not look
			b.ReportMetric(medianMicros(dead[look]), prefix+"dead-µs")
			b.ReportMetric(medianMicros(reaped[look]), prefix+"reaped-µs")
		}
	}
}
