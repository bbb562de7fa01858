package netnsxtest

import (
	"fmt"
	"os"
	"os/exec"
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
