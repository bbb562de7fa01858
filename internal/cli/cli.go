// Package cli holds what the example commands share: teardown that survives a closed
// output pipe and a first Ctrl-C, and printing a topology as a picture.
package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/nstopo/nstopo/netnsx"
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

// Draw prints the namespaces as a picture: format "dot" (Graphviz) or "mermaid".
func Draw(w io.Writer, format string, nss ...*netnsx.NS) error {
	if format != "dot" && format != "mermaid" {
		return fmt.Errorf(`-draw must be "dot" or "mermaid", not %q`, format)
	}
	snap, err := netnsx.Inspect(nss...)
	if err != nil {
		return err
	}
	if format == "dot" {
		_, err = fmt.Fprint(w, snap.DOT())
	} else {
		_, err = fmt.Fprint(w, snap.Mermaid())
	}
	return err
}
