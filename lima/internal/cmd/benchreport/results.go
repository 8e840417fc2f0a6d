//go:build linux

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// results maps "<package>.<benchmark name>" (without the -GOMAXPROCS
// suffix) to its metrics by unit, as go test -bench prints them: one map
// for each run of the benchmark (go test -count).
type results map[string][]map[string]float64

// parse reads go test -bench output.
func (res results) parse(r io.Reader) error {
	pkg := ""
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := s.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p[strings.LastIndex(p, "/")+1:]
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 || len(fields)%2 != 0 {
			continue // a benchmark's own output, not a result line
		}
		metrics := map[string]float64{}
		for i := 2; i < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return fmt.Errorf("result line %q: %w", line, err)
			}
			metrics[fields[i+1]] = v
		}
		name := pkg + "." + trimProcs(fields[0])
		res[name] = append(res[name], metrics)
	}
	return s.Err()
}

// trimProcs removes the -GOMAXPROCS suffix that go test appends to a
// benchmark's name.
func trimProcs(name string) string {
	i := strings.LastIndex(name, "-")
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

// get returns one metric, the median over the benchmark's runs, or an
// error naming what is missing.
func (res results) get(bench, unit string) (float64, error) {
	vs, err := res.runs(bench, unit)
	if err != nil {
		return 0, err
	}
	s := slices.Sorted(slices.Values(vs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2], nil
	}
	return (s[n/2-1] + s[n/2]) / 2, nil
}

// runs returns one metric of each run of the benchmark, in order, or an
// error naming what is missing.
func (res results) runs(bench, unit string) ([]float64, error) {
	ms, ok := res[bench]
	if !ok {
		return nil, fmt.Errorf("no result for %s", bench)
	}
	vs := make([]float64, 0, len(ms))
	for _, m := range ms {
		v, ok := m[unit]
		if !ok {
			return nil, fmt.Errorf("%s reported no %q", bench, unit)
		}
		vs = append(vs, v)
	}
	return vs, nil
}
