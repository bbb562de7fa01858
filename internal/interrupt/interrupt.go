// Package interrupt keeps the examples' teardown from being skipped: a write to a
// closed pipe (output piped into head) fails instead of killing the process, and the
// first Ctrl-C or SIGTERM lets the run finish and tear its topology down; a second one
// quits at once.
package interrupt

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Defer installs the handling; call it first thing in main.
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
