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

	"github.com/nstopo/nstopo/internal/check"
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
	lock, err := lockFixture(filepath.Join(runDir, live))
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

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"client":                 "client",
		"TestX/case_1":           "TestX_case_1",
		"a b\tc\n":               "a_b_c_",
		"../..":                  ".._..",
		"v1.2-rc_3":              "v1.2-rc_3",
		"é":                      "__",
		strings.Repeat("x", 40):  strings.Repeat("x", labelMax),
		"a\x00b":                 "a_b",
		"x:y,z;%$":               "x_y_z___",
		strings.Repeat("/", 100): strings.Repeat("_", labelMax),
	} {
		got := sanitize(in)
		require.Equal(t, want, got, "sanitize(%q)", in)
		if got != "" {
			require.NoError(t, check.NSName(fixtureName(in)))
		}
	}
}

func TestFixtureToken(t *testing.T) {
	tok := "a0123456789abcde"
	for name, want := range map[string]bool{
		prefix + tok + "-1":              true,
		prefix + tok + "-12-client":      true,
		prefix + tok + "-12-a-b":         true,
		prefix + tok + "-":               false,
		prefix + tok + "-x":              false,
		prefix + tok + "1-1":             false, // 17 digits
		prefix + "A0123456789ABCDE-1":    false, // upper case is not ours
		prefix + tok[:15] + "-1":         false,
		prefix + "1234-48240-2":          false, // the old form
		prefix + "1234-48240-2-x":        false,
		"nstopo-" + tok + "-1":           false,
		strings.TrimSuffix(prefix, "-"):  false,
		prefix + tok + "-1" + "\n":       false,
		prefix + tok + "-1" + "-" + "\n": true, // the label is not checked here
	} {
		got, ok := fixtureToken(name)
		require.Equal(t, want, ok, "%q", name)
		if ok {
			require.Equal(t, tok, got)
		}
	}
}

// TestName: names are unambiguous. The old "nt<pid hex><counter hex>" made pid 0x1a with
// counter 0xb1 and pid 0x1ab with counter 0x1 the same name, and grew by a byte as the
// counter did.
func TestName(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range []int{0, 12, 15, 23, 24, 100} {
		want := n
		if n == 0 || n > 24 {
			want = 24
		}
		for i := 0; i < 300; i++ {
			s := Name(n)
			require.Len(t, s, want, "Name(%d) = %q", n, s)
			require.True(t, strings.HasPrefix(s, "nt"+token[tokenLen-(want-8):]), "Name(%d) = %q", n, s)
			require.False(t, seen[s], "Name(%d) = %q twice", n, s)
			seen[s] = true
			require.NoError(t, check.IfName("name", Name(15)))
		}
	}
	require.Panics(t, func() { Name(11) })
	require.Regexp(t, "^[a-f][0-9a-f]{15}$", newToken())
}

// TestNewRefusesTwoLabels: New fails the test it is given (a recorder here).
func TestNewRefusesTwoLabels(t *testing.T) {
	r := record(t, func(tb testing.TB) { New(tb, "a", "b") })
	require.True(t, r.failed)
	require.Contains(t, r.String(), `New takes at most one label, got ["a" "b"]`)
}
