package lab

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nstopo/nstopo/netnsx"
)

// Options tune Build, Attach and Destroy. A nil *Options is the zero value.
type Options struct {
	// Progress, if set, is called as steps complete, never concurrently, for a progress
	// line; nil: nothing is reported.
	Progress func(Event)
	// Persist leaves the lab in place when the Lab is closed, for `nstopo up`: Close
	// then only releases handles, and Destroy removes the lab. False (tests): Close
	// deletes everything the lab made.
	Persist bool
	// StateDir is where the lab's state file, <name>.json, is kept; "": DefaultStateDir.
	// Build, Attach and Destroy of one lab must be given the same one. DefaultStateDir is
	// root's: a process that may not make or write it (a user's, after userns.Enter)
	// sets StateDir to a directory of its own, as tests do with t.TempDir(). Build does
	// not fall back to another directory when it cannot write this one: it fails
	// (wrapping netnsx.ErrPermission when permission is what is missing), because
	// Destroy, from another process, would not find a state file kept somewhere else,
	// and a shared directory such as /tmp lets another user plant the file first.
	StateDir string
}

// DefaultStateDir holds the state file of each lab that is built.
const DefaultStateDir = "/run/nstopo/labs"

// Event reports progress: Done of Total steps of Phase ("nodes", "bridges", "links",
// "overlays", "routes", "impairments", "exec", "start") are complete.
type Event struct {
	Phase       string
	Done, Total int
}

func (o *Options) stateDir() string {
	if o == nil || o.StateDir == "" {
		return DefaultStateDir
	}
	return o.StateDir
}

// Lab is a built lab: it owns every namespace, link and process the description made.
// Its methods are safe for concurrent use.
type Lab struct {
	spec    *Spec
	persist bool
	state   string // the state file's path

	mu     sync.Mutex
	nodes  map[string]*netnsx.NS
	order  []*netnsx.NS // in the order made, for DeleteAll
	procs  []*proc
	closed bool
}

// Spec returns the description the lab was built from: a copy of Build's argument
// whose maps and slices are the argument's, so change neither while the lab is in use.
func (l *Lab) Spec() *Spec {
	if l == nil {
		return nil
	}
	return l.spec
}

// PingResult is one ping of PingAll.
type PingResult struct {
	From, To string     // node names
	Addr     netip.Addr // the address pinged, one the spec gives To
	RTT      time.Duration
	Err      error // nil: it answered
}

// Reachability is the outcome of PingAll.
type Reachability struct {
	Results []PingResult // by From, To, then Addr
}

// Lost returns how many pings got no answer.
func (r *Reachability) Lost() int {
	n := 0
	for _, p := range r.Results {
		if p.Err != nil {
			n++
		}
	}
	return n
}

// String prints the results as a table, one line per ping, and a summary line.
func (r *Reachability) String() string {
	var b strings.Builder
	for _, p := range r.Results {
		res := p.RTT.Round(time.Microsecond).String()
		if p.Err != nil {
			res = "X " + p.Err.Error()
		}
		fmt.Fprintf(&b, "%s -> %s %s: %s\n", p.From, p.To, p.Addr, res)
	}
	fmt.Fprintf(&b, "%d pings, %d lost\n", len(r.Results), r.Lost())
	return b.String()
}

// targets lists, for PingAll, every address the spec gives an interface of each node:
// link ends, bridges and overlay devices.
func (s *Spec) targets() map[string][]netip.Addr {
	t := map[string][]netip.Addr{}
	add := func(node string, ps []netip.Prefix) {
		for _, p := range ps {
			t[node] = append(t[node], p.Addr())
		}
	}
	for _, n := range names(s.Topology.Nodes) {
		node := s.Topology.Nodes[n]
		for _, br := range names(node.Bridges) {
			add(n, node.Bridges[br].Addrs)
		}
	}
	for _, l := range s.Topology.Links {
		for _, e := range l.Endpoints {
			add(e.Node, e.Addrs)
		}
	}
	for _, o := range s.Topology.Overlays {
		for _, m := range o.Members {
			add(m.Node, m.Addrs)
		}
	}
	for n := range t {
		sort.Slice(t[n], func(i, j int) bool { return t[n][i].Less(t[n][j]) })
	}
	return t
}
