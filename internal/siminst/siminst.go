// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Package siminst runs a simulated Lima instance made of real processes: a
// fake host agent, started as a child of the caller, and a fake driver that
// the host agent starts as its own child, as limactl does with QEMU. On
// request the host agent also starts an external driver server, as Lima
// master does, and a chain of helpers, as Lima's host agent starts ssh and
// the like. All are the caller's binary re-executed, so a program that uses
// Start must call RunIfChild first thing in main (or TestMain).
//
// The processes get Lima's command lines, so that a stop policy can tell
// them by the files they name, as it tells Lima's: the host agent runs as
//
//	<executable> hostagent --pidfile <Dir>/ha.pid --socket <Dir>/ha.sock <name>
//
// the driver as
//
//	<executable> -name lima-<name> -pidfile <Dir>/<vmType>.pid
//
// and an external driver server (Options.ExternalDriver) as
//
//	<executable> --inst-dir <Dir>
//
// where Dir is the instance directory as Options gave it (made absolute,
// symlinks not resolved). The wsl2 driver, which has no pid file, gets
// only -name lima-<name>. As in Lima, the vz driver is no process of its
// own: the host agent writes vz.pid with its own PID. Options.NoPIDFileArgs
// drops the pid file arguments. The helpers (Options.Descendants) run as
// "<executable> helper", or with Options.LightHelpers as "/bin/sh -c
// <script>" and "sleep <seconds>", and name no file: only their ancestry
// ties them to the instance. What the processes need to know travels in
// an environment variable instead, which RunIfChild reads.
//
// The processes and their groups, as in Lima:
//
//	process                parent               process group     pid file
//	host agent             the caller           its own           ha.pid, written by itself
//	driver                 host agent           its own           <vmType>.pid, written by itself
//	external driver        host agent           its own           <driver>.drv.pid, written by the host agent
//	helper 1               host agent           the host agent's  none
//	helper n+1             helper n             the host agent's  none
//
// Each child but the vz driver stops when its parent writes a stop line to
// its stdin, a helper after it has stopped its own child, and runs on when
// its stdin reaches a bare EOF: a killed host agent leaves its driver, its
// external driver server and its helpers running, as a killed limactl
// hostagent leaves QEMU and ssh. Every process exits at Options.Lifetime at
// the latest.
//
// The instance directory looks enough like Lima's for Lima's store.Inspect
// to report the instance Running while the simulation runs and Stopped once
// it has stopped: lima.yaml, ha.pid, ha.sock serving GET /v1/info, the
// driver's pid file, ha.stdout.log with host agent events and ha.stderr.log,
// which all the processes log to. With an external driver, the host agent
// also writes <driver>.drv.pid, holding the server's PID and no newline,
// and <driver>.drv.sock, an empty file; it removes both once the server has
// stopped.
//
// Each simulated process that ends by itself appends a Record to a file in
// the Lima home directory, so tests can tell a graceful stop from a forced
// one: a killed process writes nothing.
package siminst

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/limastop/stop/process"
)

// Defaults for the zero values of Options.
const (
	DefaultName     = "sim"
	DefaultVMType   = "qemu"
	DefaultLifetime = 2 * time.Minute
)

// SSHLocalPort is the port that the fake host agent reports in its events
// and in GET /v1/info. Nothing listens on it.
const SSHLocalPort = 60022

// closeTimeout bounds how long Close waits for each killed process.
const closeTimeout = 10 * time.Second

// Options configure Start. Only LimaHome is required.
type Options struct {
	// LimaHome is the directory that holds the instance directory, as
	// LIMA_HOME does for Lima. It must exist.
	LimaHome string
	// Name is the instance name; the instance directory is
	// LimaHome/Name. Empty means DefaultName.
	Name string
	// VMType is Lima's vmType. The driver writes VMType + ".pid", except
	// for "wsl2", whose driver has no pid file in Lima. For "vz" the host
	// agent is the driver, as in Lima: it writes vz.pid with its own PID
	// and removes it before ha.pid when it shuts down. Empty means
	// DefaultVMType.
	VMType string
	// ShutdownDelay is how long the host agent takes between receiving an
	// interrupt and stopping its driver.
	ShutdownDelay time.Duration
	// IgnoreInterrupt makes the host agent log and ignore interrupts, so
	// that only a kill ends it.
	IgnoreInterrupt bool
	// NoPIDFileArgs starts the processes with command lines that name no
	// file of the instance, as a host agent started by another launcher,
	// e.g. the Rancher Desktop daemon, might have: the host agent gets
	// "hostagent <name>" and the driver "-name lima-<name>". They still
	// write their pid files. Tests use it to exercise identity by other
	// evidence than the command line.
	NoPIDFileArgs bool
	// NoStopEvent keeps the host agent from opting into console-less
	// interrupts on Windows (stopsignal.Notify), as Lima v1.2.2's host
	// agent does not. Other OSes ignore it.
	NoStopEvent bool
	// StopEventPrefix names the host agent's stop event on Windows: the
	// prefix followed by the host agent's PID in decimal, as the Rancher
	// Desktop daemon names its host agents' events
	// (Local\rdd-<suffix>-interrupt-hostagent-<instance>-<pid>). A stopper
	// then needs a process.SystemTable whose EventName gives the same.
	// Empty means the default, process.InterruptEventName. Other OSes
	// check it (see stopsignal.EventName) but ignore it.
	StopEventPrefix string
	// Lifetime is how long each simulated process lives at most: it then
	// exits by itself, so a failing test cannot leave it behind. Zero
	// means DefaultLifetime.
	Lifetime time.Duration
	// AdditionalDisks are disk names to create under LimaHome/_disks and
	// lock to the instance with an in_use_by symlink, as Lima does.
	AdditionalDisks []string
	// ExternalDriver, if set, is the name of an external driver server of
	// Lima master (e.g. "krunkit") that the host agent starts besides its
	// driver, in a process group of its own, as "<executable> --inst-dir
	// <Dir>". The host agent writes <Dir>/<ExternalDriver>.drv.pid with the
	// server's PID and no trailing newline, as Lima master's parent does,
	// and creates <Dir>/<ExternalDriver>.drv.sock; when it shuts down, it
	// stops the server and removes both.
	ExternalDriver string
	// Descendants is how many helpers the host agent starts, at most 16:
	// the first its child, each next one a child of the one before, all
	// in the host agent's process group, as Lima's host agent starts ssh.
	// They name no file of the instance. A host agent that shuts down
	// stops them first; a killed one leaves them running (see
	// Instance.HelperPIDs). On Windows they share its console process
	// group, so a CTRL_BREAK sent to that group reaches them too.
	Descendants int
	// LightHelpers makes the helpers a shell and, for a second one, a
	// sleep below it, on Unix: processes as light as the ssh that Lima's
	// host agent starts, where a re-executed Go binary takes several times
	// as long to die. The shell stops on the stop line as the others do;
	// neither records its exit. It allows at most two helpers, and none
	// on Windows, which has neither program.
	LightHelpers bool
}

// Exit is how the host agent ended, as its parent, the caller, saw it.
type Exit struct {
	// Time is when the caller's wait for the process returned.
	Time time.Time
	// Code is the exit code, -1 if a signal ended the process.
	Code int
	// Killed reports that the process was killed rather than exiting by
	// itself: by a signal on Unix; on Windows by TerminateProcess with
	// exit code 1, the code os.Process.Kill and the process package use,
	// which the simulated processes never use themselves.
	Killed bool
}

// Instance is a running simulated instance. Close it when done.
type Instance struct {
	name     string
	dir      string
	vmType   string
	limaHome string
	cmd      *exec.Cmd
	haArgs   []string
	drvArgs  []string
	extName  string // Options.ExternalDriver

	// The processes the host agent started, pinned in Start, while they
	// waited for their stop request, so that Close cannot kill a process
	// that reuses one of their PIDs later; and their PIDs, which outlive
	// the pins.
	driver      process.Process // nil when the driver runs in the host agent (vz)
	driverPID   int
	external    process.Process // nil without Options.ExternalDriver
	externalPID int
	helpers     []process.Process // outermost first
	helperPIDs  []int

	haDone chan struct{} // closed once exit is set
	exit   Exit

	closeOnce sync.Once
	closeErr  error
}

// Start creates the instance directory under opts.LimaHome, starts the fake
// host agent and returns once the host agent, its driver and the external
// driver and helpers that opts asks for are ready: the pid files are
// written, and the host agent handles interrupts. If ctx ends first, the
// host agent is killed.
func Start(ctx context.Context, opts Options) (*Instance, error) {
	if _, ok := os.LookupEnv(envChild); ok {
		// A binary that forgot to call RunIfChild would otherwise start
		// simulated instances from its simulated processes, recursively.
		return nil, fmt.Errorf("siminst: %s is set: RunIfChild must be called first thing in main or TestMain", envChild)
	}
	cfg, err := newChildConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := createLayout(cfg, opts.AdditionalDisks); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("failed to find the executable to re-execute: %w", err)
	}
	inst := &Instance{
		name:     filepath.Base(cfg.Dir),
		dir:      cfg.Dir,
		vmType:   cfg.VMType,
		limaHome: filepath.Dir(cfg.Dir),
		haArgs:   hostAgentArgs(cfg),
		drvArgs:  driverArgs(cfg),
		extName:  cfg.ExternalDriver,
		haDone:   make(chan struct{}),
	}
	if driverInHostAgent(cfg.VMType) {
		inst.drvArgs = inst.haArgs
	}
	r, err := inst.startHostAgent(exe, cfg)
	if err != nil {
		return nil, err
	}
	line, err := readReady(ctx, r, inst.haDone)
	var ready readiness
	if err == nil {
		want := readinessWant{driver: true, externalDriver: cfg.ExternalDriver != "", helpers: cfg.Descendants}
		ready, err = parseReadiness(line, want)
	}
	if err == nil {
		err = inst.pin(ready)
	}
	if err != nil {
		// Kills what was pinned, then the host agent; a process that
		// could not be pinned ends at its lifetime.
		_ = inst.Close()
		stderr, _ := os.ReadFile(filepath.Join(cfg.Dir, haStderrLog))
		return nil, fmt.Errorf("simulated host agent did not get ready: %w (stderr=%q)", err, stderr)
	}
	return inst, nil
}

// pin pins the processes that the host agent reported ready.
func (i *Instance) pin(ready readiness) error {
	ha := i.HostAgentPID()
	if driverInHostAgent(i.vmType) {
		if ready.driver != ha {
			return fmt.Errorf("the host agent, pid %d, reported driver pid %d, not its own", ha, ready.driver)
		}
		i.driverPID = ha
	} else if ready.driver == ha {
		return fmt.Errorf("the host agent, pid %d, reported itself as its driver", ha)
	}
	if slices.Contains(ready.helpers, ha) || ready.externalDriver == ha {
		return fmt.Errorf("the host agent, pid %d, reported itself as its child", ha)
	}
	find := func(pid int) (process.Process, error) {
		p, err := process.System().Find(pid)
		if err != nil {
			return nil, fmt.Errorf("failed to pin pid %d: %w", pid, err)
		}
		return p, nil
	}
	var err error
	if !driverInHostAgent(i.vmType) {
		if i.driver, err = find(ready.driver); err != nil {
			return err
		}
		i.driverPID = ready.driver
	}
	if ready.externalDriver != 0 {
		if i.external, err = find(ready.externalDriver); err != nil {
			return err
		}
		i.externalPID = ready.externalDriver
	}
	for _, pid := range ready.helpers {
		p, err := find(pid)
		if err != nil {
			return err
		}
		i.helpers = append(i.helpers, p)
		i.helperPIDs = append(i.helperPIDs, pid)
	}
	return nil
}

// startHostAgent starts the host agent with its stdout on a pipe whose read
// end it returns, and a goroutine that records its exit.
func (i *Instance) startHostAgent(exe string, cfg childConfig) (*os.File, error) {
	cfg.Role = RoleHostAgent
	env, err := childEnv(cfg)
	if err != nil {
		return nil, err
	}
	// Like limactl, send the host agent's stderr to ha.stderr.log.
	stderr, err := os.OpenFile(filepath.Join(cfg.Dir, haStderrLog), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	// An *os.File as Stdout is handed to the child as is, so cmd.Wait
	// does not wait for a copying goroutine and the pipe can be read
	// while Wait runs.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pw.Close()
	i.cmd = exec.Command(exe, i.haArgs...)
	i.cmd.Env = env
	i.cmd.Stdout = pw
	i.cmd.Stderr = stderr
	i.cmd.SysProcAttr = backgroundSysProcAttr()
	if err := i.cmd.Start(); err != nil {
		pr.Close()
		return nil, fmt.Errorf("failed to start the simulated host agent: %w", err)
	}
	go func() {
		err := i.cmd.Wait()
		i.exit = exitOf(time.Now(), i.cmd.ProcessState, err)
		close(i.haDone)
	}()
	return pr, nil
}

// readReady reads the host agent's readiness line (see readiness) and
// closes r once the read has returned. If ctx ends first, the read is left
// to return when the host agent exits: closing a pipe during a read blocks
// on Windows.
func readReady(ctx context.Context, r *os.File, haDone <-chan struct{}) (string, error) {
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		defer r.Close()
		line, err := bufio.NewReader(r).ReadString('\n')
		ch <- result{line, err}
	}()
	var res result
	select {
	case res = <-ch:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if res.err != nil {
		if errors.Is(res.err, io.EOF) {
			select {
			case <-haDone:
			case <-ctx.Done():
			}
			return "", errors.New("the host agent closed its stdout before it was ready")
		}
		return "", res.err
	}
	return res.line, nil
}

// Name returns the instance name.
func (i *Instance) Name() string { return i.name }

// Dir returns the instance directory.
func (i *Instance) Dir() string { return i.dir }

// LimaHome returns the directory holding the instance directory, made
// absolute.
func (i *Instance) LimaHome() string { return i.limaHome }

// VMType returns Lima's vmType of the instance.
func (i *Instance) VMType() string { return i.vmType }

// HostAgentPID returns the PID of the host agent.
func (i *Instance) HostAgentPID() int { return i.cmd.Process.Pid }

// DriverPID returns the PID of the driver: the host agent's for vz.
func (i *Instance) DriverPID() int { return i.driverPID }

// ExternalDriverPID returns the PID of the external driver server, or 0
// without Options.ExternalDriver.
func (i *Instance) ExternalDriverPID() int { return i.externalPID }

// ExternalDriverPIDFile returns the path of the external driver server's
// pid file, or "" without Options.ExternalDriver.
func (i *Instance) ExternalDriverPIDFile() string {
	if i.extName == "" {
		return ""
	}
	return filepath.Join(i.dir, i.extName+externalDriverPIDSuffix)
}

// HelperPIDs returns the PIDs of the helpers, outermost (the host agent's
// child) first. The helpers are not the caller's children: once the host
// agent is killed, only Close (or their lifetime) ends them.
func (i *Instance) HelperPIDs() []int { return slices.Clone(i.helperPIDs) }

// HostAgentArgs returns the host agent's arguments after the executable.
func (i *Instance) HostAgentArgs() []string { return slices.Clone(i.haArgs) }

// DriverArgs returns the driver's arguments after the executable: the host
// agent's for vz.
func (i *Instance) DriverArgs() []string { return slices.Clone(i.drvArgs) }

// DriverPIDFile returns the path of the driver's pid file, or "" for a
// VMType whose driver writes none. For vz it holds the host agent's PID.
func (i *Instance) DriverPIDFile() string {
	name := driverPIDFileName(i.vmType)
	if name == "" {
		return ""
	}
	return filepath.Join(i.dir, name)
}

// RecordFile returns the path of the file the simulated processes append
// their Records to.
func (i *Instance) RecordFile() string { return recordFile(i.limaHome, i.name) }

// Records returns what the simulated processes recorded when they ended by
// themselves, in the order they wrote it.
func (i *Instance) Records() ([]Record, error) { return readRecords(i.RecordFile()) }

// HostAgentDone returns a channel that is closed once the caller has seen
// the host agent exit.
func (i *Instance) HostAgentDone() <-chan struct{} { return i.haDone }

// WaitHostAgent waits until the host agent has exited and returns how, or
// returns ctx.Err() when ctx ends first.
func (i *Instance) WaitHostAgent(ctx context.Context) (Exit, error) {
	select {
	case <-i.haDone:
		return i.exit, nil
	case <-ctx.Done():
		return Exit{}, ctx.Err()
	}
}

// Close kills the simulated processes that are still running, driver first
// (unless it runs in the host agent), then the external driver server, the
// helpers and the host agent, and waits for each to exit. It leaves the
// directories alone.
func (i *Instance) Close() error {
	i.closeOnce.Do(func() { i.closeErr = i.close() })
	return i.closeErr
}

func (i *Instance) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	var errs []error
	// All are pinned, so the order is free: the driver first, since it
	// writes to the disks, and the host agent last, so that nothing it
	// might still start is left behind.
	if i.driver != nil {
		errs = append(errs, killPinned(ctx, RoleDriver, i.driver))
	}
	if i.external != nil {
		errs = append(errs, killPinned(ctx, RoleExternalDriver, i.external))
	}
	for _, h := range i.helpers {
		errs = append(errs, killPinned(ctx, RoleHelper, h))
	}
	killErr := i.KillHostAgent()
	if _, err := i.WaitHostAgent(ctx); err != nil {
		errs = append(errs, fmt.Errorf("simulated host agent pid %d: %w (kill: %w)", i.HostAgentPID(), err, killErr))
	}
	return errors.Join(errs...)
}

// killPinned kills p unless it has exited, waits for it and releases it.
func killPinned(ctx context.Context, role Role, p process.Process) error {
	var err error
	if kerr := p.Kill(); kerr != nil && !errors.Is(kerr, process.ErrNotFound) {
		err = fmt.Errorf("failed to kill the simulated %s, pid %d: %w", role, p.PID(), kerr)
	} else if werr := p.Wait(ctx); werr != nil {
		err = fmt.Errorf("simulated %s pid %d: %w", role, p.PID(), werr)
	}
	return errors.Join(err, p.Release())
}

// KillHostAgent kills the host agent, as a crash or limactl stop -f would,
// through the caller's own handle on its child. The driver, the external
// driver server and the helpers run on. Killing a host agent that has
// exited is no error.
func (i *Instance) KillHostAgent() error {
	err := i.cmd.Process.Kill()
	select {
	case <-i.haDone:
		// Exited before or during the kill: Windows refuses to kill a
		// process that has been waited for with another error than
		// os.ErrProcessDone.
		return nil
	default:
	}
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// exitOf describes how a waited-for child ended.
func exitOf(t time.Time, state *os.ProcessState, waitErr error) Exit {
	if state == nil {
		return Exit{Time: t, Code: -1, Killed: waitErr != nil}
	}
	return Exit{Time: t, Code: state.ExitCode(), Killed: killed(state)}
}

// childEnv returns the caller's environment with cfg for RunIfChild.
func childEnv(cfg childConfig) ([]string, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	env := make([]string, 0, len(os.Environ())+2)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envChild+"=") && !strings.HasPrefix(kv, "GORACE=") {
			env = append(env, kv)
		}
	}
	// A binary built with -race sleeps a second at exit by default, which
	// would show up in every measured stop. Later GORACE options win.
	env = append(env, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	return append(env, envChild+"="+string(b)), nil
}
