//go:build linux

// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

// Command benchreport runs the benchmarks that compare this module with
// Lima v1.2.2 (package lima/internal/bench) and the process table's own
// exit detection benchmark, and writes their medians, ratios and targets,
// with the machine they ran on, to docs/benchmarks.md. Run it on Linux from
// anywhere in the repository; it runs the benchmarks from the repository's
// root, where go.work spans both modules:
//
//	go run ./lima/internal/cmd/benchreport
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	out := flag.String("o", "", "the report to write; empty: docs/benchmarks.md in the repository")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

// benchRun is one go test invocation.
type benchRun struct {
	pkg       string
	pattern   string
	benchtime string
	count     int // runs of each benchmark; 0 means 1
}

// forcedRuns is how many times each forced-stop benchmark runs: their
// ratio moves with how long the host takes to end Lima's processes, and
// one run would hide that.
const forcedRuns = 5

// benchRuns are the invocations, with iteration counts that keep the whole
// run to a few minutes on a two-core machine: each of Lima's graceful
// stops takes half a second or more, and BenchmarkWaitCPU waits two
// seconds per stop.
func benchRuns() []benchRun {
	return []benchRun{
		{pkg: "./lima/internal/bench/", pattern: "^Benchmark(Graceful|Orphan|ExitDetection)$", benchtime: "20x"},
		{pkg: "./lima/internal/bench/", pattern: "^Benchmark(Forcible|ForcibleBusyHost|BusyHostKeepDescendants)$", benchtime: "20x", count: forcedRuns},
		{pkg: "./lima/internal/bench/", pattern: "^BenchmarkScaling$", benchtime: "5x"},
		{pkg: "./lima/internal/bench/", pattern: "^BenchmarkWaitCPU$", benchtime: "5x"},
		{pkg: "./process/", pattern: "^BenchmarkExitDetection$", benchtime: "20x"},
		{pkg: "./process/", pattern: "^BenchmarkReapMemory$", benchtime: "5x"},
		{pkg: "./process/", pattern: "^BenchmarkReapAfterLook$", benchtime: "300x"},
	}
}

func (r benchRun) args() []string {
	args := []string{"test", "-run", "^$", "-bench", r.pattern, "-benchtime=" + r.benchtime}
	if r.count > 1 {
		args = append(args, fmt.Sprintf("-count=%d", r.count))
	}
	return append(args, "-benchmem", r.pkg)
}

// command renders r as a shell command line.
func (r benchRun) command() string {
	args := r.args()
	for i, a := range args {
		if strings.ContainsAny(a, "^$|()*? ") {
			args[i] = "'" + a + "'"
		}
	}
	return "go " + strings.Join(args, " ")
}

func run(out string) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if out == "" {
		out = filepath.Join(root, "docs", "benchmarks.md")
	}
	res := results{}
	var commands []string
	for _, r := range benchRuns() {
		commands = append(commands, r.command())
		fmt.Fprintln(os.Stderr, "$", r.command())
		var stdout bytes.Buffer
		cmd := exec.Command("go", r.args()...)
		cmd.Dir = root
		cmd.Stdout = io.MultiWriter(&stdout, os.Stderr)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", r.command(), err)
		}
		if err := res.parse(&stdout); err != nil {
			return fmt.Errorf("%s: %w", r.command(), err)
		}
	}
	m, err := thisMachine()
	if err != nil {
		return err
	}
	var doc bytes.Buffer
	if err := render(&doc, m, commands, res); err != nil {
		return err
	}
	return os.WriteFile(out, doc.Bytes(), 0o644)
}

// repoRoot returns the directory of the root module, which holds go.work:
// the paths of benchRuns are relative to it.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/limastop/stop").Output()
	if err != nil {
		return "", fmt.Errorf("failed to find the module github.com/limastop/stop: %w", err)
	}
	root := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
		return "", fmt.Errorf("the benchmarks span two modules and need the repository's go.work: %w", err)
	}
	return root, nil
}

// machine describes where the benchmarks ran.
type machine struct {
	cpu    string
	cores  int
	kernel string
	goVer  string
	date   string
}

func thisMachine() (machine, error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return machine{}, fmt.Errorf("uname: %w", err)
	}
	cpu, err := cpuModel()
	if err != nil {
		return machine{}, err
	}
	return machine{
		cpu:    cpu,
		cores:  runtime.NumCPU(),
		kernel: unix.ByteSliceToString(uts.Sysname[:]) + " " + unix.ByteSliceToString(uts.Release[:]) + " " + unix.ByteSliceToString(uts.Machine[:]),
		goVer:  runtime.Version(),
		date:   time.Now().UTC().Format("2006-01-02"),
	}, nil
}

// cpuModel returns the first model name in /proc/cpuinfo.
func cpuModel() (string, error) {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		key, value, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(value), nil
		}
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	return "unknown", nil
}
