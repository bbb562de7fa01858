package iptest

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Example builds the main package in the current directory (an example's test runs
// there) and returns a command that runs it with args. It skips the test when the go
// command is not at hand.
func Example(tb testing.TB, args ...string) *exec.Cmd {
	tb.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		tb.Skip("no go command to build the example with:", err)
	}
	bin := filepath.Join(tb.TempDir(), "example")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return exec.Command(bin, args...)
}

// Output runs cmd and returns its stdout, its stderr and its exit code.
func Output(tb testing.TB, cmd *exec.Cmd) (stdout, stderr string, code int) {
	tb.Helper()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	var ee *exec.ExitError
	if err := cmd.Run(); err != nil && !errors.As(err, &ee) {
		tb.Fatalf("%s: %v", strings.Join(cmd.Args, " "), err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}
