//go:build linux

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/limastop/stop/lima/internal/bench
cpu: AMD EPYC
BenchmarkGraceful-2   	      20	  54652595 ns/op	       448.5 lima-overhead-ms	         1.417 ours-overhead-ms	   10324 B/op	     102 allocs/op
BenchmarkScaling/N=10-2        	       1	  70641505 ns/op	       -0.25 ours-vs-observer-ms
BenchmarkNoisy prints something
PASS
pkg: github.com/limastop/stop/process
BenchmarkExitDetection-16   	      20	    657184 ns/op	       549.0 p50-µs
`
	res := results{}
	require.NoError(t, res.parse(strings.NewReader(out)))
	assert.Equal(t, results{
		"bench.BenchmarkGraceful": {{
			"ns/op": 54652595, "lima-overhead-ms": 448.5, "ours-overhead-ms": 1.417, "B/op": 10324, "allocs/op": 102,
		}},
		"bench.BenchmarkScaling/N=10":    {{"ns/op": 70641505, "ours-vs-observer-ms": -0.25}},
		"process.BenchmarkExitDetection": {{"ns/op": 657184, "p50-µs": 549}},
	}, res)

	v, err := res.get("bench.BenchmarkGraceful", "ours-overhead-ms")
	require.NoError(t, err)
	assert.InDelta(t, 1.417, v, 1e-9)
	_, err = res.get("bench.BenchmarkGraceful", "ratio")
	require.ErrorContains(t, err, `no "ratio"`)
	_, err = res.get("bench.BenchmarkMissing", "ns/op")
	require.ErrorContains(t, err, "no result")
}

// TestRuns: the runs of a benchmark run with -count are kept in order,
// and get returns their median.
func TestRuns(t *testing.T) {
	out := `pkg: github.com/limastop/stop/lima/internal/bench
BenchmarkForcible-2   	      20	   2885094 ns/op	         1.387 ours-return/lima-gone
BenchmarkForcible-2   	      20	   3041969 ns/op	         1.141 ours-return/lima-gone
BenchmarkForcible-2   	      20	   3479660 ns/op	         1.362 ours-return/lima-gone
BenchmarkForcible-2   	      20	   2606479 ns/op	         1.2 ours-return/lima-gone
`
	res := results{}
	require.NoError(t, res.parse(strings.NewReader(out)))
	vs, err := res.runs("bench.BenchmarkForcible", "ours-return/lima-gone")
	require.NoError(t, err)
	assert.Equal(t, []float64{1.387, 1.141, 1.362, 1.2}, vs)
	v, err := res.get("bench.BenchmarkForcible", "ours-return/lima-gone")
	require.NoError(t, err)
	assert.InDelta(t, 1.281, v, 1e-9, "the mean of the two middle runs")

	m := &metrics{res: res}
	assert.Equal(t, []string{"ours returned / Lima's processes gone", "1.28× (1.14–1.39× over 4 runs)", "", "≤ 1.25×", "in 2 of 4 runs"},
		m.ratioRow("bench.BenchmarkForcible"))
	require.NoError(t, m.err)

	res["bench.BenchmarkForcible"] = res["bench.BenchmarkForcible"][1:]
	res["bench.BenchmarkForcible"][1]["ours-return/lima-gone"] = 1.25
	assert.Equal(t, "yes, in every run", m.ratioRow("bench.BenchmarkForcible")[4])

	res["bench.BenchmarkForcible"] = res["bench.BenchmarkForcible"][:1]
	assert.Equal(t, []string{"ours returned / Lima's processes gone", "1.14×", "", "≤ 1.25×", "yes"},
		m.ratioRow("bench.BenchmarkForcible"))
}

func TestTrimProcs(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "BenchmarkGraceful-2", want: "BenchmarkGraceful"},
		{in: "BenchmarkScaling/N=1-16", want: "BenchmarkScaling/N=1"},
		{in: "BenchmarkGraceful", want: "BenchmarkGraceful"},
		{in: "BenchmarkScaling/N=1", want: "BenchmarkScaling/N=1"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, trimProcs(tt.in), tt.in)
	}
}
