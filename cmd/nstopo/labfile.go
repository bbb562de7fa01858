package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/nstopo/nstopo/internal/privilege"
	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/netnsx"
)

// stateEnv names the directory where up records each lab it makes; "":
// lab.DefaultStateDir. Tests point it at a directory of their own.
const stateEnv = "NSTOPO_STATE_DIR"

// labFlags are the flags of every command that reads a lab file.
type labFlags struct {
	prefix string
}

func (f *labFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.prefix, "prefix", "", "name the namespaces `P`+node instead of the file's prefix+node, and record the lab apart from the file's own")
}

// load reads the lab file at path and validates it: every problem is a usage error
// (exit status 2), and all of them are reported at once.
func (f *labFlags) load(path string) (*lab.Spec, error) {
	s, err := lab.Load(path)
	if err != nil {
		return nil, usageError{err}
	}
	if f.prefix != "" {
		s.Prefix = f.prefix
	}
	if err := s.Validate(); err != nil {
		return nil, usageError{fmt.Errorf("%s:\n%w", path, err)}
	}
	return s, nil
}

// kernelCommands are those that need the capabilities over network namespaces.
var kernelCommands = map[string]bool{"up": true, "down": true, "ping": true, "exec": true, "inspect": true}

// fileCommand parses the flags of a command that takes one lab file (register adds the
// command's own flags) and reads the file; for a command that touches the kernel it
// then checks the privilege, so that a mistake in the file is told first.
func fileCommand(name, synopsis string, args []string, register func(*flag.FlagSet)) (*labFlags, string, *lab.Spec, error) {
	fs := newFlagSet(name, synopsis)
	lf := &labFlags{}
	lf.register(fs)
	if register != nil {
		register(fs)
	}
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return nil, "", nil, err
	}
	s, err := lf.load(pos[0])
	if err != nil {
		return nil, "", nil, err
	}
	if kernelCommands[name] {
		if err := needPrivilege(name); err != nil {
			return nil, "", nil, err
		}
	}
	return lf, pos[0], s, nil
}

// options are the lab's Options: its state directory, apart for an overridden prefix
// (the state file is named after the lab, which the prefix does not change).
func (f *labFlags) options() *lab.Options {
	dir := os.Getenv(stateEnv)
	if dir == "" {
		dir = lab.DefaultStateDir
	}
	if f.prefix != "" {
		dir = filepath.Join(dir, "prefix-"+f.prefix)
	}
	return &lab.Options{StateDir: dir}
}

// again is the command line that repeats cmd on the same lab: for messages.
func (f *labFlags) again(cmd, path string) string {
	s := "nstopo " + cmd
	if f.prefix != "" {
		s += " -prefix " + f.prefix
	}
	return s + " " + path
}

// needPrivilege refuses, before anything is read from the kernel, a command that cannot
// work without the capabilities over network namespaces.
func needPrivilege(cmd string) error {
	if privilege.Has() {
		return nil
	}
	return fmt.Errorf("%s needs CAP_SYS_ADMIN and CAP_NET_ADMIN: run it as root (sudo nstopo %s ...); "+
		"nstopo does not fall back to a user namespace of its own, where a lab would vanish when nstopo ends: %w",
		cmd, cmd, netnsx.ErrPermission)
}

// present returns those of s's namespace names that exist now.
func present(s *lab.Spec) ([]string, error) {
	names, err := netnsx.List()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range s.Namespaces() {
		if slices.Contains(names, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// list shows names for a message, only the first few of a long list.
func list(names []string) string {
	const most = 8
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:most], ", "), len(names)-most)
}

// interruptible returns a context that the first SIGINT or SIGTERM cancels, after saying
// what happens now (then); a second one ends the process at once with exit status 130.
// stop ends the watch.
func interruptible(ctx context.Context, then string) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
		case <-done:
			return
		}
		fmt.Fprintf(os.Stderr, "\nnstopo: interrupted: %s (again to quit now)\n", then)
		cancel()
		select {
		case <-ch:
			fmt.Fprintln(os.Stderr, "nstopo: interrupted again: quitting now")
			os.Exit(exitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}

// flatten lists the problems of a joined list of *lab.FieldError one by one, looking
// through the wrapping around the join ("lab: validate x: 3 problems:\n%w"); any other
// error, one that wraps two errors with %w (the cause and its sentinel) included, is
// one problem.
func flatten(err error) []error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if j, ok := e.(interface{ Unwrap() []error }); ok && fieldErrors(j.Unwrap()) {
			var out []error
			for _, e := range j.Unwrap() {
				out = append(out, flatten(e)...)
			}
			return out
		}
	}
	return []error{err}
}

// fieldErrors reports whether every one of errs is a *lab.FieldError.
func fieldErrors(errs []error) bool {
	for _, e := range errs {
		if _, ok := e.(*lab.FieldError); !ok {
			return false
		}
	}
	return len(errs) > 0
}
