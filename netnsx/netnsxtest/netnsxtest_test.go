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

	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
)

func TestIntegrationNewCleansUp(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		ns := New(t)
		name = ns.Name()
		require.Contains(t, iptest.Netns(t), name)
	})
	require.NotContains(t, iptest.Netns(t), name, "deleted when the test ended")
}

// TestIntegrationSweep: a fixture whose process has exited is removed; a live one, and
// a namespace that is not a fixture, are left alone.
func TestIntegrationSweep(t *testing.T) {
	RequirePrivileged(t)
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	dead := fmt.Sprintf("%s%d-%d-1", prefix, cmd.Process.Pid, 4242)
	live := fixtureName()
	other := "nstopo-sweep-" + Name(0)
	for _, n := range []string{dead, live, other} {
		ns, err := netnsx.New(n)
		require.NoError(t, err)
		require.NoError(t, ns.Close())
		t.Cleanup(func() { _ = netnsx.Delete(n) })
	}
	swept, err := Sweep()
	require.NoError(t, err)
	require.GreaterOrEqual(t, swept, 1)
	names := iptest.Netns(t)
	require.NotContains(t, names, dead)
	require.Contains(t, names, live)
	require.Contains(t, names, other)
	require.NotZero(t, startTime(os.Getpid()))
}

func TestIntegrationNewCleansUpClosedHandles(t *testing.T) {
	var closed, deleted string
	t.Run("inner", func(t *testing.T) {
		a, b := New(t), New(t)
		closed, deleted = a.Name(), b.Name()
		require.NoError(t, a.Close())
		require.NoError(t, netnsx.Delete(b.Name()))
		require.NoError(t, b.Close())
	})
	names := iptest.Netns(t)
	require.NotContains(t, names, closed, "a closed handle's namespace is still deleted")
	require.NotContains(t, names, deleted)
}

// TestHelperFixture is not a test: TestIntegrationSweepAfterSIGKILL runs the test
// binary on it in a child process that makes a fixture and waits to be killed.
func TestHelperFixture(t *testing.T) {
	if os.Getenv("NSTOPO_HELPER") != "fixture" {
		t.Skip("helper process only")
	}
	ns := New(t)
	fmt.Println("fixture", ns.Name())
	select {} // until SIGKILL: no cleanup will run
}

// TestIntegrationSweepAfterSIGKILL kills a test process that holds a fixture; the next
// sweep, from this process, removes what it left.
func TestIntegrationSweepAfterSIGKILL(t *testing.T) {
	RequirePrivileged(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFixture$", "-test.v")
	cmd.Env = append(os.Environ(), "NSTOPO_HELPER=fixture")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var name string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "fixture" {
			name = f[1]
			break
		}
	}
	require.NotEmpty(t, name, "the helper made no fixture")
	t.Cleanup(func() { _ = netnsx.Delete(name) })
	require.Contains(t, iptest.Netns(t), name)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.Contains(t, iptest.Netns(t), name, "SIGKILL left the fixture behind")

	swept, err := Sweep()
	require.NoError(t, err)
	require.GreaterOrEqual(t, swept, 1)
	require.NotContains(t, iptest.Netns(t), name, "the sweep removed it")
}
