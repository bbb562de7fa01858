package main

// The peers: the same star built by Mininet (../mininet-star.py) and by pyroute2
// (../pyroute2-star.py, its NetNS way and its pushns way), each run as a script that
// checks what it built and that it left nothing, and prints its build and teardown
// seconds the way ../iproute2-star.sh does. They are Debian's mininet (with
// bridge-utils) and python3-pyroute2; a method whose tool is missing is skipped.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
)

// peer is a method that runs one of the Python scripts.
type peer struct {
	name   string
	script string   // file in the scripts' directory
	args   []string // after N and the prefix
	needs  string   // the Python module it imports
	bins   []string // commands it runs
	pkgs   string   // what to install
}

var peers = []peer{
	{"mininet", "mininet-star.py", nil, "mininet.net", []string{"mnexec", "brctl", "ifconfig", "ping"}, "mininet bridge-utils iputils-ping"},
	{"pyroute2", "pyroute2-star.py", []string{"netns"}, "pyroute2", nil, "python3-pyroute2"},
	{"pyroute2-pushns", "pyroute2-star.py", []string{"pushns"}, "pyroute2", nil, "python3-pyroute2"},
}

// peerMethods returns the peers named in only, and one message for each that cannot
// run here.
func peerMethods(python, dir string, only []string) (ms []method, skipped []string) {
	for _, p := range peers {
		if !slices.Contains(only, p.name) {
			continue
		}
		if why := p.missing(python, dir); why != "" {
			skipped = append(skipped, fmt.Sprintf("skipping %s: %s (apt-get install %s)", p.name, why, p.pkgs))
			continue
		}
		ms = append(ms, method{p.name, p.run(python, dir)})
	}
	return ms, skipped
}

func (p peer) missing(python, dir string) string {
	if _, err := os.Stat(filepath.Join(dir, p.script)); err != nil {
		return err.Error()
	}
	if _, err := exec.LookPath(python); err != nil {
		return err.Error()
	}
	if out, err := exec.Command(python, "-c", "import "+p.needs).CombinedOutput(); err != nil {
		return fmt.Sprintf("%s cannot import %s: %s", python, p.needs, lastLine(out, err))
	}
	for _, b := range p.bins {
		if _, err := exec.LookPath(b); err != nil {
			return err.Error()
		}
	}
	return ""
}

func lastLine(out []byte, err error) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if l := lines[len(lines)-1]; l != "" {
		return l
	}
	return err.Error()
}

func (p peer) run(python, dir string) func(n int, prefix string) (result, error) {
	return func(n int, prefix string) (result, error) {
		if p.name == "mininet" {
			// Mininet's switch and its ports live in the initial namespace, named
			// <prefix>s<i>: a short prefix (still one per process) fits IFNAMSIZ.
			prefix = "mn" + strconv.FormatInt(int64(os.Getpid()), 36) + "-"
			defer cleanupLinks(prefix)
		}
		args := append([]string{filepath.Join(dir, p.script), strconv.Itoa(n), prefix}, p.args...)
		cmd := exec.Command(python, args...)
		if ipv4 {
			cmd.Env = append(os.Environ(), "IPV4ONLY=1")
		}
		return parseScript(cmd.CombinedOutput())
	}
}

// cleanupLinks deletes the links in this namespace whose names start with prefix (what
// a killed Mininet run leaves; its script removes them itself otherwise).
func cleanupLinks(prefix string) {
	links, _ := netlink.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, prefix) {
			_ = netlink.LinkDel(l)
		}
	}
}
