package safety_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// TestHelperUnprivileged is not a test: TestIntegrationPermissionErrors runs the test
// binary on it as an unprivileged user.
func TestHelperUnprivileged(t *testing.T) {
	if os.Getenv("NSTOPO_HELPER") != "unprivileged" {
		t.Skip("helper process only")
	}
	report := func(what string, err error, capability string) {
		ok := errors.Is(err, netnsx.ErrPermission) && errors.Is(err, unix.EPERM) && strings.Contains(err.Error(), capability)
		fmt.Printf("%s ok=%v err=%v\n", what, ok, err)
	}
	_, err := netnsx.New("nstopo-unprivileged")
	report("new", err, "CAP_SYS_ADMIN")
	_, err = bridge.Create(nil, bridge.Config{Name: "ntperm0"})
	report("bridge", err, "CAP_NET_ADMIN")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = (*netnsx.NS)(nil).Ping(ctx, netip.MustParseAddr("127.0.0.1"))
	report("ping", err, "CAP_NET_RAW")
}

// TestIntegrationPermissionErrors runs the calls as nobody: each fails with
// ErrPermission, keeps EPERM and names the capability it lacks.
func TestIntegrationPermissionErrors(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	dir, err := os.MkdirTemp("", "nstopo-perm-")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	require.NoError(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "safety.test")
	src, err := os.Open(os.Args[0])
	require.NoError(t, err)
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	src.Close()
	require.NoError(t, dst.Close())
	require.NoError(t, err)

	cmd := exec.Command(bin, "-test.run=^TestHelperUnprivileged$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NSTOPO_HELPER=unprivileged")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, what := range []string{"new", "bridge", "ping"} {
		require.Contains(t, string(out), what+" ok=true", "%s", out)
	}
	require.NotContains(t, iptest_netns(t), "nstopo-unprivileged")
}

func iptest_netns(t *testing.T) string {
	out, err := exec.Command("ip", "netns", "list").Output()
	require.NoError(t, err)
	return string(out)
}
