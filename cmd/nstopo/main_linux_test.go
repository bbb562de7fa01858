package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nstopo/nstopo/internal/iptest"
	"github.com/nstopo/nstopo/internal/privilege"
	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// newLab returns a prefix of the test's own and a state directory, and downs the lab
// at cleanup, whatever the test did.
func newLab(t *testing.T, file string) (prefix, state string) {
	t.Helper()
	netnsxtest.RequirePrivileged(t)
	prefix, state = netnsxtest.Name(0)+"-", t.TempDir()
	t.Cleanup(func() {
		r := output(t, nstopo(state, "down", "-prefix", prefix, file), "")
		if r.code != 0 {
			t.Errorf("cleanup: %s", r)
		}
		if left := withPrefix(t, prefix); len(left) > 0 {
			t.Errorf("cleanup: left %v", left)
		}
	})
	return prefix, state
}

// withPrefix returns the namespaces whose names start with prefix.
func withPrefix(t *testing.T, prefix string) []string {
	t.Helper()
	names, err := netnsx.List()
	require.NoError(t, err)
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// The article's local topology, as the issue asks: up, then container-1 reaches
// container-2 (nstopo exec running ping, ip netns exec, and netnsx's own ping), br0 holds
// 172.16.1.1/16 as ip sees it, ping's matrix is all ok, inspect shows it, and down leaves
// none of its namespaces.
func TestIntegrationArticleLocal(t *testing.T) {
	prefix, state := newLab(t, articleLocal)
	spec, err := lab.Load(articleLocal)
	require.NoError(t, err)

	r := output(t, nstopo(state, "up", "-prefix", prefix, articleLocal), "")
	require.Equal(t, 0, r.code, "%s", r)
	require.Contains(t, r.stdout, "lab "+spec.Name+" up in ")
	require.Contains(t, r.stdout, "nstopo down -prefix "+prefix+" "+articleLocal)
	spec.Prefix = prefix
	require.ElementsMatch(t, spec.Namespaces(), withPrefix(t, prefix))

	c1 := prefix + "container-1"
	r = output(t, nstopo(state, "exec", "-f", articleLocal, "-prefix", prefix, "container-1", "--",
		"ping", "-c1", "-W5", "172.16.1.3"), "")
	require.Equal(t, 0, r.code, "%s", r)
	require.Contains(t, r.stdout, "1 received")
	out, err := exec.Command("ip", "netns", "exec", c1, "ping", "-c1", "-W5", "172.16.1.3").CombinedOutput()
	require.NoError(t, err, "%s", out)
	ns, err := netnsx.Open(c1)
	require.NoError(t, err)
	defer ns.Close()
	netnsxtest.RequireReachable(t, ns, netip.MustParseAddr("172.16.1.3"), netip.MustParseAddr("172.16.1.1"))

	// br0 lives in its own node: whichever the file names.
	var brNode string
	for name, n := range spec.Topology.Nodes {
		if _, ok := n.Bridges["br0"]; ok {
			brNode = name
		}
	}
	require.NotEmpty(t, brNode, "no node of %s holds br0", articleLocal)
	br := iptest.Links(t, prefix+brNode)["br0"]
	require.Equal(t, "bridge", br.Linkinfo.InfoKind)
	var addrs []string
	for _, a := range br.AddrInfo {
		addrs = append(addrs, fmt.Sprintf("%s/%d", a.Local, a.Prefixlen))
	}
	require.Contains(t, addrs, "172.16.1.1/16")

	r = output(t, nstopo(state, "ping", "-prefix", prefix, articleLocal), "")
	require.Equal(t, 0, r.code, "%s", r)
	require.Contains(t, r.stdout, "from \\ to")
	require.Contains(t, r.stdout, "0% dropped")
	require.NotContains(t, r.stdout, "lost:")

	r = output(t, nstopo(state, "inspect", "-format", "json", "-prefix", prefix, articleLocal), "")
	require.Equal(t, 0, r.code, "%s", r)
	var snap netnsx.Snapshot
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &snap), r.stdout)
	require.Len(t, snap.Namespaces, len(spec.Namespaces()))
	r = output(t, nstopo(state, "inspect", c1), "")
	require.Equal(t, 0, r.code, "%s", r)
	require.Contains(t, r.stdout, "== "+c1)
	require.Contains(t, r.stdout, "172.16.1.2/16")

	r = output(t, nstopo(state, "down", "-prefix", prefix, articleLocal), "")
	require.Equal(t, 0, r.code, "%s", r)
	require.Contains(t, r.stdout, fmt.Sprintf("%d namespaces removed", len(spec.Namespaces())))
	require.Empty(t, withPrefix(t, prefix))
	for _, n := range spec.Namespaces() {
		require.NotContains(t, iptest.Netns(t), n)
	}
	// down leaves no empty prefix-P directory behind in the state directory.
	left, err := os.ReadDir(state)
	require.NoError(t, err)
	require.Empty(t, left, "state directory %s after down", state)
	// Idempotent: nothing up is not an error.
	r = output(t, nstopo(state, "down", "-prefix", prefix, articleLocal), "")
	require.Equal(t, 0, r.code, "%s", r)
	require.Contains(t, r.stdout, "is not up: nothing to remove")

	// A lab that is down cannot be pinged or entered, and says what to do.
	r = output(t, nstopo(state, "ping", "-prefix", prefix, articleLocal), "")
	require.Equal(t, 1, r.code, "%s", r)
	require.Contains(t, r.stderr, "is the lab up? (nstopo up -prefix "+prefix)
	r = output(t, nstopo(state, "exec", "-f", articleLocal, "-prefix", prefix, "container-1", "true"), "")
	require.Equal(t, 1, r.code, "%s", r)
	require.Contains(t, r.stderr, "is the lab up?")
}

// The article's other two labs, each with a check that fits it: the hand-made VXLAN
// (host1 reaches host2's overlay address; vxlan0 has VNI 42 on port 8472), and the swarm
// overlay (containers on three hosts reach each other through VXLAN; the underlay and
// the overlay are apart, so ping's matrix shows both and exits 1).
func TestIntegrationExampleLabs(t *testing.T) {
	t.Run("article-vxlan", func(t *testing.T) {
		file := "../../examples/labs/article-vxlan.yaml"
		prefix, state := newLab(t, file)
		r := output(t, nstopo(state, "up", "-prefix", prefix, file), "")
		require.Equal(t, 0, r.code, "%s", r)
		r = output(t, nstopo(state, "exec", "-f", file, "-prefix", prefix, "host1", "ping", "-c1", "-W5", "192.168.200.2"), "")
		require.Equal(t, 0, r.code, "%s", r)
		vx := iptest.Links(t, prefix+"host1")["vxlan0"]
		require.Equal(t, "vxlan", vx.Linkinfo.InfoKind)
		require.EqualValues(t, 42, vx.Linkinfo.InfoData["id"])
		require.EqualValues(t, 8472, vx.Linkinfo.InfoData["port"])
		r = output(t, nstopo(state, "ping", "-prefix", prefix, file), "")
		require.Equal(t, 0, r.code, "%s", r)
		require.Contains(t, r.stdout, "0% dropped (4/4 received)")
	})
	t.Run("swarm", func(t *testing.T) {
		file := "../../examples/labs/swarm.yaml"
		prefix, state := newLab(t, file)
		r := output(t, nstopo(state, "up", "-prefix", prefix, file), "")
		require.Equal(t, 0, r.code, "%s", r)
		r = output(t, nstopo(state, "exec", "-f", file, "-prefix", prefix, "c-swarm00", "ping", "-c1", "-W5", "10.200.0.4"), "")
		require.Equal(t, 0, r.code, "%s", r)
		var dsts []string
		for _, f := range iptest.FDBs(t, prefix+"swarm00") {
			if f.Dev == "vxlan0" && f.MAC == "00:00:00:00:00:00" {
				dsts = append(dsts, f.Dst)
			}
		}
		require.ElementsMatch(t, []string{"10.0.0.31", "10.0.0.32"}, dsts)
		r = output(t, nstopo(state, "ping", "-prefix", prefix, file), "")
		require.Equal(t, 1, r.code, "%s", r)
		rows := map[string][]string{}
		for _, l := range strings.Split(r.stdout, "\n") {
			if f := strings.Fields(l); len(f) == 8 {
				rows[f[0]] = f[1:]
			}
		}
		// Columns: c-swarm00 c-swarm01 c-swarm02 swarm00 swarm01 swarm02 underlay.
		require.Equal(t, []string{"-", "ok", "ok", "X", "X", "X", "-"}, rows["c-swarm00"], r.stdout)
		require.Equal(t, []string{"X", "X", "X", "-", "ok", "ok", "-"}, rows["swarm00"], r.stdout)
		require.Contains(t, r.stdout, "more (-v lists them)")
		require.Contains(t, r.stdout, "66% dropped (12/36 received)")
	})
}

// inodes returns the inode of each named namespace: a namespace made again has another.
func inodes(t *testing.T, names []string) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	for _, n := range names {
		var st syscall.Stat_t
		require.NoError(t, syscall.Stat(filepath.Join("/run/netns", n), &st))
		m[n] = st.Ino
	}
	return m
}

// up of a lab whose names are taken refuses with exit 1, says to run down, and changes
// nothing: not the lab that is up, nor a namespace someone else made, which down then
// leaves alone, exiting 1 and naming it.
func TestIntegrationUpRefusesTakenNames(t *testing.T) {
	prefix, state := newLab(t, articleLocal)
	spec, err := lab.Load(articleLocal)
	require.NoError(t, err)
	spec.Prefix = prefix

	r := output(t, nstopo(state, "up", "-prefix", prefix, articleLocal), "")
	require.Equal(t, 0, r.code, "%s", r)
	before := inodes(t, spec.Namespaces())
	links := iptest.Links(t, prefix+"container-1")
	r = output(t, nstopo(state, "up", "-prefix", prefix, articleLocal), "")
	require.Equal(t, 1, r.code, "%s", r)
	require.Contains(t, r.stderr, "namespace names taken: ")
	require.Contains(t, r.stderr, `remove them with "nstopo down -prefix `+prefix+" "+articleLocal+`"`)
	require.Equal(t, before, inodes(t, spec.Namespaces()))
	require.Equal(t, links, iptest.Links(t, prefix+"container-1"))
	r = output(t, nstopo(state, "down", "-prefix", prefix, articleLocal), "")
	require.Equal(t, 0, r.code, "%s", r)
	require.Empty(t, withPrefix(t, prefix))

	// Someone else's namespace under one of the lab's names.
	other, err := netnsx.New(prefix + "container-2")
	require.NoError(t, err)
	defer other.Delete()
	r = output(t, nstopo(state, "up", "-prefix", prefix, articleLocal), "")
	require.Equal(t, 1, r.code, "%s", r)
	require.Contains(t, r.stderr, prefix+"container-2")
	require.Equal(t, []string{prefix + "container-2"}, withPrefix(t, prefix), "up touched something")
	// down removes only what up made, and fails while a name of the lab is taken.
	r = output(t, nstopo(state, "down", "-prefix", prefix, articleLocal), "")
	require.Equal(t, 1, r.code, "%s", r)
	require.Contains(t, r.stderr, prefix+"container-2")
	require.Contains(t, r.stderr, "ip netns del")
	require.Equal(t, []string{prefix + "container-2"}, withPrefix(t, prefix), "down removed what up did not make")
}

// star writes a lab of a hub bridge and n leaves, big enough that up is stopped well
// inside it.
func star(t *testing.T, n int) string {
	var b strings.Builder
	b.WriteString("name: star\ntopology:\n  nodes:\n    hub:\n      bridges:\n        br0: {addrs: [10.77.0.1/16]}\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "    n%d: {}\n", i)
	}
	b.WriteString("  links:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "    - endpoints: [{node: n%d, interface: eth0, addrs: [10.77.%d.%d/16]}, {node: hub, interface: p%d, bridge: br0}]\n",
			i, i/250, i%250+2, i)
	}
	return writeFile(t, "star.yaml", b.String())
}

// syncLog is a log written by one goroutine and read by another.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line + "\n")
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startStalled starts up of file under prefix, stopped at stall ("links:20": once 20
// links are made), and returns once it is there; wait reads stderr to its end, then
// waits for the process.
func startStalled(t *testing.T, state, prefix, file, stall string) (cmd *exec.Cmd, log *syncLog, wait func() error) {
	t.Helper()
	cmd = nstopo(state, "up", "-progress", "-prefix", prefix, file)
	cmd.Env = append(cmd.Env, stallEnv+"="+stall)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	log = &syncLog{}
	stalled := make(chan bool, 1)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stderr)
		ok := false
		for sc.Scan() {
			log.add(sc.Text())
			if !ok && strings.HasPrefix(sc.Text(), "nstopo test: stalled") {
				ok = true
				stalled <- true
			}
		}
		if !ok {
			stalled <- false
		}
	}()
	wait = func() error {
		<-read
		return cmd.Wait()
	}
	select {
	case ok := <-stalled:
		require.True(t, ok, "up never stalled:\n%s", log)
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		_ = wait()
		t.Fatalf("up did not reach its stall in 2 minutes:\n%s", log)
	}
	return cmd, log, wait
}

// SIGINT during up of a big lab, while its namespaces are made and while its links
// are: exit 130, and nothing of it is left, without down.
func TestIntegrationUpInterrupted(t *testing.T) {
	file := star(t, 60)
	for _, at := range []string{"nodes:30", "links:20"} {
		t.Run(at, func(t *testing.T) {
			prefix, state := newLab(t, file)
			cmd, log, wait := startStalled(t, state, prefix, file, at)
			require.NotEmpty(t, withPrefix(t, prefix), "stalled before making anything")
			require.NoError(t, cmd.Process.Signal(os.Interrupt))
			err := wait()
			require.Error(t, err)
			require.Equal(t, 130, cmd.ProcessState.ExitCode(), "%s", log)
			require.Contains(t, log.String(), "up: nodes")
			require.Contains(t, log.String(), "interrupted: removing what was made")
			require.Contains(t, log.String(), "nothing of lab star is left")
			require.Empty(t, withPrefix(t, prefix))
		})
	}
}

// up SIGKILLed mid-way, while it makes namespaces or links, leaves namespaces behind;
// down removes every one.
func TestIntegrationUpKilled(t *testing.T) {
	file := star(t, 60)
	for _, at := range []string{"nodes:30", "links:20"} {
		t.Run(at, func(t *testing.T) {
			prefix, state := newLab(t, file)
			cmd, log, wait := startStalled(t, state, prefix, file, at)
			require.NoError(t, cmd.Process.Kill())
			_ = wait()
			left := withPrefix(t, prefix)
			require.NotEmpty(t, left, "killed before making anything:\n%s", log)
			t.Logf("up killed at %s with %d namespaces made", at, len(left))
			r := output(t, nstopo(state, "down", "-prefix", prefix, file), "")
			require.Equal(t, 0, r.code, "%s", r)
			require.Contains(t, r.stdout, fmt.Sprintf("lab star down: %d namespaces removed", len(left)))
			require.Empty(t, withPrefix(t, prefix))
		})
	}
}

// exec runs the command in the namespace with stdin, stdout and stderr passed, and
// passes its exit status through; NODE may be a namespace name.
func TestIntegrationExec(t *testing.T) {
	ns := netnsxtest.New(t, "exec")
	state := t.TempDir()
	r := output(t, nstopo(state, "exec", ns.Name(), "--", "sh", "-c", "cat; echo to-stderr >&2; exit 7"), "hello\n")
	require.Equal(t, 7, r.code, "%s", r)
	require.Equal(t, "hello\n", r.stdout)
	require.Equal(t, "to-stderr\n", r.stderr)

	// Inside: the namespace's own interfaces, as ip sees them there.
	r = output(t, nstopo(state, "exec", ns.Name(), "ip", "-j", "link", "show"), "")
	require.Equal(t, 0, r.code, "%s", r)
	var ls []struct {
		Ifname string `json:"ifname"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ls), r.stdout)
	require.Len(t, ls, 1)
	require.Equal(t, "lo", ls[0].Ifname)

	r = output(t, nstopo(state, "exec", ns.Name(), "--", "sh", "-c", "kill -TERM $$"), "")
	require.Equal(t, 128+int(syscall.SIGTERM), r.code, "%s", r)
	r = output(t, nstopo(state, "exec", ns.Name(), "--", "no-such-command-"+netnsxtest.Name(0)), "")
	require.Equal(t, 127, r.code, "%s", r)
	r = output(t, nstopo(state, "exec", "no-such-ns-"+netnsxtest.Name(0), "--", "true"), "")
	require.Equal(t, 1, r.code, "%s", r)
	require.Contains(t, r.stderr, "not found")

	// A signal to nstopo goes on to the command.
	cmd := nstopo(state, "exec", ns.Name(), "--", "sh", "-c", "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so that a failure can end both
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	require.True(t, sc.Scan())
	require.Equal(t, "ready", sc.Text())
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	stop := time.AfterFunc(30*time.Second, func() {
		t.Error("the command did not end within 30 s of SIGTERM")
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	rest, _ := io.ReadAll(stdout)
	_ = cmd.Wait()
	stop.Stop()
	require.Equal(t, 3, cmd.ProcessState.ExitCode())
	require.Contains(t, string(rest), "got-term")
}

// Without the capabilities (uid 65534 on a real machine; capabilities dropped inside the
// tests' own user namespace), graph and validate work, and up, down, ping, exec and
// inspect exit 1 saying what they need, having made nothing.
func TestIntegrationUnprivileged(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	dir, err := os.MkdirTemp("", "nstopo-unpriv-")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	require.NoError(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "nstopo.test")
	copyFile(t, os.Args[0], bin, 0o755)
	file := filepath.Join(dir, "article-local.yaml")
	copyFile(t, articleLocal, file, 0o644)
	prefix := netnsxtest.Name(0) + "-"

	unprivileged := func(args ...string) result {
		var cmd *exec.Cmd
		if privilege.InitialUserNS() {
			cmd = exec.Command(bin, args...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		} else {
			setpriv, err := exec.LookPath("setpriv")
			if err != nil {
				t.Skip("no setpriv (util-linux) to drop capabilities with")
			}
			cmd = exec.Command(setpriv, append([]string{"--inh-caps=-all", "--bounding-set=-all", "--", bin}, args...)...)
		}
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), asCommand+"=1", stateEnv+"="+filepath.Join(dir, "state"), "HOME="+dir)
		return output(t, cmd, "")
	}
	r := unprivileged("graph", file)
	require.Equal(t, 0, r.code, "%s", r)
	require.Contains(t, r.stdout, "container-1")
	r = unprivileged("validate", file)
	require.Equal(t, 0, r.code, "%s", r)
	for _, args := range [][]string{
		{"up", "-prefix", prefix, file},
		{"down", "-prefix", prefix, file},
		{"ping", "-prefix", prefix, file},
		{"exec", "-f", file, "-prefix", prefix, "container-1", "true"},
		{"inspect"},
	} {
		r = unprivileged(args...)
		require.Equal(t, 1, r.code, "%v: %s", args, r)
		require.Contains(t, r.stderr, args[0]+" needs CAP_SYS_ADMIN and CAP_NET_ADMIN: run it as root", "%v", args)
	}
	require.Empty(t, withPrefix(t, prefix))
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, mode))
}
