// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
	"fmt"
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
	prog, args := "", helperArgs()
	if cfg.LightHelpers {
		prog, args = "/bin/sh", lightHelperArgs(n, cfg.Lifetime)
	}
	child, ready, err := spawn(cfg, prog, args, nil, readinessWant{helpers: n - 1})
	if err != nil {
		return nil, nil, err
	}
	return child, slices.Insert(ready.helpers, 0, child.pid), nil
}

// maxLightHelpers bounds Options.Descendants with Options.LightHelpers: a
// shell and the sleep it starts.
const maxLightHelpers = 2

// lightHelperArgs returns the arguments of /bin/sh for the first of n light
// helpers, n at most maxLightHelpers. It speaks the helpers' protocol: it
// reports ready, with the PID of its sleep if it has one, stops on the
// stop line (its sleep first) and runs on, until its lifetime, if its stdin
// reaches a bare EOF.
func lightHelperArgs(n int, lifetime time.Duration) []string {
	seconds := int64((lifetime + time.Second - 1) / time.Second)
	script := fmt.Sprintf("echo %s\nread -r line && exit 0\nexec sleep %d", readyWord, seconds)
	if n > 1 {
		script = fmt.Sprintf("sleep %d </dev/null >/dev/null &\necho \"%s %s=$!\"\nif read -r line; then kill $!; wait; exit 0; fi\nwait",
			seconds, readyWord, keyHelpers)
	}
	return []string{"-c", script}
}
