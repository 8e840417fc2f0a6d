// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// runDriver is the fake driver: like QEMU started with -pidfile, it writes
// its pid file and removes it when it shuts down. It stops when its host
// agent writes the stop line to its stdin, and runs on if the host agent
// dies, until it is killed or reaches its lifetime. It returns the exit
// code.
func runDriver(cfg childConfig, log *slog.Logger) int {
	lifetime := time.NewTimer(cfg.Lifetime)
	var pidFile string
	if name := driverPIDFileName(cfg.VMType); name != "" {
		pidFile = filepath.Join(cfg.Dir, name)
		if err := writePIDFile(pidFile, false); err != nil {
			log.Error("failed to write the pid file", "error", err)
			return exitFailure
		}
	}
	stop := make(chan bool, 1)
	go func() {
		s := bufio.NewScanner(os.Stdin)
		for s.Scan() {
			if s.Text() == stopLine {
				stop <- true
				return
			}
		}
		stop <- false
	}()
	_, err := fmt.Fprintln(os.Stdout, readyLine)
	_ = os.Stdout.Close()
	if err != nil {
		log.Error("failed to report readiness", "error", err)
		return exitFailure
	}
	for {
		select {
		case asked := <-stop:
			if !asked {
				log.Info("the host agent went away; running on until killed")
				stop = nil
				continue
			}
			if pidFile != "" {
				removeFiles(log, pidFile)
			}
			return exitBy(cfg, log, ReasonStdinClosed, exitGraceful)
		case <-lifetime.C:
			return exitBy(cfg, log, ReasonLifetime, exitLifetime)
		}
	}
}
