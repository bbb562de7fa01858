package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
	"github.com/nstopo/nstopo/overlay/internal/etcdtest"
)

// asCommand makes the test binary run main: the demo starts its agents by running
// its own executable, which here is the test binary.
const asCommand = "NSTOPO_OVERLAY_TEST_AS_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(asCommand) == "1" {
		main()
		os.Exit(0)
	}
	netnsxtest.Main(m)
}

func command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), asCommand+"=1")
	return cmd
}

var runID = regexp.MustCompile(`run (ovd[0-9a-f]+):`)

// requireNothingLeft fails if a namespace of the demo run named in out remains.
func requireNothingLeft(t *testing.T, out string) {
	m := runID.FindStringSubmatch(out)
	require.NotNil(t, m, "no run id in:\n%s", out)
	names, err := netnsx.List()
	require.NoError(t, err)
	for _, n := range names {
		require.False(t, strings.HasPrefix(n, m[1]+"-"), "namespace %s left behind", n)
	}
}

// The demo on a fresh machine: embedded etcd, three hosts of two containers, exit 0.
func TestIntegrationDemo(t *testing.T) {
	out, err := command("demo", "-hosts", "3", "-containers", "2", "-ttl", "2s").CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("%s", out)
	for _, want := range []string{
		"etcd: embedded etcd",
		"mesh: 30 of 30 TCP echoes ok (every pair)",
		"late join (3 containers",
		"agent of h3 SIGKILLed: its entries gone from the 2 other hosts",
		"mesh of the hosts left: 30 of 30 TCP echoes ok",
		"all held; nothing left behind",
	} {
		require.Contains(t, string(out), want)
	}
	requireNothingLeft(t, string(out))
}

// The demo against an external three-member Debian etcd cluster whose leader is
// SIGKILLed during the run: the demo still holds, and `etcdctl watch` sees its keys
// come and go.
func TestIntegrationDemoExternalCluster(t *testing.T) {
	ns := netnsxtest.New(t, "etcd")
	ec := etcdtest.Start(t, ns, netip.MustParseAddr("127.0.0.1"), 3)
	urls := strings.Join(ec.URLs(), ",")
	etcdctl, err := exec.LookPath("etcdctl")
	if err != nil {
		t.Skipf("no etcdctl (Debian: apt-get install etcd-client): %v", err)
	}
	var watched etcdtest.Buffer
	watch := exec.Command(etcdctl, "--endpoints", urls, "watch", "--prefix", "")
	watch.Stdout, watch.Stderr = &watched, &watched
	require.NoError(t, ns.Start(watch))
	t.Cleanup(func() {
		_ = watch.Process.Kill()
		_ = watch.Wait()
	})

	demo := command("demo", "-etcd", urls, "-hosts", "3", "-containers", "2", "-ttl", "2s")
	stdout, err := demo.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	demo.Stderr = &stderr
	require.NoError(t, ns.Start(demo))
	var out strings.Builder
	killed := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if killed == "" && strings.HasPrefix(sc.Text(), "mesh: ") {
			i := ec.Leader(ec.Client(t, ns))
			ec.Kill(i)
			killed = ec.Members[i].Name
			t.Logf("SIGKILLed etcd member %s, the leader", killed)
		}
	}
	err = demo.Wait()
	t.Logf("%s", out.String())
	require.NoError(t, err, "%s", stderr.String())
	require.NotEmpty(t, killed, "the demo never reached its mesh check")
	require.Contains(t, out.String(), "etcd: external etcd")
	require.Contains(t, out.String(), "all held; nothing left behind")

	// etcdctl prints each event as its type, key and value on three lines.
	m := runID.FindStringSubmatch(out.String())
	require.NotNil(t, m)
	prefix := "/nstopo-demo/" + m[1] + "/"
	require.Eventually(t, func() bool {
		return strings.Contains(watched.String(), "DELETE\n"+prefix+"hosts/h1\n")
	}, 10*time.Second, 50*time.Millisecond, "etcdctl watch:\n%s", watched.String())
	lines := strings.Split(watched.String(), "\n")
	events := map[string]bool{}
	for i := 0; i+1 < len(lines); i++ {
		if lines[i] == "PUT" || lines[i] == "DELETE" {
			events[lines[i]+" "+lines[i+1]] = true
		}
	}
	for _, key := range []string{"hosts/h1", "hosts/h3", "networks/demo", "endpoints/demo/10.200.0.2"} {
		require.True(t, events["PUT "+prefix+key], "no PUT of %s in:\n%s", key, watched.String())
		require.True(t, events["DELETE "+prefix+key], "no DELETE of %s in:\n%s", key, watched.String())
	}
	requireNothingLeft(t, out.String())
}

// The commands a real machine uses, end to end: network, agent, attach, detach.
func TestIntegrationCommands(t *testing.T) {
	ns := netnsxtest.New(t, "host")
	ec := etcdtest.Start(t, ns, netip.MustParseAddr("127.0.0.1"), 1)
	etcd := []string{"-etcd", ec.URLs()[0], "-prefix", "/cmdtest/"}
	run := func(args ...string) (string, error) {
		cmd := command(args...)
		var b etcdtest.Buffer
		cmd.Stdout, cmd.Stderr = &b, &b
		err := ns.Run(cmd)
		return b.String(), err
	}
	out, err := run(append([]string{"network", "-name", "blue", "-vni", "77", "-subnet", "10.210.0.0/24"}, etcd...)...)
	require.NoError(t, err, out)
	out, err = run(append([]string{"network", "-name", "red", "-vni", "77", "-subnet", "10.211.0.0/24"}, etcd...)...)
	require.Error(t, err)
	require.Contains(t, out, "VNI 77 is network blue's")

	socket := filepath.Join(t.TempDir(), "agent.sock")
	var agentLog etcdtest.Buffer
	agent := command(append([]string{"agent", "-host", "hostA", "-vtep", "10.0.0.1", "-socket", socket, "-ttl", "2s"}, etcd...)...)
	agent.Stdout, agent.Stderr = &agentLog, &agentLog
	require.NoError(t, ns.Start(agent))
	exited := make(chan error, 1)
	go func() { exited <- agent.Wait() }()
	t.Cleanup(func() {
		_ = agent.Process.Kill()
		<-exited
	})
	require.Eventually(t, func() bool {
		c, err := net.Dial("unix", socket)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 15*time.Second, 20*time.Millisecond, "agent:\n%s", agentLog.String())

	c1 := netnsxtest.New(t, "c1")
	out, err = run("attach", "-socket", socket, "-network", "blue", "-name", "web", "-netns", c1.Name(), "-ip", "10.210.0.7")
	require.NoError(t, err, out)
	require.Contains(t, out, "web 10.210.0.7 02:42:0a:d2:00:07 on blue (host hostA)")
	l := iptest.Links(t, c1.Name())["eth0"]
	require.Equal(t, "02:42:0a:d2:00:07", l.Address)
	require.Equal(t, "br77", iptest.Links(t, ns.Name())["v0ad20007"].Master)
	require.Equal(t, "br77", iptest.Links(t, ns.Name())["vx77"].Master)

	for _, bad := range [][]string{
		{"-network", "green", "-name", "x", "-netns", c1.Name()},
		{"-network", "blue", "-name", "x", "-netns", c1.Name(), "-ip", "10.99.0.7"},
		{"-network", "blue", "-name", "x", "-netns", "no-such-namespace-" + c1.Name()},
	} {
		out, err = run(append([]string{"attach", "-socket", socket}, bad...)...)
		require.Error(t, err, "%v", bad)
		t.Logf("attach %v: %s", bad, strings.TrimSpace(out))
	}
	out, err = run("detach", "-socket", socket, "-network", "blue", "-ip", "10.210.0.7")
	require.NoError(t, err, out)
	require.NotContains(t, iptest.Links(t, c1.Name()), "eth0")
	require.NotContains(t, iptest.Links(t, ns.Name()), "v0ad20007")

	// SIGTERM: the agent revokes its lease and exits 0; its host key is gone.
	require.NoError(t, agent.Process.Signal(os.Interrupt))
	require.NoError(t, <-exited, "agent:\n%s", agentLog.String())
	exited <- nil
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := ec.Client(t, ns).Get(ctx, "/cmdtest/hosts/hostA")
	require.NoError(t, err)
	require.Empty(t, r.Kvs)
}

// An etcd that does not answer: the agent says so within its dial timeout and makes
// nothing.
func TestIntegrationAgentUnreachableEtcd(t *testing.T) {
	ns := netnsxtest.New(t, "host")
	socket := filepath.Join(t.TempDir(), "agent.sock")
	cmd := command("agent", "-etcd", "http://127.0.0.1:9", "-dial-timeout", "1s", "-host", "h1", "-vtep", "10.0.0.1", "-socket", socket)
	var b etcdtest.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	start := time.Now()
	err := ns.Run(cmd)
	require.Error(t, err)
	require.Less(t, time.Since(start), 4*time.Second)
	require.Contains(t, b.String(), "etcd at http://127.0.0.1:9 did not answer")
	_, err = os.Stat(socket)
	require.True(t, os.IsNotExist(err), "socket made")
	require.Equal(t, []string{"lo"}, keys(iptest.Links(t, ns.Name())))
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Mistakes on the command line are named, with exit status 2, before anything runs;
// -h is not a mistake.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"network"}, 2, "-name, -subnet, -vni required"},
		{[]string{"network", "-name", "n", "-vni", "1", "-subnet", "10.0.0.0"}, 2, `-subnet "10.0.0.0"`},
		{[]string{"agent"}, 2, "-vtep required"},
		{[]string{"agent", "-vtep", "10.0.0.1", "-ttl", "1500ms"}, 2, "whole seconds"},
		{[]string{"attach"}, 2, "-netns, -network required"},
		{[]string{"attach", "-network", "n", "-netns", "/proc/1/ns/net"}, 2, "-name required"},
		{[]string{"detach", "-network", "n"}, 2, "-ip required"},
		{[]string{"demo", "-hosts", "1"}, 2, "want 2-250 hosts"},
		{[]string{"demo", "-ttl", "0s"}, 2, "whole seconds"},
		{[]string{"demo", "extra"}, 2, "unexpected arguments"},
		{[]string{"nosuch"}, 2, "usage: nstopo-overlay <command>"},
		{[]string{"agent", "-h"}, 0, "-vtep string"},
	} {
		out, err := command(tc.args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		require.Equal(t, tc.code, code, "%v: %s", tc.args, out)
		require.Contains(t, string(out), tc.want, "%v", tc.args)
	}
}
