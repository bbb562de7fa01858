// Package iptest runs iproute2's `ip -j` and `bridge -j` for tests: the second,
// independent view of kernel state that nstopo's own readers are checked against.
// Only tests import it; the library never runs an external program.
package iptest

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"
)

// Link is the part of `ip -d -j link show` the tests read.
type Link struct {
	Ifname    string   `json:"ifname"`
	Ifindex   int      `json:"ifindex"`
	Flags     []string `json:"flags"`
	MTU       int      `json:"mtu"`
	Operstate string   `json:"operstate"`
	Qdisc     string   `json:"qdisc"`
	Master    string   `json:"master"`
	Address   string   `json:"address"`
	Link      string   `json:"link"` // a veth's peer, when in the same namespace
	LinkIndex int      `json:"link_index"`
	LinkNetns *int     `json:"link_netnsid"`
	Linkinfo  struct {
		InfoKind      string         `json:"info_kind"`
		InfoData      map[string]any `json:"info_data"`
		InfoSlaveKind string         `json:"info_slave_kind"`
	} `json:"linkinfo"`
	AddrInfo []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		Prefixlen int    `json:"prefixlen"`
	} `json:"addr_info"`
}

// Route is the part of `ip -j route show` the tests read.
type Route struct {
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Prefsrc  string `json:"prefsrc"`
	Protocol string `json:"protocol"`
	Scope    string `json:"scope"`
}

// FDB is one entry of `bridge -j fdb show`.
type FDB struct {
	MAC    string   `json:"mac"`
	Dev    string   `json:"ifname"`
	Master string   `json:"master"`
	Dst    string   `json:"dst"`
	VNI    int      `json:"vni"`
	Flags  []string `json:"flags"`
	State  string   `json:"state"`
}

// Tool finds an iproute2 program also where PATH lacks the sbin directories.
func Tool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		if p := dir + "/" + name; fileExists(p) {
			return p
		}
	}
	return name
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Run runs a command and decodes its JSON output into v, failing the test on error.
func Run(tb testing.TB, v any, name string, args ...string) {
	tb.Helper()
	out, err := exec.Command(Tool(name), args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		tb.Fatalf("%s %v: %v %s", name, args, err, msg)
	}
	if len(out) == 0 {
		return
	}
	if err := json.Unmarshal(out, v); err != nil {
		tb.Fatalf("%s %v: decoding %q: %v", name, args, out, err)
	}
}

// Links returns `ip -d -j addr show` in the named namespace, keyed by interface name.
func Links(tb testing.TB, ns string) map[string]Link {
	tb.Helper()
	var ls []Link
	Run(tb, &ls, "ip", "-n", ns, "-d", "-j", "addr", "show")
	m := make(map[string]Link, len(ls))
	for _, l := range ls {
		m[l.Ifname] = l
	}
	return m
}

// Routes returns `ip -j route show` (family "4" or "6") in the named namespace.
func Routes(tb testing.TB, ns, family string) []Route {
	tb.Helper()
	var rs []Route
	Run(tb, &rs, "ip", "-n", ns, "-"+family, "-j", "route", "show")
	return rs
}

// FDBs returns `bridge -j fdb show` in the named namespace.
func FDBs(tb testing.TB, ns string) []FDB {
	tb.Helper()
	var fs []FDB
	Run(tb, &fs, "ip", "netns", "exec", ns, Tool("bridge"), "-j", "fdb", "show")
	return fs
}

// Netns returns the names `ip netns list` shows.
func Netns(tb testing.TB) []string {
	tb.Helper()
	var ns []struct {
		Name string `json:"name"`
	}
	Run(tb, &ns, "ip", "-j", "netns", "list")
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Name
	}
	return out
}
