package userns_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/internal/privilege"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/userns"
)

// TestHelperEnter is not a test: TestIntegrationEnterAsNobody runs the test binary on
// it as uid 65534, whose TestMain has entered a user namespace by then.
func TestHelperEnter(t *testing.T) {
	switch os.Getenv("NSTOPO_HELPER_ENTER") {
	case "":
		t.Skip("helper process only")
	case "sleep":
		fmt.Println("sleeping")
		time.Sleep(time.Minute)
		return
	}
	ns, err := netnsx.New("nstopo-enter")
	if err == nil {
		err = ns.Delete()
	}
	fmt.Printf("uid=%d inside=%v privileged=%v new=%v lo=%v\n", os.Getuid(), userns.Inside(), userns.Privileged(), err, loopback())
	os.Exit(3) // the parent must exit with it
}

// loopback dials a listener on 127.0.0.1 in the namespace the process runs in: Enter's
// new one, whose lo must be up as a new named namespace's is.
func loopback() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// nobodyBinary copies the test binary where uid 65534 can run it.
func nobodyBinary(t *testing.T) string {
	if os.Getuid() != 0 || !privilege.InitialUserNS() {
		t.Skip("runs the test binary as uid 65534, which needs root in the initial user namespace")
	}
	dir, err := os.MkdirTemp("", "nstopo-userns-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "userns.test")
	src, err := os.Open(os.Args[0])
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
	return bin
}

func asNobody(bin, mode string) *exec.Cmd {
	cmd := exec.Command(bin, "-test.run=^TestHelperEnter$", "-test.v")
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = append(os.Environ(), "NSTOPO_HELPER_ENTER="+mode)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return cmd
}

// As nobody, Enter carries the program into a user namespace where it may make network
// namespaces, and the program's exit status comes back through the parent.
func TestIntegrationEnterAsNobody(t *testing.T) {
	bin := nobodyBinary(t)
	out, err := asNobody(bin, "run").CombinedOutput()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v: %s", err, out)
	require.Equal(t, 3, ee.ExitCode(), "%s", out)
	require.Contains(t, string(out), "uid=0 inside=true privileged=true new=<nil> lo=<nil>", "%s", out)
}

// A signal to the parent reaches the child, and the parent dies of it as the child did.
func TestIntegrationEnterForwardsSignals(t *testing.T) {
	bin := nobodyBinary(t)
	cmd := asNobody(bin, "sleep")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "sleeping" {
	}
	require.Equal(t, "sleeping", sc.Text(), "the child never got to sleep")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	go func() { _, _ = io.Copy(io.Discard, out) }() // Wait waits for the pipe's reader
	err = cmd.Wait()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "%v", err)
	ws := ee.Sys().(syscall.WaitStatus)
	require.True(t, ws.Signaled(), "%v", err)
	require.Equal(t, syscall.SIGTERM, ws.Signal())
}
