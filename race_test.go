//go:build race

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

// raceEnabled: child processes of a -race test binary start slowly, so the
// tests that start many of them run fewer rounds.
const raceEnabled = true
