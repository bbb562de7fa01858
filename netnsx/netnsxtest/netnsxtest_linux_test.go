package netnsxtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

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

// TestIntegrationSweep: a fixture whose lock nobody holds is removed; one whose lock is
// held, a name of the old PID form and a namespace that is not a fixture are left alone.
// Only these names are looked at: other processes sweep at the same time.
func TestIntegrationSweep(t *testing.T) {
	RequirePrivileged(t)
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	foreign := func(n string) string { return prefix + newToken() + "-" + n } // another process's
	dead, live, old, other := foreign("1"), foreign("2-server"), prefix+"1-4242-1", "nstopo-sweep-"+Name(0)
	old = strings.Replace(old, "1", strconv.Itoa(cmd.Process.Pid), 1) // a PID that has exited
	for _, n := range []string{dead, live, old, other} {
		ns, err := netnsx.New(n)
		require.NoError(t, err)
		require.NoError(t, ns.Close())
		t.Cleanup(func() { _ = netnsx.Delete(n) })
	}
	// Until it is locked, live is a dead fixture to another process's sweep: make it
	// again if one removed it meanwhile.
	lock, err := lockFixture(filepath.Join(runDir, live))
	for try := 0; err != nil && try < 3; try++ {
		var ns *netnsx.NS
		if ns, err = netnsx.New(live); err == nil {
			_ = ns.Close()
			lock, err = lockFixture(filepath.Join(runDir, live))
		}
	}
	require.NoError(t, err)
	defer lock.Close()

	_, err = Sweep()
	require.NoError(t, err)
	names := iptest.Netns(t)
	require.NotContains(t, names, dead, "nobody held its lock")
	require.Contains(t, names, live, "its lock is held")
	require.Contains(t, names, old, "old names are not judged by their PID any more")
	require.Contains(t, names, other, "not a fixture")
}

// TestIntegrationLockRace: a sweep that takes a fresh fixture's lock first, or deletes
// it before New locks it, makes New start again with another name.
func TestIntegrationLockRace(t *testing.T) {
	RequirePrivileged(t)
	name := fixtureName("race")
	ns, err := netnsx.New(name)
	require.NoError(t, err)
	t.Cleanup(func() { _ = netnsx.Delete(name); _ = ns.Close() })
	path := filepath.Join(runDir, name)
	sweeper, err := os.Open(path)
	require.NoError(t, err)
	require.NoError(t, unix.Flock(int(sweeper.Fd()), unix.LOCK_EX|unix.LOCK_NB))
	_, err = lockFixture(path)
	require.ErrorIs(t, err, errSwept, "the sweep holds the lock")
	require.NoError(t, netnsx.Delete(name))
	require.NoError(t, sweeper.Close())
	_, err = lockFixture(path)
	require.ErrorIs(t, err, errSwept, "the sweep deleted it")
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

// TestIntegrationNewLabel: the label ends the name, made safe.
func TestIntegrationNewLabel(t *testing.T) {
	ns := New(t, "client/1 ü")
	require.True(t, strings.HasSuffix(ns.Name(), "-client_1___"), ns.Name())
	tok, ok := fixtureToken(ns.Name())
	require.True(t, ok)
	require.Equal(t, token, tok)
	require.Contains(t, iptest.Netns(t), ns.Name())
}

// TestNewRefusesTwoLabels: New fails the test it is given (a recorder here).
func TestNewRefusesTwoLabels(t *testing.T) {
	r := record(t, func(tb testing.TB) { New(tb, "a", "b") })
	require.True(t, r.failed)
	require.Contains(t, r.String(), `New takes at most one label, got ["a" "b"]`)
}
