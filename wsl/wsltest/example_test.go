// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package wsltest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/limastop/stop/wsl"
	"github.com/limastop/stop/wsl/wsltest"
)

// A Fake answers each call with the next response scripted for its
// arguments; the last one repeats. Hang models a wedged wsl.exe, which the
// context cuts short.
func ExampleFake() {
	fake := new(wsltest.Fake).
		On("--terminate lima-default", wsltest.Response{ExitCode: 1}, wsltest.Response{}).
		On("--shutdown", wsltest.Response{Hang: true})

	ctx := context.Background()
	_, err := fake.Run(ctx, "--terminate", "lima-default")
	var werr *wsl.Error
	if errors.As(err, &werr) {
		fmt.Println("exit code", werr.ExitCode)
	}
	_, err = fake.Run(ctx, "--terminate", "lima-default")
	fmt.Println(err)

	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, err = fake.Run(short, "--shutdown")
	fmt.Println(errors.Is(err, context.DeadlineExceeded))

	fmt.Println(len(fake.Calls()), "calls")
	// Output:
	// exit code 1
	// <nil>
	// true
	// 3 calls
}

// ListOutput writes what wsl.exe --list --verbose prints, for a Response;
// UTF16 encodes it as wsl.exe does.
func ExampleListOutput() {
	out := wsltest.ListOutput(
		wsl.Distro{Name: "Ubuntu", State: wsl.Running, Version: 2, Default: true},
		wsl.Distro{Name: "lima-default", State: wsl.Stopped, Version: 2},
	)
	fmt.Print(strings.ReplaceAll(out, "\r\n", "\n")) // wsl.exe ends its lines in CRLF
	fmt.Println(wsl.Decode(wsltest.UTF16(out)) == out)
	// Output:
	//   NAME            STATE           VERSION
	// * Ubuntu          Running         2
	//   lima-default    Stopped         2
	// true
}
