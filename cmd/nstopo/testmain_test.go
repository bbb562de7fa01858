package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// asCommand makes the test binary run the command instead of the tests, so that the
// tests run nstopo as a user does: a process of its own, its exit status, its signals.
const asCommand = "NSTOPO_TEST_AS_COMMAND"

// TestMain runs the tests as any user (see netnsxtest.Main), and the command when the
// tests start this binary as nstopo.
func TestMain(m *testing.M) {
	if os.Getenv(asCommand) == "1" {
		asCommandHooks()
		os.Exit(run(os.Args[1:]))
	}
	netnsxtest.Main(m)
}

// result is what a run of nstopo gave.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

// stallEnv, set to PHASE:N, makes up stop when N steps of PHASE are done, say
// "stalled" on stderr and wait there for SIGINT (or SIGKILL), so that a test
// interrupts up mid-way at a step it chooses, however fast or slow the machine is.
const stallEnv = "NSTOPO_TEST_STALL_AT"

func asCommandHooks() {
	phase, n, ok := strings.Cut(os.Getenv(stallEnv), ":")
	if !ok {
		return
	}
	at, _ := strconv.Atoi(n)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt) // beside the command's own: each gets the signal
	var once sync.Once
	progressHook = func(e lab.Event) {
		if e.Phase == phase && e.Done == at {
			once.Do(func() {
				fmt.Fprintf(os.Stderr, "nstopo test: stalled at %s %d/%d\n", e.Phase, e.Done, e.Total)
				<-sig
			})
		}
	}
}

// nstopo returns a command that runs nstopo with args, its lab state kept in state.
func nstopo(state string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asCommand+"=1", stateEnv+"="+state)
	return cmd
}

// output runs cmd (stdin: in) and returns what it gave.
func output(t *testing.T, cmd *exec.Cmd, in string) result {
	t.Helper()
	var o, e bytes.Buffer
	cmd.Stdin = strings.NewReader(in)
	cmd.Stdout, cmd.Stderr = &o, &e
	var ee *exec.ExitError
	if err := cmd.Run(); err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v", strings.Join(cmd.Args, " "), err)
	}
	return result{o.String(), e.String(), cmd.ProcessState.ExitCode()}
}

// writeFile writes a lab file for the test and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// articleLocal is the article's local bridge topology, shipped with the repository.
const articleLocal = "../../examples/labs/article-local.yaml"
