// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/limastop/stop/stopsignal"
)

// runHostAgent is the fake host agent: it writes ha.pid, serves ha.sock,
// starts the driver (for vz: writes vz.pid itself), the external driver
// server and the helpers that cfg asks for and, on an interrupt, shuts down
// like limactl hostagent does: it stops them all and waits for them before
// it removes its files. It returns the exit code.
func runHostAgent(cfg childConfig, log *slog.Logger) int {
	lifetime := time.NewTimer(cfg.Lifetime)
	interrupts := make(chan os.Signal, 1)
	if cfg.NoStopEvent {
		// Like Lima v1.2.2's host agent: signals only, which on Unix
		// is all that stopsignal.Notify relays as well.
		signal.Notify(interrupts, os.Interrupt, syscall.SIGTERM)
	} else {
		var opts []stopsignal.Option
		if cfg.StopEventPrefix != "" {
			opts = append(opts, stopsignal.EventName(cfg.StopEventPrefix+strconv.Itoa(os.Getpid())))
		}
		// Not stopped before exiting: the process ends with it.
		if _, err := stopsignal.Notify(interrupts, opts...); err != nil {
			log.Error("failed to opt into stop requests", "error", err)
			return exitFailure
		}
	}

	pidFile := filepath.Join(cfg.Dir, haPIDFile)
	if err := writePIDFile(pidFile, true); err != nil {
		log.Error("failed to write the pid file", "error", err)
		return exitFailure
	}
	sock := filepath.Join(cfg.Dir, haSock)
	srv, err := serveInfo(sock)
	if err != nil {
		if socketRequired {
			log.Error("failed to serve the API", "socket", sock, "error", err)
			removeFiles(log, pidFile)
			return exitFailure
		}
		log.Warn("serving no API: this OS cannot listen on a unix socket here", "socket", sock, "error", err)
	}
	kids, ready, err := startChildren(cfg, log)
	if err == nil {
		err = writeEvent(cfg.Dir, eventStatus{Running: true, SSHLocalPort: SSHLocalPort})
	}
	if err == nil {
		// Nothing is written to stdout after this line: Start stops
		// reading, and on Unix a write to the closed pipe kills.
		_, err = fmt.Fprintln(os.Stdout, ready)
		_ = os.Stdout.Close()
	}
	if err != nil {
		log.Error("failed to start", "error", err)
		stopAll(kids.procs, lifetime.C)
		closeServer(srv)
		removeFiles(log, append(kids.files, sock, pidFile)...)
		return exitFailure
	}
	log.Info("running", "children", ready)

	for waiting := true; waiting; {
		select {
		case sig := <-interrupts:
			if cfg.IgnoreInterrupt {
				log.Info("ignoring interrupt", "signal", sig)
				continue
			}
			log.Info("interrupted", "signal", sig)
			waiting = false
		case <-lifetime.C:
			return exitBy(cfg, log, ReasonLifetime, exitLifetime)
		}
	}

	select {
	case <-time.After(cfg.ShutdownDelay):
	case <-lifetime.C:
		return exitBy(cfg, log, ReasonLifetime, exitLifetime)
	}
	if !stopAll(kids.procs, lifetime.C) {
		return exitBy(cfg, log, ReasonLifetime, exitLifetime)
	}
	removeFiles(log, kids.files...)
	// Like Lima's host agent, whose Run emits the exiting event once the
	// driver has stopped, on its way out: a watcher of the events learns
	// of the shutdown at its end, not at its start.
	if err := writeEvent(cfg.Dir, eventStatus{Exiting: true}); err != nil {
		log.Error("failed to write the exiting event", "error", err)
	}
	closeServer(srv)
	removeFiles(log, sock, pidFile)
	return exitBy(cfg, log, ReasonInterrupted, exitGraceful)
}

// serveInfo serves GET /v1/info on the unix socket path, as Lima's host
// agent API does, with what Lima's store.Inspect reads from it.
func serveInfo(path string) (*http.Server, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			SSHLocalPort int `json:"sshLocalPort,omitempty"`
		}{SSHLocalPort})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return srv, nil
}

func closeServer(srv *http.Server) {
	if srv != nil {
		_ = srv.Close()
	}
}

// removeFiles removes the files the host agent owns. A missing file is
// fine: a stop policy may have removed it.
func removeFiles(log *slog.Logger, paths ...string) {
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Error("failed to remove", "path", p, "error", err)
		}
	}
}

// hostAgentChildren is what the host agent starts besides its API.
type hostAgentChildren struct {
	// procs are its driver, its external driver server and its first
	// helper, those that are set, in this order: the order to stop them
	// in, though they are all asked at once.
	procs []*proc
	// files are the external driver server's pid file and socket, which
	// the host agent writes and removes.
	files []string
}

// startChildren starts the driver, then the external driver server and the
// helpers that cfg asks for, and returns what it started, with the
// readiness line that reports them. On error it returns what it started,
// for the caller to stop and remove.
func startChildren(cfg childConfig, log *slog.Logger) (hostAgentChildren, readiness, error) {
	var kids hostAgentChildren
	var ready readiness
	drv, err := startDriver(cfg, log)
	if err != nil {
		return kids, ready, err
	}
	kids.procs = append(kids.procs, drv)
	ready.driver = drv.pid
	if cfg.ExternalDriver != "" {
		ext, files, err := startExternalDriver(cfg)
		kids.files = files
		if ext != nil {
			kids.procs = append(kids.procs, ext)
			ready.externalDriver = ext.pid
		}
		if err != nil {
			return kids, ready, err
		}
	}
	if cfg.Descendants > 0 {
		helper, pids, err := startHelpers(cfg, cfg.Descendants)
		if err != nil {
			return kids, ready, err
		}
		kids.procs = append(kids.procs, helper)
		ready.helpers = pids
	}
	return kids, ready, nil
}
