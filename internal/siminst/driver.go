// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
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
	var cleanup func()
	if name := driverPIDFileName(cfg.VMType); name != "" {
		pidFile := filepath.Join(cfg.Dir, name)
		if err := writePIDFile(pidFile, false); err != nil {
			log.Error("failed to write the pid file", "error", err)
			return exitFailure
		}
		cleanup = func() { removeFiles(log, pidFile) }
	}
	return runChild(cfg, log, lifetime, readiness{}, nil, cleanup)
}

// runExternalDriver is the fake external driver server of Lima master: it
// writes no pid file, its parent does, and otherwise behaves as the driver.
func runExternalDriver(cfg childConfig, log *slog.Logger) int {
	return runChild(cfg, log, time.NewTimer(cfg.Lifetime), readiness{}, nil, nil)
}

// startDriver starts the driver in its own process group, as Lima starts
// QEMU, and returns once it has written its pid file. For vz it writes the
// pid file with the host agent's own PID, as Lima's vz driver does.
func startDriver(cfg childConfig, log *slog.Logger) (*proc, error) {
	if driverInHostAgent(cfg.VMType) {
		pidFile := filepath.Join(cfg.Dir, driverPIDFileName(cfg.VMType))
		if err := writePIDFile(pidFile, false); err != nil {
			return nil, fmt.Errorf("failed to write the driver's pid file: %w", err)
		}
		d := &proc{role: RoleDriver, pid: os.Getpid(), done: make(chan struct{})}
		d.stopSelf = func() {
			removeFiles(log, pidFile)
			close(d.done)
		}
		return d, nil
	}
	cfg.Role = RoleDriver
	d, _, err := spawn(cfg, "", driverArgs(cfg), backgroundSysProcAttr(), readinessWant{})
	return d, err
}

// startExternalDriver starts the external driver server in its own process
// group, as Lima master starts one, then writes its pid file, with no
// trailing newline as Lima master does, and creates its socket: an empty
// file, since the server serves nothing and not every OS here has AF_UNIX
// sockets (Wine has none). It returns the process and the files, which the
// host agent removes once the server has stopped; on error, what of them it
// created, and the process if it started.
func startExternalDriver(cfg childConfig) (*proc, []string, error) {
	cfg.Role = RoleExternalDriver
	p, _, err := spawn(cfg, "", externalDriverArgs(cfg), backgroundSysProcAttr(), readinessWant{})
	if err != nil {
		return nil, nil, err
	}
	pidFile, sock := externalDriverFiles(cfg)
	if err := os.WriteFile(pidFile, fmt.Appendf(nil, "%d", p.pid), 0o644); err != nil {
		return p, nil, fmt.Errorf("failed to write the external driver's pid file: %w", err)
	}
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		return p, []string{pidFile}, fmt.Errorf("failed to create the external driver's socket: %w", err)
	}
	return p, []string{pidFile, sock}, nil
}
