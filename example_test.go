// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/limastop/stop"
	"github.com/limastop/stop/process"
	"github.com/limastop/stop/process/processtest"
	"github.com/limastop/stop/wsl/wsltest"
)

// The examples stop instances made of fake processes (processtest.Table)
// in a real instance directory, which Lima would create as
// $LIMA_HOME/<name>: lima.yaml and the pid files. A fake process is known
// to be the instance's, as a real one is, by the pid file its command line
// names. In real code Processes is left nil: the operating system's table.

// A graceful stop interrupts the host agent, which shuts the VM down, and
// waits for both to exit.
func ExampleGraceful() {
	dir, err := os.MkdirTemp("", "default")
	if err != nil {
		panic(err)
	}
	defer func() { // entry by entry: os.RemoveAll fails under Wine
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
		_ = os.Remove(dir)
	}()
	var table processtest.Table
	qemu := table.Add(4000003, processtest.Behavior{
		CommandLine: []string{"qemu-system-x86_64", "-pidfile", filepath.Join(dir, "qemu.pid")},
	})
	table.Add(4000002, processtest.Behavior{
		CommandLine:    []string{"limactl", "hostagent", "--pidfile", filepath.Join(dir, "ha.pid"), "default"},
		OnInterrupt:    qemu.Exit, // the guest shuts down
		InterruptDelay: 10 * time.Millisecond,
	})
	for name, content := range map[string]string{"lima.yaml": "vmType: qemu\n", "ha.pid": "4000002\n", "qemu.pid": "4000003\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			panic(err)
		}
	}
	inst := &stop.Instance{Name: "default", Dir: dir, VMType: "qemu"}

	res, err := stop.Graceful{Processes: &table, Timeout: time.Minute}.Stop(context.Background(), inst)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range res.Steps {
		if s.Kind != stop.StepFind { // finding and identifying the processes
			fmt.Println(s.Action)
		}
	}
	fmt.Println(res.Outcome)
	// Output:
	// interrupt host agent (pid 4000002)
	// wait for host agent (pid 4000002) to exit
	// wait for driver (pid 4000003) to exit
	// stopped gracefully
}

// A forced stop kills the driver and then the host agent, confirms both
// deaths and only then removes the stale files.
func ExampleForcible() {
	dir, err := os.MkdirTemp("", "default")
	if err != nil {
		panic(err)
	}
	defer func() { // entry by entry: os.RemoveAll fails under Wine
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
		_ = os.Remove(dir)
	}()
	var table processtest.Table
	table.Add(4000003, processtest.Behavior{
		CommandLine: []string{"qemu-system-x86_64", "-pidfile", filepath.Join(dir, "qemu.pid")},
	})
	table.Add(4000002, processtest.Behavior{
		CommandLine: []string{"limactl", "hostagent", "--pidfile", filepath.Join(dir, "ha.pid"), "default"},
	})
	for name, content := range map[string]string{"lima.yaml": "vmType: qemu\n", "ha.pid": "4000002\n", "qemu.pid": "4000003\n", "ha.sock": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			panic(err)
		}
	}
	inst := &stop.Instance{Name: "default", Dir: dir, VMType: "qemu"}

	res, err := stop.Forcible{Processes: &table}.Stop(context.Background(), inst)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range res.Steps {
		if s.Kind != stop.StepFind { // finding and identifying the processes
			fmt.Println(s.Action)
		}
	}
	fmt.Println(res.Outcome)
	_, err = os.Stat(filepath.Join(dir, "ha.pid"))
	fmt.Println("ha.pid removed:", errors.Is(err, os.ErrNotExist))
	// Output:
	// kill driver (pid 4000003)
	// kill host agent (pid 4000002)
	// confirm driver (pid 4000003) exited
	// confirm host agent (pid 4000002) exited
	// check that every pid file is stale
	// remove stale pid files, sockets and temporary files
	// stopped forcibly
	// ha.pid removed: true
}

// An orphaned host agent that ignores the interrupt is stopped forcibly once
// the graceful part runs out of time. Under a deadline, ForcedBudget is
// what the forced part keeps of it: here the graceful part gets the first
// 100 ms.
func ExampleOrphan() {
	dir, err := os.MkdirTemp("", "default")
	if err != nil {
		panic(err)
	}
	defer func() { // entry by entry: os.RemoveAll fails under Wine
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
		_ = os.Remove(dir)
	}()
	var table processtest.Table
	table.Add(4000003, processtest.Behavior{
		CommandLine: []string{"qemu-system-x86_64", "-pidfile", filepath.Join(dir, "qemu.pid")},
	})
	table.Add(4000002, processtest.Behavior{
		CommandLine:     []string{"limactl", "hostagent", "--pidfile", filepath.Join(dir, "ha.pid"), "default"},
		IgnoreInterrupt: true, // wedged
	})
	for name, content := range map[string]string{"lima.yaml": "vmType: qemu\n", "ha.pid": "4000002\n", "qemu.pid": "4000003\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			panic(err)
		}
	}
	inst := &stop.Instance{Name: "default", Dir: dir, VMType: "qemu"}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := stop.Orphan{
		Graceful:     stop.Graceful{Processes: &table},
		ForcedBudget: 10*time.Second - 100*time.Millisecond,
	}.Stop(ctx, inst)
	if err != nil {
		fmt.Println(err)
		return
	}
	var kinds []string
	for _, s := range res.Steps {
		if s.Kind != stop.StepFind { // finding and identifying the processes
			kinds = append(kinds, string(s.Kind))
		}
	}
	fmt.Println(strings.Join(kinds, " "))
	fmt.Println(res.Outcome)
	fmt.Println("escalated on the deadline:", errors.Is(res.Escalation, context.DeadlineExceeded))
	// Output:
	// interrupt wait kill kill confirm confirm check remove
	// stopped forcibly
	// escalated on the deadline: true
}

// An orphaned host agent that cannot be interrupted, here because the caller
// is a Windows service without a console, is stopped forcibly at once.
func ExampleOrphan_noConsole() {
	dir, err := os.MkdirTemp("", "default")
	if err != nil {
		panic(err)
	}
	defer func() { // entry by entry: os.RemoveAll fails under Wine
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
		_ = os.Remove(dir)
	}()
	var table processtest.Table
	table.Add(4000003, processtest.Behavior{
		CommandLine: []string{"qemu-system-x86_64", "-pidfile", filepath.Join(dir, "qemu.pid")},
	})
	table.Add(4000002, processtest.Behavior{
		CommandLine:  []string{"limactl", "hostagent", "--pidfile", filepath.Join(dir, "ha.pid"), "default"},
		InterruptErr: fmt.Errorf("%w: no console", process.ErrInterruptUnavailable),
	})
	for name, content := range map[string]string{"lima.yaml": "vmType: qemu\n", "ha.pid": "4000002\n", "qemu.pid": "4000003\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			panic(err)
		}
	}
	inst := &stop.Instance{Name: "default", Dir: dir, VMType: "qemu"}

	res, err := stop.Orphan{Graceful: stop.Graceful{Processes: &table}}.Stop(context.Background(), inst)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Outcome)
	fmt.Println(errors.Is(res.Escalation, process.ErrInterruptUnavailable))
	// Output:
	// stopped forcibly
	// true
}

// An application that quits stops all its instances at once. Each Result
// carries its own Err; a WSL2 instance whose stop failed still has its
// distro terminated, as a last resort.
func ExampleShutdown_StopAll() {
	home, err := os.MkdirTemp("", "lima")
	if err != nil {
		panic(err)
	}
	defer func() { // entry by entry: os.RemoveAll fails under Wine
		for _, name := range []string{"web", "db"} {
			entries, _ := os.ReadDir(filepath.Join(home, name))
			for _, e := range entries {
				_ = os.Remove(filepath.Join(home, name, e.Name()))
			}
			_ = os.Remove(filepath.Join(home, name))
		}
		_ = os.Remove(home)
	}()
	var table processtest.Table
	// "web" (qemu) shuts down when interrupted.
	web := filepath.Join(home, "web")
	qemu := table.Add(4000003, processtest.Behavior{
		CommandLine: []string{"qemu-system-x86_64", "-pidfile", filepath.Join(web, "qemu.pid")},
	})
	table.Add(4000002, processtest.Behavior{
		CommandLine: []string{"limactl", "hostagent", "--pidfile", filepath.Join(web, "ha.pid"), "web"},
		OnInterrupt: qemu.Exit,
	})
	// "db" (wsl2, no driver pid file) has a host agent that ignores the
	// and cannot be killed.
	db := filepath.Join(home, "db")
	table.Add(4000012, processtest.Behavior{
		CommandLine:     []string{"limactl", "hostagent", "--pidfile", filepath.Join(db, "ha.pid"), "db"},
		IgnoreInterrupt: true,
		RefuseKill:      true,
	})
	files := map[string]string{
		filepath.Join(web, "lima.yaml"): "vmType: qemu\n",
		filepath.Join(web, "ha.pid"):    "4000002\n",
		filepath.Join(web, "qemu.pid"):  "4000003\n",
		filepath.Join(db, "lima.yaml"):  "vmType: wsl2\n",
		filepath.Join(db, "ha.pid"):     "4000012\n",
	}
	for path, content := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			panic(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			panic(err)
		}
	}
	insts := []*stop.Instance{
		{Name: "web", Dir: web, VMType: "qemu"},
		{Name: "db", Dir: db, VMType: "wsl2"},
	}
	// The WSL2 distro of "db" stands in for wsl.exe.
	fake := new(wsltest.Fake).On("--terminate lima-db", wsltest.Response{})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	results, _ := stop.Shutdown{
		Stopper: stop.Orphan{Graceful: stop.Graceful{Processes: &table, WSL: fake, Timeout: 100 * time.Millisecond}},
		WSL:     fake,
	}.StopAll(ctx, insts)
	for i, res := range results {
		var serr *stop.Error
		if errors.As(res.Err, &serr) {
			fmt.Printf("%s: %s in phase %s (kill refused: %t)\n", insts[i].Name, res.Outcome, serr.Phase,
				errors.Is(res.Err, processtest.ErrKillRefused))
		} else {
			fmt.Printf("%s: %s\n", insts[i].Name, res.Outcome)
		}
	}
	last := results[1].Steps[len(results[1].Steps)-1]
	fmt.Printf("db: %s, error: %v\n", last.Action, last.Err)
	// Output:
	// web: stopped gracefully
	// db: not stopped in phase kill (kill refused: true)
	// db: terminate WSL2 distro lima-db (last resort), error: <nil>
}

// stuckDisks is a DiskUnlocker whose disks cannot be unlocked, so that the
// clean-up after a forced stop fails.
type stuckDisks struct{}

func (stuckDisks) Unlock(_ context.Context, _ *stop.Instance, disk string) error {
	return fmt.Errorf("disk %q: permission denied", disk)
}

// A failed stop returns a *stop.Error that names its phase. With a
// Result that says Stopped, the instance is down and only its clean-up
// failed: a disk lock or a stale file remains.
func ExampleError() {
	dir, err := os.MkdirTemp("", "default")
	if err != nil {
		panic(err)
	}
	defer func() { // entry by entry: os.RemoveAll fails under Wine
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
		_ = os.Remove(dir)
	}()
	var table processtest.Table
	table.Add(4000003, processtest.Behavior{
		CommandLine: []string{"qemu-system-x86_64", "-pidfile", filepath.Join(dir, "qemu.pid")},
	})
	table.Add(4000002, processtest.Behavior{
		CommandLine: []string{"limactl", "hostagent", "--pidfile", filepath.Join(dir, "ha.pid"), "default"},
	})
	for name, content := range map[string]string{"lima.yaml": "vmType: qemu\n", "ha.pid": "4000002\n", "qemu.pid": "4000003\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			panic(err)
		}
	}
	inst := &stop.Instance{Name: "default", Dir: dir, VMType: "qemu", AdditionalDisks: []string{"data"}}

	res, err := stop.Forcible{Processes: &table, Disks: stuckDisks{}}.Stop(context.Background(), inst)
	var serr *stop.Error
	switch {
	case err == nil:
		fmt.Println("stopped:", res.Outcome)
	case res.Stopped() && errors.As(err, &serr):
		fmt.Printf("%s, but the %s phase failed:\n%v\n", res.Outcome, serr.Phase, err)
	case errors.As(err, &serr):
		fmt.Printf("not stopped, %s phase: %v\n", serr.Phase, err)
	}
	// Output:
	// stopped forcibly, but the clean-up phase failed:
	// instance "default": forced stop: the instance is stopped, but its clean-up failed: disk "data": permission denied
}

// A caller that starts host agents its own way, with command lines that
// name no pid file, vouches for them with a Verifier. Without one such a
// process is neither proven the instance's nor a stranger, and nothing is
// signalled.
func ExampleVerifier() {
	dir, err := os.MkdirTemp("", "default")
	if err != nil {
		panic(err)
	}
	defer func() { // entry by entry: os.RemoveAll fails under Wine
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
		_ = os.Remove(dir)
	}()
	var table processtest.Table
	table.Add(4000002, processtest.Behavior{
		CommandLine: []string{"mydaemon-hostagent", "--instance=default"},
	})
	// vz: the VM runs inside the host agent, which writes vz.pid too.
	for name, content := range map[string]string{"lima.yaml": "vmType: vz\n", "ha.pid": "4000002\n", "vz.pid": "4000002\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			panic(err)
		}
	}
	inst := &stop.Instance{Name: "default", Dir: dir, VMType: "vz"}

	_, err = stop.Forcible{Processes: &table}.Stop(context.Background(), inst)
	fmt.Println("without a Verifier:", errors.Is(err, stop.ErrIdentityUnknown))

	verify := func(inst *stop.Instance, role stop.Role, p process.Process) stop.Identity {
		args, err := p.CommandLine() // p is pinned: its command line is a fact
		if err != nil || len(args) == 0 || args[0] != "mydaemon-hostagent" {
			return stop.IdentityUnknown // no opinion: the usual checks decide
		}
		if slices.Contains(args[1:], "--instance="+inst.Name) {
			return stop.Ours
		}
		return stop.NotOurs
	}
	res, err := stop.Forcible{Processes: &table, Verify: verify}.Stop(context.Background(), inst)
	fmt.Println("with a Verifier:", res.Outcome, err)
	// Output:
	// without a Verifier: true
	// with a Verifier: stopped forcibly <nil>
}
