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
// processes with several threads), pins both and kills both at once,
// taking turns among three ways:
//
//   - no look: the pins read only what Find reads;
//   - "held-": Children lists their children first (every thread's entry
//     in /proc/PID/task) through the pins that kill them, which keep those
//     files open until they are released, after the deaths;
//   - "closed-": Children lists them through other pins, released before
//     the kill, as a lookup that does not keep its files open leaves them.
//
// "dead" is until Wait has confirmed both deaths, "reaped" until the test,
// their parent, has reaped both. The kernel frees the /proc entries that a
// lookup built as it releases each thread, unless a file holds them. Each
// reports the median; process start-up is not timed.
func BenchmarkReapAfterLook(b *testing.B) {
	ways := []string{"", "held-", "closed-"}
	dead := map[string][]time.Duration{}
	reaped := map[string][]time.Duration{}
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		way := ways[i%len(ways)]
		cs := []*child{startChild(b), startChild(b)}
		ps := make([]process.Process, len(cs))
		for j, c := range cs {
			p, err := process.System().Find(c.pid)
			require.NoError(b, err)
			ps[j] = p
			look := p
			if way == "closed-" {
				look, err = process.System().Find(c.pid)
				require.NoError(b, err)
			}
			if way != "" {
				_, err := look.(process.Parent).Children()
				require.NoError(b, err)
			}
			if look != p {
				require.NoError(b, look.Release())
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
		dead[way] = append(dead[way], time.Since(start))
		wg.Wait()
		reaped[way] = append(reaped[way], last.Sub(start))
		b.StopTimer()
		for _, p := range ps {
			require.NoError(b, p.Release())
		}
		b.StartTimer()
	}
	for _, way := range ways {
		if len(dead[way]) > 0 { // a single iteration does not look
			b.ReportMetric(medianMicros(dead[way]), way+"dead-µs")
			b.ReportMetric(medianMicros(reaped[way]), way+"reaped-µs")
		}
	}
}
