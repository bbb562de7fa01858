// Package cli holds what the repository's own commands (nstopo-overlay's demo) share:
// teardown that survives a closed output pipe and a first Ctrl-C. The examples do not
// use it: each carries its few lines inline, so that it can be copied out.
package cli

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Defer keeps teardown from being skipped: a write to a closed pipe (output piped into
// head) fails instead of killing the process, and the first Ctrl-C or SIGTERM lets the
// run finish and tear its topology down; a second one quits at once. Call it first
// thing in main.
func Defer() {
	signal.Ignore(syscall.SIGPIPE)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ch
		fmt.Fprintln(os.Stderr, "interrupted: finishing and tearing down (again to quit now, leaving it behind)")
		<-ch
		os.Exit(130)
	}()
}
