package netnsx_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// As `unshare -Urn` leaves it: every capability, but in a user namespace that does not
// own the mount of /run/netns. The error must name that, not the capabilities the
// process visibly has.
func TestIntegrationUserNSWithoutItsOwnRunDir(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNewInUserNS$", "-test.v")
	cmd.Env = append(os.Environ(), "NSTOPO_HELPER_NEW=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	if err != nil && len(out) == 0 {
		t.Skipf("cannot start a process in a new user namespace here: %v", err)
	}
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "permission=true")
	require.Contains(t, string(out), "only in a user namespace that does not own the mount")
	require.Contains(t, string(out), "userns.Enter")
}

func TestHelperNewInUserNS(t *testing.T) {
	if os.Getenv("NSTOPO_HELPER_NEW") != "1" {
		t.Skip("runs only as the child of TestIntegrationUserNSWithoutItsOwnRunDir")
	}
	ns, err := netnsx.New("nstopo-userns-" + netnsxtest.Name(0))
	if err == nil {
		ns.Delete()
		t.Fatal("New succeeded in a user namespace that does not own /run/netns")
	}
	fmt.Printf("permission=%v err=%v\n", errors.Is(err, netnsx.ErrPermission), err)
}
