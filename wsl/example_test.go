// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package wsl_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/limastop/stop/wsl"
	"github.com/limastop/stop/wsl/wsltest"
)

// Terminate judges a failed wsl.exe --terminate by the distro's state
// afterwards, never by its translated message: a distro that is Stopped is
// success. A scripted wsltest.Fake stands in for wsl.exe here; real code
// passes wsl.Exec{}.
func ExampleTerminate() {
	fake := new(wsltest.Fake).
		On("--terminate lima-default", wsltest.Response{ExitCode: 1, Stdout: "Der Vorgang wurde abgebrochen."}).
		On("--list --verbose", wsltest.Response{Raw: wsltest.UTF16(wsltest.ListOutput(
			wsl.Distro{Name: "Ubuntu", State: wsl.Running, Version: 2, Default: true},
			wsl.Distro{Name: "lima-default", State: wsl.Stopped, Version: 2},
		))})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := wsl.Terminate(ctx, fake, wsl.DistroName("default"))
	fmt.Println(err)
	for _, args := range fake.Calls() {
		fmt.Println("wsl.exe", strings.Join(args, " "))
	}
	// Output:
	// <nil>
	// wsl.exe --terminate lima-default
	// wsl.exe --list --verbose
}

// DistroState reads wsl.exe --list --verbose, whose output is UTF-16LE, and
// reports NotFound for a distro that is not registered.
func ExampleDistroState() {
	fake := new(wsltest.Fake).On("--list --verbose", wsltest.Response{Raw: wsltest.UTF16(wsltest.ListOutput(
		wsl.Distro{Name: "Ubuntu", State: wsl.Stopped, Version: 2, Default: true},
		wsl.Distro{Name: "lima-default", State: wsl.Running, Version: 2},
	))})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range []string{"default", "other"} {
		state, err := wsl.DistroState(ctx, fake, wsl.DistroName(name))
		fmt.Println(wsl.DistroName(name), state, err)
	}
	// Output:
	// lima-default Running <nil>
	// lima-other NotFound <nil>
}
