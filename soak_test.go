// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/limastop/stop"
	"github.com/limastop/stop/internal/siminst"
	"github.com/limastop/stop/internal/testutil"
	"github.com/limastop/stop/process"
	"github.com/limastop/stop/process/processtest"
	"github.com/limastop/stop/wsl"
	"github.com/limastop/stop/wsl/wsltest"
)

var (
	soakTime = flag.Duration("soak", 0, "run TestSoak for this long, e.g. 1m (go test -run TestSoak -soak 1m .); "+
		"0 runs it for a few seconds, as a smoke test")
	soakRestartAnywhere = flag.Bool("soak-restart-anywhere", false, "let TestSoak restart an instance at any point "+
		"of a stop, not only once a death is confirmed or a disk unlocked: this loses state (see restart_test.go)")
)

// TestSoak stops and restarts instances over and over, with random faults,
// and checks the two things no fault may cause: a signal to a process that
// is not the instance's (a wrong-process signal), and a running instance
// that looks stopped because its pid files, socket or disk lock were
// removed while a process of it runs (state lost). Two workers run side by
// side: one with fake processes (processtest, wsltest), which can refuse a
// kill, exit in the middle of a find, or have wsl.exe hang, and one with
// simulated instances made of real processes, next to a bystander instance
// that must never be signalled. Both restart their instance after each
// stop, rewrite pid files to name strangers, and cancel contexts at random
// points.
func TestSoak(t *testing.T) {
	d := *soakTime
	if d == 0 {
		if testing.Short() {
			t.Skip("a soak; -soak 1m runs the full one")
		}
		d = 3 * time.Second
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("soak for %s, seed %d", d, seed)
	var tally soakTally
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	wg.Go(func() { soakFakes(t, rand.New(rand.NewPCG(seed, 1)), deadline, &tally) })
	wg.Go(func() { soakSimulated(t, rand.New(rand.NewPCG(seed, 2)), deadline, &tally) })
	wg.Wait()
	t.Log("\n" + tally.String())
	assert.Zero(t, tally.wrong, "wrong-process signals")
	assert.Zero(t, tally.lost, "instances that looked stopped while running")
	assert.Positive(t, tally.stops["fake"], "fake stops")
	assert.Positive(t, tally.stops["simulated"], "simulated stops")
}

// soakTally counts what the soak did and saw. It is safe for concurrent
// use.
type soakTally struct {
	mu       sync.Mutex
	stops    map[string]int // by worker
	outcomes map[string]int // by worker and outcome
	faults   map[string]int // by kind
	wrong    int
	lost     int
	problems []string // the first few wrong signals and losses, for the log
}

func (s *soakTally) add(m *map[string]int, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[key]++
}

func (s *soakTally) stop(worker string, res *stop.Result, err error) {
	s.add(&s.stops, worker)
	outcome := res.Outcome.String()
	if err != nil {
		outcome += ", with an error"
	}
	s.add(&s.outcomes, worker+": "+outcome)
}

func (s *soakTally) fault(kind string) { s.add(&s.faults, kind) }

func (s *soakTally) problem(wrong bool, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if wrong {
		s.wrong++
	} else {
		s.lost++
	}
	if len(s.problems) < 20 {
		s.problems = append(s.problems, fmt.Sprintf(format, args...))
	}
}

func (s *soakTally) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	total := 0
	for _, n := range s.stops {
		total += n
	}
	fmt.Fprintf(&b, "stops: %d (%s)\n", total, counts(s.stops))
	fmt.Fprintf(&b, "outcomes: %s\n", counts(s.outcomes))
	nf := 0
	for _, n := range s.faults {
		nf += n
	}
	fmt.Fprintf(&b, "faults: %d (%s)\n", nf, counts(s.faults))
	fmt.Fprintf(&b, "wrong-process signals: %d\nstate lost: %d", s.wrong, s.lost)
	for _, p := range s.problems {
		b.WriteString("\n  " + p)
	}
	return b.String()
}

func counts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// soakPolicy returns a random policy with short timeouts.
func soakPolicy(rng *rand.Rand, table process.Table, ex wsl.Executor, disks stop.DiskUnlocker, grace, timeout time.Duration) stop.Stopper {
	g := stop.Graceful{Processes: table, WSL: ex, Timeout: grace}
	f := stop.Forcible{Processes: table, WSL: ex, Disks: disks, Timeout: timeout}
	switch rng.IntN(3) {
	case 0:
		return g
	case 1:
		return f
	}
	return stop.Orphan{Graceful: g, Forcible: f}
}

// The fake worker.

// Bystanders of the fake worker: processes that are never the instance's.
const (
	fakeBystanderPID = 4900001
	fakeFirstPID     = 4100000
)

// fakeRun is one run of the fake instance: its processes, and the files
// each wrote.
type fakeRun struct {
	ha, drv *processtest.Process // drv is nil for wsl2
}

// fakeSoak is the state of the fake worker.
type fakeSoak struct {
	t       *testing.T
	rng     *rand.Rand
	tally   *soakTally
	dir     string
	lock    string // the disk lock, "" where symlinks do not work
	nextPID int

	// Per stop.
	inst      *stop.Instance
	table     *processtest.Table
	runs      []*fakeRun
	hooks     int                // hook calls so far
	cancelAt  int                // hook call that cancels the stop, 0 for none
	cancel    context.CancelFunc // the stop's
	restartAt int                // hook call from which the instance restarts, 0 for none
	exitFind  bool
}

func soakFakes(t *testing.T, rng *rand.Rand, deadline time.Time, tally *soakTally) {
	home := testutil.TempDir(t, dirPattern)
	s := &fakeSoak{t: t, rng: rng, tally: tally, dir: filepath.Join(home, "default"), nextPID: fakeFirstPID}
	if err := os.Mkdir(s.dir, 0o755); err != nil {
		t.Error(err)
		return
	}
	lock := filepath.Join(home, "_disks", "data", "in_use_by")
	if err := os.MkdirAll(filepath.Dir(lock), 0o755); err != nil {
		t.Error(err)
		return
	}
	if err := os.Symlink(s.dir, lock); err == nil {
		if _, err := os.Readlink(lock); err == nil {
			s.lock = lock
		}
		_ = os.Remove(lock)
	}
	for time.Now().Before(deadline) && !t.Failed() {
		if err := s.once(); err != nil {
			t.Errorf("fake soak: %v", err)
			return
		}
	}
}

// once restarts the instance, stops it with random faults, and checks it.
func (s *fakeSoak) once() error {
	rng := s.rng
	vmType := "qemu"
	if rng.IntN(5) == 0 {
		vmType = "wsl2"
	}
	if err := s.reset(vmType); err != nil {
		return err
	}
	s.table = new(processtest.Table)
	s.table.Add(fakeBystanderPID, processtest.Behavior{CommandLine: stranger, StartTime: time.Now().Add(-time.Hour)})
	s.runs = nil
	ha, drv := processtest.Behavior{}, processtest.Behavior{}
	if rng.IntN(4) == 0 {
		s.tally.fault("interrupt ignored")
		ha.IgnoreInterrupt = true
	}
	if rng.IntN(6) == 0 {
		s.tally.fault("kill refused")
		if vmType == "wsl2" || rng.IntN(2) == 0 {
			ha.RefuseKill = true
		} else {
			drv.RefuseKill = true
		}
	}
	if err := s.start(ha, drv); err != nil {
		return err
	}
	if rng.IntN(8) == 0 {
		// The instance crashed and a stranger took over a PID: its pid
		// file names the stranger, written before it started (provably
		// stale) or after (identity unknown).
		s.tally.fault("pid file names a stranger")
		s.runs[0].ha.Exit()
		if d := s.runs[0].drv; d != nil {
			d.Exit()
		}
		written := time.Now().Add(-2 * time.Hour) // before the stranger started
		if rng.IntN(2) == 0 {
			written = time.Now()
		}
		if err := writePIDFileAt(filepath.Join(s.dir, "ha.pid"), fakeBystanderPID, written); err != nil {
			return err
		}
	}
	s.hooks, s.cancelAt, s.restartAt = 0, 0, 0
	// These faults are counted when they strike: at a hook.
	s.exitFind = rng.IntN(8) == 0
	if rng.IntN(6) == 0 {
		s.cancelAt = 1 + rng.IntN(12)
	}
	if rng.IntN(6) == 0 {
		s.restartAt = 1 + rng.IntN(12)
	}
	var ex wsltest.Fake
	terminate, list := wsltest.Response{}, wsltest.Response{Stdout: wsltest.ListOutput(wsl.Distro{Name: "lima-default", State: wsl.Stopped, Version: 2})}
	if vmType == "wsl2" && rng.IntN(3) == 0 {
		s.tally.fault("wsl.exe hung")
		terminate.Hang, list.Hang = true, true
	}
	ex.On("--terminate lima-default", terminate)
	ex.On("--list --verbose", list)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.cancel = cancel
	table := hookedTable{Table: s.table, hook: s.hook}
	stopper := soakPolicy(rng, table, hookedWSL{&ex, s.hook}, hookedDisks{s.hook}, time.Duration(1+rng.IntN(10))*time.Millisecond, 100*time.Millisecond)
	res, err := stopper.Stop(ctx, s.inst)
	s.tally.stop("fake", res, err)
	s.check(res, err)
	for _, r := range s.runs {
		r.ha.Exit()
		if r.drv != nil {
			r.drv.Exit()
		}
	}
	return nil
}

// hook is called at every operation of the stop on the fake OS: it injects
// the faults planned for this stop.
func (s *fakeSoak) hook(op string, pid int) {
	s.hooks++
	if s.exitFind && op == "find" {
		for _, r := range s.runs {
			for _, p := range []*processtest.Process{r.ha, r.drv} {
				if p != nil && p.PID() == pid && !p.Exited() {
					s.tally.fault("exit during find")
					p.Exit()
				}
			}
		}
	}
	if s.hooks == s.cancelAt {
		s.tally.fault("context cancelled")
		s.cancel()
	}
	// A restart right after a confirmed death, or after a disk was
	// unlocked, is caught by the pid-file check that follows; elsewhere
	// (while the distro is terminated, while the pid files are checked)
	// it can lose state, see restart_test.go.
	restartPoint := op == "waited" || op == "unlocked" || *soakRestartAnywhere
	if s.restartAt > 0 && s.hooks >= s.restartAt && restartPoint && s.allExited() {
		// Lima can start the instance again once its processes are
		// gone: a limactl that does not take the lock restarts it in
		// the middle of the stop.
		s.restartAt = 0
		s.tally.fault("restart during the stop")
		if err := s.start(processtest.Behavior{}, processtest.Behavior{}); err != nil {
			s.t.Errorf("restart: %v", err)
		}
	}
}

func (s *fakeSoak) allExited() bool {
	for _, r := range s.runs {
		if !r.ha.Exited() || (r.drv != nil && !r.drv.Exited()) {
			return false
		}
	}
	return true
}

// reset leaves the instance directory as Lima leaves a stopped instance's:
// lima.yaml alone, no disk lock.
func (s *fakeSoak) reset(vmType string) error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(s.dir, e.Name())); err != nil {
			return err
		}
	}
	if s.lock != "" {
		if err := os.Remove(s.lock); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(s.dir, "lima.yaml"), []byte("vmType: "+vmType+"\n"), 0o644); err != nil {
		return err
	}
	s.inst = &stop.Instance{Name: "default", Dir: s.dir, VMType: vmType}
	if s.lock != "" {
		s.inst.AdditionalDisks = []string{"data"}
	}
	return nil
}

// start starts a run of the instance, as limactl start does: the processes
// with Lima's command lines, their pid files, the socket, the disk lock.
func (s *fakeSoak) start(ha, drv processtest.Behavior) error {
	r := &fakeRun{}
	ha.CommandLine = []string{"limactl", "hostagent", "--pidfile", filepath.Join(s.dir, "ha.pid"), "--socket", filepath.Join(s.dir, "ha.sock"), "default"}
	ha.InterruptDelay = time.Duration(s.rng.IntN(3)) * time.Millisecond
	r.ha = s.table.Add(s.nextPID, ha)
	if s.inst.VMType != "wsl2" {
		drv.CommandLine = []string{"qemu-system-x86_64", "-name", "lima-default", "-pidfile", filepath.Join(s.dir, "qemu.pid")}
		r.drv = s.table.Add(s.nextPID+1, drv)
		go func() {
			// The host agent stops its driver as it shuts down.
			<-r.ha.Done()
			r.drv.Exit()
		}()
		if err := writePIDFileAt(filepath.Join(s.dir, "qemu.pid"), r.drv.PID(), time.Now()); err != nil {
			return err
		}
	}
	s.nextPID += 2
	if err := writePIDFileAt(filepath.Join(s.dir, "ha.pid"), r.ha.PID(), time.Now()); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.dir, "ha.sock"), nil, 0o644); err != nil {
		return err
	}
	if s.lock != "" {
		if err := os.Remove(s.lock); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Symlink(s.dir, s.lock); err != nil {
			return err
		}
	}
	s.runs = append(s.runs, r)
	return nil
}

// check counts the signals to the bystander, and the running processes of
// the instance whose files or disk lock are gone.
func (s *fakeSoak) check(res *stop.Result, err error) {
	for _, c := range s.table.Calls() {
		if c.PID == fakeBystanderPID && (c.Op == "interrupt" || c.Op == "kill") {
			s.tally.problem(true, "fake: %s of the bystander (pid %d): %v\n%s", c.Op, c.PID, err, res)
		}
	}
	var want []string
	for _, r := range s.runs {
		if !r.ha.Exited() {
			want = append(want, filepath.Join(s.dir, "ha.pid"), filepath.Join(s.dir, "ha.sock"))
		}
		if r.drv != nil && !r.drv.Exited() {
			want = append(want, filepath.Join(s.dir, "qemu.pid"), filepath.Join(s.dir, "ha.sock"))
		}
	}
	if len(want) > 0 && s.lock != "" {
		want = append(want, s.lock)
	}
	for _, path := range want {
		if _, serr := os.Lstat(path); serr != nil {
			s.tally.problem(false, "fake: %s gone while the instance runs (%s): %v\n%s", path, s.inst.VMType, err, res)
		}
	}
}

func writePIDFileAt(path string, pid int, written time.Time) error {
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Chtimes(path, written, written)
}

// hookedTable is a fake process table whose processes call hook at every
// operation, before it is carried out.
type hookedTable struct {
	*processtest.Table
	hook func(op string, pid int)
}

func (h hookedTable) Find(pid int) (process.Process, error) {
	p, err := h.Table.Find(pid)
	h.hook("find", pid)
	if err != nil {
		return nil, err
	}
	return hookedProcess{p, h.hook}, nil
}

func (h hookedTable) List() ([]process.Entry, error) {
	h.hook("list", 0)
	return h.Table.List()
}

type hookedProcess struct {
	process.Process
	hook func(op string, pid int)
}

func (p hookedProcess) Interrupt() error {
	p.hook("interrupt", p.PID())
	return p.Process.Interrupt()
}

func (p hookedProcess) Kill() error {
	p.hook("kill", p.PID())
	return p.Process.Kill()
}

func (p hookedProcess) Wait(ctx context.Context) error {
	err := p.Process.Wait(ctx)
	p.hook("waited", p.PID())
	return err
}

type hookedWSL struct {
	ex   wsl.Executor
	hook func(op string, pid int)
}

func (h hookedWSL) Run(ctx context.Context, args ...string) (string, error) {
	h.hook("wsl", 0)
	return h.ex.Run(ctx, args...)
}

type hookedDisks struct{ hook func(op string, pid int) }

func (h hookedDisks) Unlock(ctx context.Context, inst *stop.Instance, disk string) error {
	err := stop.LimaDisks{}.Unlock(ctx, inst, disk)
	h.hook("unlocked", 0)
	return err
}

// The simulated worker.

func soakSimulated(t *testing.T, rng *rand.Rand, deadline time.Time, tally *soakTally) {
	home := testutil.TempDir(t, dirPattern)
	life := time.Until(deadline) + time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	other, err := siminst.Start(ctx, siminst.Options{LimaHome: home, Name: "bystander", Lifetime: life})
	if err != nil {
		t.Error(err)
		return
	}
	defer func() { _ = other.Close() }()
	otherHA, err := process.System().Find(other.HostAgentPID())
	if err != nil {
		t.Error(err)
		return
	}
	defer otherHA.Release()
	otherDrv, err := process.System().Find(other.DriverPID())
	if err != nil {
		t.Error(err)
		return
	}
	defer otherDrv.Release()
	disks := disksIfSupported()
	for time.Now().Before(deadline) && !t.Failed() {
		if err := soakSimulatedOnce(rng, home, disks, other, otherHA, otherDrv, tally); err != nil {
			t.Errorf("simulated soak: %v", err)
			return
		}
	}
}

func soakSimulatedOnce(rng *rand.Rand, home string, disks []string, other *siminst.Instance, otherHA, otherDrv process.Process, tally *soakTally) error {
	opts := siminst.Options{LimaHome: home, Name: "default", Lifetime: time.Minute, AdditionalDisks: disks,
		ShutdownDelay: time.Duration(rng.IntN(10)) * time.Millisecond}
	if rng.IntN(4) == 0 {
		opts.VMType = "vz"
	}
	if rng.IntN(4) == 0 {
		tally.fault("interrupt ignored")
		opts.IgnoreInterrupt = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sim, err := siminst.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() { _ = sim.Close() }()
	inst := &stop.Instance{Name: sim.Name(), Dir: sim.Dir(), VMType: sim.VMType(), AdditionalDisks: disks}
	// What the running instance has, to check later what is left.
	existed := map[string]bool{}
	for _, path := range []string{filepath.Join(inst.Dir, "ha.pid"), filepath.Join(inst.Dir, "ha.sock"), sim.DriverPIDFile()} {
		if _, err := os.Lstat(path); path != "" && err == nil {
			existed[path] = true
		}
	}
	for _, d := range disks {
		existed[filepath.Join(home, "_disks", d, "in_use_by")] = true
	}
	ha, err := process.System().Find(sim.HostAgentPID())
	if err != nil {
		return err
	}
	defer ha.Release()
	drv, err := process.System().Find(sim.DriverPID())
	if err != nil {
		return err
	}
	defer drv.Release()

	if rng.IntN(8) == 0 {
		// A crash, and a stranger holds the PID now.
		tally.fault("pid file names a stranger")
		if err := sim.Close(); err != nil {
			return err
		}
		written := otherHA.StartTime().Add(-time.Hour) // before the stranger started
		if rng.IntN(2) == 0 {
			written = time.Now()
		}
		if err := writePIDFileAt(filepath.Join(inst.Dir, "ha.pid"), other.HostAgentPID(), written); err != nil {
			return err
		}
		if f := sim.DriverPIDFile(); f != "" {
			if err := writePIDFileAt(f, other.DriverPID(), written); err != nil {
				return err
			}
		}
	}
	if rng.IntN(8) == 0 {
		delay := time.Duration(rng.IntN(3000)) * time.Microsecond
		killDrv := rng.IntN(2) == 0
		killed := make(chan struct{})
		timer := time.AfterFunc(delay, func() {
			defer close(killed)
			tally.fault("exit during find")
			if killDrv {
				_ = drv.Kill()
			} else {
				_ = sim.KillHostAgent()
			}
		})
		// drv must not be used once released: its descriptor's number
		// may name another pin by then.
		defer func() {
			if !timer.Stop() {
				<-killed
			}
		}()
	}
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer stopCancel()
	if rng.IntN(6) == 0 {
		tally.fault("context cancelled")
		time.AfterFunc(time.Duration(rng.IntN(20000))*time.Microsecond, stopCancel)
	}
	stopper := soakPolicy(rng, nil, nil, nil, time.Duration(100+rng.IntN(200))*time.Millisecond, 5*time.Second)
	res, err := stopper.Stop(stopCtx, inst)
	tally.stop("simulated", res, err)

	// The bystander must never be signalled.
	for _, p := range []process.Process{otherHA, otherDrv} {
		if !running(p) {
			tally.problem(true, "simulated: the bystander's pid %d exited: %v\n%s", p.PID(), err, res)
		}
	}
	if recs, rerr := other.Records(); rerr != nil || len(recs) > 0 {
		tally.problem(true, "simulated: the bystander recorded %+v (%v): %v\n%s", recs, rerr, err, res)
	}

	// An interrupted host agent shuts down by itself and removes its own
	// files on the way: that is not the stop's doing. Let it finish.
	if !opts.IgnoreInterrupt && slices.ContainsFunc(res.Steps, func(s stop.Step) bool { return strings.HasPrefix(s.Action, "interrupt") }) {
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = ha.Wait(wctx)
		wcancel()
	}
	var want []string
	if running(ha) {
		want = append(want, filepath.Join(inst.Dir, "ha.pid"), filepath.Join(inst.Dir, "ha.sock"))
	}
	if running(drv) && sim.DriverPIDFile() != "" {
		want = append(want, sim.DriverPIDFile(), filepath.Join(inst.Dir, "ha.sock"))
	}
	if len(want) > 0 {
		for _, d := range disks {
			want = append(want, filepath.Join(home, "_disks", d, "in_use_by"))
		}
	}
	for _, path := range want {
		if !existed[path] {
			continue // the OS has no such file (ha.sock on Windows)
		}
		if _, serr := os.Lstat(path); serr != nil {
			tally.problem(false, "simulated: %s gone while the instance runs: %v\n%s", path, err, res)
		}
	}

	// Restart: what the stop left running ends, what it kept goes, as a
	// limactl stop -f after a failed stop would.
	if err := sim.Close(); err != nil {
		return err
	}
	entries, err := os.ReadDir(inst.Dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".pid") || strings.HasSuffix(e.Name(), ".sock") {
			if err := os.Remove(filepath.Join(inst.Dir, e.Name())); err != nil {
				return err
			}
		}
	}
	for _, d := range disks {
		if err := os.Remove(filepath.Join(home, "_disks", d, "in_use_by")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
