package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"syscall"

	"github.com/nstopo/nstopo/netnsx"
)

// exitNotFound is a shell's status for a command that is not there.
const exitNotFound = 127

func runExec(_ context.Context, args []string) (int, error) {
	fs := newFlagSet("exec", "[-f FILE [-prefix P]] NODE [--] CMD [ARG...]")
	var lf labFlags
	lf.register(fs)
	file := fs.String("f", "", "resolve NODE as a node of the lab `FILE` (its prefix applied); without it NODE is a namespace name")
	// Flags come only before NODE: what follows belongs to CMD.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, err
		}
		return 0, usageError{err}
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return 0, usagef("want NODE and a command%s", seeHelp(fs))
	}
	node, argv := rest[0], rest[1:]
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return 0, usagef("want a command to run in %s%s", node, seeHelp(fs))
	}
	if lf.prefix != "" && *file == "" {
		return 0, usagef("-prefix goes with -f FILE")
	}
	name := node
	if *file != "" {
		s, err := lf.load(*file)
		if err != nil {
			return 0, err
		}
		if _, ok := s.Topology.Nodes[node]; !ok {
			var nodes []string
			for n := range s.Topology.Nodes {
				nodes = append(nodes, n)
			}
			sort.Strings(nodes)
			return 0, usagef("%s has no node %q (it has %s)", *file, node, list(nodes))
		}
		name = s.Prefix + node
	}
	if err := needPrivilege("exec"); err != nil {
		return 0, err
	}
	ns, err := netnsx.Open(name)
	if errors.Is(err, netnsx.ErrNotFound) && *file != "" {
		return 0, fmt.Errorf("%w\nis the lab up? (%s)", err, lf.again("up", *file))
	}
	if err != nil {
		return 0, err
	}
	defer ns.Close()
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "nstopo exec: %v\n", err)
		return exitNotFound, nil
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Signals sent to nstopo go on to the command, which decides; the terminal's
	// Ctrl-C reaches both, as the process group's.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := ns.Start(cmd); err != nil {
		return 0, err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				_ = cmd.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 0, err
	}
	return exitStatus(cmd.ProcessState), nil
}

// exitStatus is the command's exit status, or 128+N when signal N ended it, as a
// shell reports it.
func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
