// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
	"log/slog"
	"slices"
	"time"
)

// runHelper is one helper of a chain that the host agent starts, as Lima's
// host agent starts ssh and the like: no pid file, no process group of its
// own. It starts the next helper, if cfg.Descendants says it heads more
// than itself, and reports the PIDs of those below it. Stopped by its
// parent, it forwards the stop and waits for its child first; a bare EOF
// on its stdin (its parent died) leaves it running, and with it the rest of
// the chain. It returns the exit code.
func runHelper(cfg childConfig, log *slog.Logger) int {
	lifetime := time.NewTimer(cfg.Lifetime)
	var kids []*proc
	var ready readiness
	if cfg.Descendants > 1 {
		child, below, err := startHelpers(cfg, cfg.Descendants-1)
		if err != nil {
			log.Error("failed to start", "error", err)
			return exitFailure
		}
		kids = []*proc{child}
		ready.helpers = below
	}
	return runChild(cfg, log, lifetime, ready, kids, nil)
}

// startHelpers starts a chain of n > 0 helpers in the caller's process
// group and returns the first, the caller's child, with the PIDs of all,
// outermost first, once all are ready.
func startHelpers(cfg childConfig, n int) (*proc, []int, error) {
	cfg.Role = RoleHelper
	cfg.Descendants = n
	// No SysProcAttr: like ssh started by Lima's host agent, the helpers
	// stay in their parent's process group (on Windows, its console
	// process group), so a group kill of the host agent reaches them.
	child, ready, err := spawn(cfg, helperArgs(), nil, readinessWant{helpers: n - 1})
	if err != nil {
		return nil, nil, err
	}
	return child, slices.Insert(ready.helpers, 0, child.pid), nil
}
