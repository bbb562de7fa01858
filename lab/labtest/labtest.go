// Package labtest builds a lab for the lifetime of a test, as netnsxtest.New makes one
// namespace: rootless under netnsxtest.Main, under a Prefix of its own so that parallel
// tests and test binaries never clash, and removed when the test ends.
//
// It is a package of its own, not a function of netnsxtest, because package lab's own
// tests use netnsxtest: netnsxtest importing lab would be an import cycle.
package labtest

import (
	"context"
	"testing"
	"time"

	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// New builds a copy of s under a fresh Prefix (netnsxtest.Name(0) and "-", which no
// other test's namespaces start with) with its state file in a directory of the test's
// own, and closes the lab when the test and its subtests end, deleting everything it
// made. s's own Prefix is replaced. It skips the test when namespaces cannot be made
// and fails it when Build fails.
func New(tb testing.TB, s *lab.Spec) *lab.Lab {
	tb.Helper()
	netnsxtest.RequirePrivileged(tb)
	c := *s
	c.Prefix = netnsxtest.Name(0) + "-"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l, err := lab.Build(ctx, &c, &lab.Options{StateDir: tb.TempDir()})
	if err != nil {
		tb.Fatalf("labtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Errorf("labtest: %v", err)
		}
	})
	return l
}
