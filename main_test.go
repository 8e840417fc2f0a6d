// SPDX-FileCopyrightText: Copyright The limastop Authors
// SPDX-License-Identifier: Apache-2.0

package stop_test

import (
	"os"
	"testing"

	"github.com/limastop/stop/internal/siminst"
)

// TestMain lets the test binary double as the simulated instance's host
// agent and driver.
func TestMain(m *testing.M) {
	siminst.RunIfChild()
	os.Exit(m.Run())
}
