//go:build linux

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package bench_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lima-vm/lima/pkg/instance"
	"github.com/stretchr/testify/require"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
)

// grace is the graceful period of the Orphan benchmark.
const grace = 200 * time.Millisecond

// BenchmarkOrphan stops a host agent that ignores interrupts, so that only
// a kill ends it: stop.Orphan with a grace period G against the same
// recovery composed from Lima's calls, StopGracefully under a context that
// ends after G, then StopForcibly. (Lima has no such policy: limactl stop
// would wait three minutes and fail.)
//
//   - return-over-G: (return of the call - start of the call) - G: what
//     the escalation costs beyond the grace period. For ours it includes
//     finding and pinning both processes before the grace period starts,
//     the kills, the confirmation of both deaths and the clean-up.
//   - gone-over-G: (the observer sees the later process exit - start of the
//     call) - G.
//   - ours-return/lima-gone: ours' return-over-G relative to the
//     gone-over-G of Lima's composition, as in BenchmarkForcible.
func BenchmarkOrphan(b *testing.B) {
	opts := siminst.Options{IgnoreInterrupt: true}
	var oursReturn, oursGone, limaReturn, limaGone []time.Duration
	var oursBytes []uint64
	eachPair(b, opts, func(oursSim *sim) {
		inst := oursSim.instance(b)
		c := measure(b, true, func() error {
			return stopExpecting(stop.Orphan{Graceful: stop.Graceful{Timeout: grace}}, inst, stop.StoppedForcibly)
		})
		require.NoError(b, c.err)
		oursReturn = append(oursReturn, c.took()-grace)
		oursGone = append(oursGone, oursSim.gone(b).Sub(c.start)-grace)
		oursBytes = append(oursBytes, c.allocated)
	}, func(limaSim *sim) {
		li := limaSim.inspect(b)
		c := measure(b, false, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), grace)
			defer cancel()
			if err := instance.StopGracefully(ctx, li, false); err == nil {
				return errors.New("Lima's graceful stop of a host agent that ignores interrupts succeeded")
			}
			instance.StopForcibly(li)
			return nil
		})
		require.NoError(b, c.err)
		limaReturn = append(limaReturn, c.took()-grace)
		limaGone = append(limaGone, limaSim.gone(b).Sub(c.start)-grace)
	})
	b.ReportMetric(ms(oursReturn), "ours-return-over-G-ms")
	b.ReportMetric(ms(oursGone), "ours-gone-over-G-ms")
	b.ReportMetric(ms(limaReturn), "lima-return-over-G-ms")
	b.ReportMetric(ms(limaGone), "lima-gone-over-G-ms")
	b.ReportMetric(ratio(ms(oursReturn), ms(limaGone)), "ours-return/lima-gone")
	b.ReportMetric(median(oursBytes), "ours-B/stop")
}
