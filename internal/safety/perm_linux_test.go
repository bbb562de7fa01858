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
	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/internal/privilege"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/userns"
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
	_, err := netnsx.New(os.Getenv("NSTOPO_NS"))
	report("new", err, "CAP_SYS_ADMIN")
	host, err := netnsx.Host() // the host is meant: the namespace this user may not change
	if err != nil {
		fmt.Printf("host err=%v\n", err)
		return
	}
	defer host.Close()
	_, err = bridge.Create(host, bridge.Config{Name: os.Getenv("NSTOPO_LINK")})
	report("bridge", err, "CAP_NET_ADMIN")
	// A table of its own, so that a test running as root by mistake changes nothing seen.
	err = host.ReplaceRoute(netnsx.Route{Dst: netip.MustParsePrefix("192.0.2.0/24"), Dev: "lo", Table: 4242})
	report("replace-route", err, "CAP_NET_ADMIN")
	if lo, lerr := host.Link("lo"); lerr == nil {
		report("rename", lo.SetName(os.Getenv("NSTOPO_LINK")), "CAP_NET_ADMIN")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = host.Ping(ctx, netip.MustParseAddr("127.0.0.1"))
	report("ping", err, "CAP_NET_RAW")
}

// TestIntegrationPermissionErrors runs the calls as nobody: each fails with
// ErrPermission, keeps EPERM and names the capability it lacks.
func TestIntegrationPermissionErrors(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	if !privilege.InitialUserNS() {
		t.Skip("runs a child as uid 65534, which a user namespace of one mapped uid does not have")
	}
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
	nsName, link := "nstopo-unprivileged-"+netnsxtest.Name(0), netnsxtest.Name(15)
	cmd.Env = append(os.Environ(), "NSTOPO_HELPER=unprivileged", userns.Off+"=1", "NSTOPO_NS="+nsName, "NSTOPO_LINK="+link)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, what := range []string{"new", "bridge", "ping", "replace-route", "rename"} {
		require.Contains(t, string(out), what+" ok=true", "%s", out)
	}
	require.NotContains(t, iptest.Netns(t), nsName)
	var host []struct {
		Ifname string `json:"ifname"`
	}
	iptest.Run(t, &host, "ip", "-j", "link", "show")
	for _, l := range host {
		require.NotEqual(t, link, l.Ifname)
	}
}
