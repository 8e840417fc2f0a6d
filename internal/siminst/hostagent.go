// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package siminst

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/limastop/stop/stopsignal"
)

// runHostAgent is the fake host agent: it writes ha.pid, serves ha.sock,
// starts the driver (for vz: writes vz.pid itself) and, on an interrupt,
// shuts down like limactl hostagent does. It returns the exit code.
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
	drv, err := startDriver(cfg, log)
	if err == nil {
		err = writeEvent(cfg.Dir, eventStatus{Running: true, SSHLocalPort: SSHLocalPort})
	}
	if err == nil {
		// Nothing is written to stdout after this line: Start stops
		// reading, and on Unix a write to the closed pipe kills.
		_, err = fmt.Fprintf(os.Stdout, "%s%d\n", readyPrefix, drv.pid)
		_ = os.Stdout.Close()
	}
	if err != nil {
		log.Error("failed to start", "error", err)
		if drv != nil {
			drv.stop()
			<-drv.done
		}
		closeServer(srv)
		removeFiles(log, sock, pidFile)
		return exitFailure
	}
	log.Info("running", "driver", drv.pid)

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
	drv.stop()
	select {
	case <-drv.done:
	case <-lifetime.C:
		return exitBy(cfg, log, ReasonLifetime, exitLifetime)
	}
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

// driverProc is the driver as the host agent sees it: its child process,
// or, for vz, a part of the host agent itself.
type driverProc struct {
	pid   int
	done  chan struct{} // closed once the driver has stopped
	stdin *os.File      // the child's; nil in the host agent
	// stopSelf stops the driver in the host agent; nil for a child.
	stopSelf func()
}

// startDriver starts the driver in its own process group, as Lima starts
// QEMU, and returns once it has written its pid file. For vz it writes the
// pid file with the host agent's own PID, as Lima's vz driver does.
func startDriver(cfg childConfig, log *slog.Logger) (*driverProc, error) {
	if driverInHostAgent(cfg.VMType) {
		pidFile := filepath.Join(cfg.Dir, driverPIDFileName(cfg.VMType))
		if err := writePIDFile(pidFile, false); err != nil {
			return nil, fmt.Errorf("failed to write the driver's pid file: %w", err)
		}
		d := &driverProc{pid: os.Getpid(), done: make(chan struct{})}
		d.stopSelf = func() {
			removeFiles(log, pidFile)
			close(d.done)
		}
		return d, nil
	}
	cfg.Role = RoleDriver
	env, err := childEnv(cfg)
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer stdinR.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		stdinW.Close()
		return nil, err
	}
	defer outR.Close()
	cmd := exec.Command(exe, driverArgs(cfg)...)
	cmd.Env = env
	cmd.Stdin = stdinR
	cmd.Stdout = outW
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = backgroundSysProcAttr()
	err = cmd.Start()
	outW.Close()
	if err != nil {
		stdinW.Close()
		return nil, fmt.Errorf("failed to start the driver: %w", err)
	}
	d := &driverProc{pid: cmd.Process.Pid, stdin: stdinW, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(d.done)
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err == nil && strings.TrimSpace(line) != readyLine {
		err = fmt.Errorf("unexpected readiness line %q", line)
	}
	if err != nil {
		d.stop()
		<-d.done
		return nil, fmt.Errorf("the driver did not get ready: %w", err)
	}
	return d, nil
}

// stop asks the driver to stop: the stop line, then EOF. Call it once.
func (d *driverProc) stop() {
	if d.stopSelf != nil {
		d.stopSelf()
		return
	}
	_, _ = fmt.Fprintln(d.stdin, stopLine)
	_ = d.stdin.Close()
}
