package netnsxtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
)

// TestHelperFixture is not a test: the sweep tests run the test binary on it in a child
// process that makes a fixture, prints its name and waits to be killed.
func TestHelperFixture(t *testing.T) {
	switch os.Getenv("NSTOPO_HELPER") {
	case "fixture":
	case "fixture-mount-proc":
		// As `unshare -pf --mount-proc` does: /proc shows this PID namespace only. /proc
		// is made private first so that the new mount stays in this mount namespace.
		require.NoError(t, unix.Mount("", "/proc", "", unix.MS_PRIVATE, ""))
		require.NoError(t, unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""))
	default:
		t.Skip("helper process only")
	}
	ns := New(t)
	fmt.Println("fixture", ns.Name(), os.Getpid())
	select {} // until SIGKILL: no cleanup will run
}

// fixtureChild runs TestHelperFixture in a child process cloned with flags and returns
// the child and the name of the fixture it holds. The child is killed at cleanup.
func fixtureChild(t *testing.T, mode string, flags uintptr) (*exec.Cmd, string) {
	RequirePrivileged(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFixture$", "-test.v")
	cmd.Env = append(os.Environ(), "NSTOPO_HELPER="+mode)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var name string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "fixture" {
			name = f[1]
			t.Logf("child %d (pid %s to itself) holds %s", cmd.Process.Pid, f[2], name)
			break
		}
	}
	require.NotEmpty(t, name, "the helper made no fixture")
	t.Cleanup(func() { _ = netnsx.Delete(name) })
	return cmd, name
}

// sweptAfterKill: while the child lives, Sweep leaves its fixture; once it is killed,
// the next Sweep removes it.
func sweptAfterKill(t *testing.T, cmd *exec.Cmd, name string) {
	_, err := Sweep()
	require.NoError(t, err)
	require.Contains(t, iptest.Netns(t), name, "Sweep removed the fixture of a live process")

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	// Not asserted: that the fixture is still there now. The first New of any other test
	// binary running beside this one sweeps too, and may be the one that removes it.
	_, err = Sweep()
	require.NoError(t, err)
	require.NotContains(t, iptest.Netns(t), name, "Sweep left the fixture of a dead process")
}

// TestIntegrationSweepAfterSIGKILL kills a test process that holds a fixture; the next
// sweep, from this process, removes what it left.
func TestIntegrationSweepAfterSIGKILL(t *testing.T) {
	cmd, name := fixtureChild(t, "fixture", 0)
	sweptAfterKill(t, cmd, name)
}

// TestIntegrationSweepOtherPIDNamespace: the fixture's owner runs in a PID namespace of
// its own (a container), where its PID means nothing to this process.
func TestIntegrationSweepOtherPIDNamespace(t *testing.T) {
	cmd, name := fixtureChild(t, "fixture", unix.CLONE_NEWPID)
	sweptAfterKill(t, cmd, name)
}

// TestIntegrationSweepMountProc: the owner runs as under `unshare -pf --mount-proc`, so
// even the start time it reads of itself is from its own /proc. A PID rule, in this
// process, takes it for dead.
func TestIntegrationSweepMountProc(t *testing.T) {
	cmd, name := fixtureChild(t, "fixture-mount-proc", unix.CLONE_NEWPID|unix.CLONE_NEWNS)
	sweptAfterKill(t, cmd, name)
}
