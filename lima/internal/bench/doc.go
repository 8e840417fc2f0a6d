// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Package bench compares this module's stop policies with Lima v1.2.2's own
// instance.StopGracefully and instance.StopForcibly, side by side in one
// run, on identical fresh simulated instances (internal/siminst). It holds
// only benchmarks, for Linux: Lima's pkg/instance does not build for macOS
// without cgo, and Windows has no AF_UNIX socket for Lima's store under
// Wine.
//
//	go test -run '^$' -bench . -benchtime=20x -benchmem ./lima/internal/bench/
//
// Each benchmark alternates the two implementations iteration by iteration,
// each on its own fresh instance, and reports medians as custom metrics:
// "ours-" and "lima-" prefixes, and ratios between them. The benchmark
// timer runs only around this module's calls, so ns/op, B/op and
// allocs/op describe ours alone; the "B/stop" metrics bracket exactly one
// Stop call with runtime.ReadMemStats. Times of exit come from the
// simulated processes themselves (the Record each writes just before it
// exits) and from an observer of the benchmark's own: its wait for the host
// agent, its child, and a pidfd of its own on the driver.
//
// go run ./lima/internal/cmd/benchreport runs them and writes
// docs/benchmarks.md.
package bench
