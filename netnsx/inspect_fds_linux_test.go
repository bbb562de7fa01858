package netnsx_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/veth"
)

// Inspect with no arguments reads every named namespace. A machine with 10,000 of them
// must not need 10,000 descriptors at once: a child process limited to a few more than
// it has open reads 40 leaves joined to a lab, and still names every veth's peer.
func TestIntegrationInspectAllFewDescriptors(t *testing.T) {
	lab := netnsxtest.New(t, "fdlab")
	for i := 0; i < 40; i++ {
		leaf := netnsxtest.New(t, "fdleaf")
		_, err := veth.Create(veth.Config{
			A: veth.End{NS: lab, Name: fmt.Sprintf("v%d", i)},
			B: veth.End{NS: leaf, Name: "eth0"},
		})
		require.NoError(t, err)
		require.NoError(t, leaf.Close()) // the name stays; the parent's descriptors go
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperInspectFewDescriptors$", "-test.v")
	cmd.Env = append(os.Environ(), "NSTOPO_HELPER_INSPECT_LAB="+lab.Name())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "peers named: 40")
}

func TestHelperInspectFewDescriptors(t *testing.T) {
	lab := os.Getenv("NSTOPO_HELPER_INSPECT_LAB")
	if lab == "" {
		t.Skip("runs only as the child of TestIntegrationInspectAllFewDescriptors")
	}
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	lim.Cur = uint64(len(fds) + 16) // two a handle: 40 leaves open at once would need 80
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	snap, err := netnsx.Inspect()
	require.NoError(t, err)
	named := 0
	for _, ni := range snap.Namespaces {
		if ni.Name != lab {
			continue
		}
		for _, l := range ni.Links {
			if l.Peer != nil && strings.HasPrefix(l.Name, "v") {
				require.Equal(t, "eth0", l.Peer.Name, l.Name)
				require.NotEqual(t, lab, l.Peer.Namespace)
				named++
			}
		}
	}
	fmt.Printf("peers named: %d\n", named)
}
