package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/fault"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/veth"
	"github.com/nstopo/nstopo/vxlan"
)

// netnsDir is where named namespaces are mounted, as by `ip netns add`.
const netnsDir = "/run/netns"

// workers is how many goroutines make nodes and links at once. Measured with
// TestCompareBuild on 2 cores (medians, the 1000-leaf IPv4-only star): 2.24 s with one,
// 1.91 s with two; 153 and 148 ms at 100 leaves; the direct calls, one after another,
// 2.93 s and 190 ms.
var workers = 2

// proc is a process a Start command runs.
type proc struct {
	node string
	cmd  *exec.Cmd
	done chan struct{}
}

// Build validates s and makes the whole lab: its namespaces, then the bridges, links,
// overlays, routes and impairments in them, then runs each node's Exec commands and
// starts its Start commands. It is all or nothing: if a step fails, or ctx ends, it kills
// what it started and deletes every namespace it made, and with them everything in them.
//
// Before making anything it refuses a lab whose namespace names are taken (ErrExists,
// naming them) and one whose state file says it is up. It writes the state file first
// and adds each namespace's identity (device and inode of its nsfs file) to it as the
// namespace is made, and each started process's PID and start time, so that Destroy
// removes exactly what Build made, even after Build or its process died half-way.
//
// Build keeps a handle on every node (a file descriptor and a netlink socket each) until
// Close.
func Build(ctx context.Context, s *Spec, opt *Options) (_ *Lab, err error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if ctx == nil {
		return nil, fmt.Errorf("lab: build %s: nil context: %w", s.Name, netnsx.ErrInvalid)
	}
	spec := *s
	if opt == nil {
		opt = &Options{}
	}
	l := &Lab{spec: &spec, persist: opt.Persist, nodes: map[string]*netnsx.NS{}}
	op := "build " + s.Name
	if err := checkFree(s); err != nil {
		return nil, fmt.Errorf("lab: %s: %w", op, err)
	}
	st, err := createState(opt.stateDir(), s)
	if err != nil {
		return nil, fmt.Errorf("lab: %s: %w", op, err)
	}
	l.state = st.path
	defer func() {
		// Removed while still locked: once unlocked, the name may become another Build's.
		if err != nil {
			err = errors.Join(fmt.Errorf("lab: %s: %w", op, err), l.remove())
		}
		st.close()
	}()
	b := &builder{ctx: ctx, s: &spec, l: l, st: st, progress: opt.Progress}
	for _, step := range []func() error{b.nodes, b.bridges, b.links, b.overlays, b.routes, b.impairments, b.exec, b.start} {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := step(); err != nil {
			return nil, err
		}
	}
	return l, nil
}

type builder struct {
	ctx      context.Context
	s        *Spec
	l        *Lab
	st       *state
	progress func(Event)
	mu       sync.Mutex // serialises progress and the lab's maps during parallel steps
	brs      map[string]*bridge.Bridge
}

func (b *builder) report(phase string, done, total int) {
	if b.progress != nil {
		b.progress(Event{Phase: phase, Done: done, Total: total})
	}
}

// each runs fn for 0..n-1 on the given goroutines, reporting progress under phase, and
// returns the errors, joined. It stops handing out work at the first error.
func (b *builder) each(phase string, n, goroutines int, fn func(i int) error) error {
	if n == 0 {
		return nil
	}
	var (
		next, done int
		errs       []error
		wg         sync.WaitGroup
	)
	if goroutines > n {
		goroutines = n
	}
	for w := 0; w < max(goroutines, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				b.mu.Lock()
				if next >= n || len(errs) > 0 || b.ctx.Err() != nil {
					b.mu.Unlock()
					return
				}
				i := next
				next++
				b.mu.Unlock()
				err := fn(i)
				b.mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					done++
					b.report(phase, done, n)
				}
				b.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) == 0 {
		return b.ctx.Err()
	}
	return errors.Join(errs...)
}

func (b *builder) nodes() error {
	nodes := names(b.s.Topology.Nodes)
	return b.each("nodes", len(nodes), workers, func(i int) error {
		name := nodes[i]
		n := b.s.node(name)
		if err := b.st.append(stateLine{Making: b.s.Prefix + name}); err != nil {
			return fmt.Errorf("node %s: %w", name, err)
		}
		ns, err := netnsx.Create(netnsx.Config{Name: b.s.Prefix + name, IPv4Only: n.IPv4Only})
		if err != nil {
			return fmt.Errorf("node %s: %w", name, err)
		}
		b.mu.Lock()
		b.l.nodes[name] = ns
		b.l.order = append(b.l.order, ns)
		b.mu.Unlock()
		if err := b.st.addNamespace(ns.Name()); err != nil {
			return fmt.Errorf("node %s: %w", name, err)
		}
		for _, k := range names(n.Sysctls) {
			if err := ns.SetSysctl(k, n.Sysctls[k]); err != nil {
				return fmt.Errorf("node %s: %w", name, err)
			}
		}
		return nil
	})
}

func (b *builder) bridges() error {
	type br struct{ node, name string }
	var all []br
	for _, n := range names(b.s.Topology.Nodes) {
		for _, name := range names(b.s.Topology.Nodes[n].Bridges) {
			all = append(all, br{n, name})
		}
	}
	b.brs = map[string]*bridge.Bridge{}
	return b.each("bridges", len(all), 1, func(i int) error {
		x := all[i]
		cfg := b.s.Topology.Nodes[x.node].Bridges[x.name]
		dev, err := bridge.Create(b.l.nodes[x.node], bridge.Config{Name: x.name, Addrs: cfg.Addrs, MTU: cfg.MTU, STP: cfg.STP})
		if err != nil {
			return fmt.Errorf("topology.nodes.%s.bridges.%s: %w", x.node, x.name, err)
		}
		b.brs[x.node+":"+x.name] = dev
		return nil
	})
}

func (b *builder) end(e Endpoint) veth.End {
	end := veth.End{NS: b.l.nodes[e.Node], Name: e.Interface, Addrs: e.Addrs, HardwareAddr: e.HardwareAddr}
	if e.Bridge != "" {
		end.Master = b.brs[e.Node+":"+e.Bridge].Link
	}
	return end
}

func (b *builder) links() error {
	links := b.s.Topology.Links
	return b.each("links", len(links), workers, func(i int) error {
		l := links[i]
		_, err := veth.Create(veth.Config{A: b.end(l.Endpoints[0]), B: b.end(l.Endpoints[1]), MTU: l.MTU})
		if err != nil {
			return fmt.Errorf("topology.links[%d] %s-%s: %w", i, l.Endpoints[0], l.Endpoints[1], err)
		}
		return nil
	})
}

// vtep returns a member's VTEP address: its own, or the underlay's first IPv4 one.
func (s *Spec) vtep(m OverlayMember) netip.Addr {
	if m.Local.IsValid() {
		return m.Local
	}
	for _, a := range s.Topology.Nodes[m.Node].Bridges[m.Underlay].Addrs {
		if a.Addr().Is4() {
			return a.Addr()
		}
	}
	for _, l := range s.Topology.Links {
		for _, e := range l.Endpoints {
			if e.Node == m.Node && e.Interface == m.Underlay {
				for _, a := range e.Addrs {
					if a.Addr().Is4() {
						return a.Addr()
					}
				}
			}
		}
	}
	return netip.Addr{}
}

func (b *builder) overlays() error {
	type member struct{ o, m int }
	var all []member
	for i, o := range b.s.Topology.Overlays {
		for j := range o.Members {
			all = append(all, member{i, j})
		}
	}
	return b.each("overlays", len(all), 1, func(k int) error {
		o := b.s.Topology.Overlays[all[k].o]
		m := o.Members[all[k].m]
		port := o.Port
		if port == 0 {
			port = vxlan.IANAPort
		}
		cfg := vxlan.Config{Name: o.Name, VNI: o.VNI, Underlay: m.Underlay, Local: b.s.vtep(m), Port: port, Addrs: m.Addrs}
		if m.Bridge != "" {
			cfg.Master = b.brs[m.Node+":"+m.Bridge].Link
		}
		where := fmt.Sprintf("topology.overlays[%d].members[%d]", all[k].o, all[k].m)
		dev, err := vxlan.Create(b.l.nodes[m.Node], cfg)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		for _, peer := range o.Members {
			if peer.Node == m.Node {
				continue
			}
			if err := dev.AddRemote(b.s.vtep(peer)); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		return nil
	})
}

func (b *builder) routes() error {
	type route struct {
		node string
		i    int
	}
	var all []route
	for _, n := range names(b.s.Topology.Nodes) {
		for i := range b.s.Topology.Nodes[n].Routes {
			all = append(all, route{n, i})
		}
	}
	return b.each("routes", len(all), 1, func(k int) error {
		r := b.s.Topology.Nodes[all[k].node].Routes[all[k].i]
		if err := b.l.nodes[all[k].node].AddRoute(netnsx.Route{Dst: r.Dst, Gateway: r.Gateway, Dev: r.Dev}); err != nil {
			return fmt.Errorf("topology.nodes.%s.routes[%d]: %w", all[k].node, all[k].i, err)
		}
		return nil
	})
}

func (b *builder) impairments() error {
	type end struct{ link, end int }
	var all []end
	for i, l := range b.s.Topology.Links {
		for j := range l.Endpoints {
			if l.impair(j) != nil {
				all = append(all, end{i, j})
			}
		}
	}
	return b.each("impairments", len(all), 1, func(k int) error {
		l := b.s.Topology.Links[all[k].link]
		e, im := l.Endpoints[all[k].end], l.impair(all[k].end)
		where := fmt.Sprintf("topology.links[%d].endpoints[%d] %s", all[k].link, all[k].end, e)
		ns := b.l.nodes[e.Node]
		link, err := ns.Link(e.Interface)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if im.Rate != "" {
			rate, err := ParseRate(im.Rate)
			if err == nil {
				_, err = fault.LimitRate(link, fault.RateLimit{Rate: rate})
			}
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		if im.Loss > 0 {
			for _, a := range e.Addrs {
				if _, err := fault.Loss(ns, im.Loss, fault.Rule{Direction: fault.Out, Dst: a.Masked()}); err != nil {
					return fmt.Errorf("%s: %w", where, err)
				}
			}
		}
		if im.Down {
			if _, err := fault.Down(link); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		return nil
	})
}

// shell returns a command running c with /bin/sh -c.
func shell(c string) *exec.Cmd { return exec.Command("/bin/sh", "-c", c) }

// command is one of a node's Exec or Start commands.
type command struct {
	node, path, line string // path: "topology.nodes.a.exec[0]"
}

// commands lists the Exec (start false) or Start commands of every node, by node.
func (s *Spec) commands(start bool) []command {
	var all []command
	for _, n := range names(s.Topology.Nodes) {
		node, kind := s.node(n), "exec"
		list := node.Exec
		if start {
			list, kind = node.Start, "start"
		}
		for i, c := range list {
			all = append(all, command{n, fmt.Sprintf("topology.nodes.%s.%s[%d]", n, kind, i), c})
		}
	}
	return all
}

func (b *builder) exec() error {
	all := b.s.commands(false)
	return b.each("exec", len(all), 1, func(k int) error {
		c := all[k]
		// ctx ends the command, and what it started (its group).
		cmd := exec.CommandContext(b.ctx, "/bin/sh", "-c", c.line)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return unix.Kill(-cmd.Process.Pid, unix.SIGKILL) }
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := b.l.nodes[c.node].Run(cmd); err != nil {
			if cerr := b.ctx.Err(); cerr != nil {
				err = fmt.Errorf("%w (%w)", err, cerr)
			}
			return fmt.Errorf("%s %q: %w; output: %q", c.path, c.line, err, tail(out.String()))
		}
		return nil
	})
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 500 {
		s = "..." + s[len(s)-500:]
	}
	return s
}

func (b *builder) start() error {
	all := b.s.commands(true)
	return b.each("start", len(all), 1, func(k int) error {
		c := all[k]
		cmd := shell(c.line)
		// A group of its own, so that killing it kills what the shell started too.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := b.l.nodes[c.node].Start(cmd); err != nil {
			return fmt.Errorf("%s %q: %w", c.path, c.line, err)
		}
		p := &proc{node: c.node, cmd: cmd, done: make(chan struct{})}
		go func() { _ = cmd.Wait(); close(p.done) }()
		b.l.mu.Lock()
		b.l.procs = append(b.l.procs, p)
		b.l.mu.Unlock()
		if err := b.st.addProcess(cmd.Process.Pid); err != nil {
			return fmt.Errorf("%s: %w", c.path, err)
		}
		return nil
	})
}

// checkFree refuses a spec one of whose namespaces exists.
func checkFree(s *Spec) error {
	have, err := netnsx.List()
	if err != nil {
		return err
	}
	taken := map[string]bool{}
	for _, n := range have {
		taken[n] = true
	}
	var clash []string
	for _, n := range s.Namespaces() {
		if taken[n] {
			clash = append(clash, n)
		}
	}
	if len(clash) > 0 {
		return fmt.Errorf("namespaces taken: %s (is the lab up? `nstopo down` it, or give it another prefix): %w",
			strings.Join(clash, ", "), netnsx.ErrExists)
	}
	return nil
}

// remove kills the lab's processes, deletes its namespaces and its state file.
func (l *Lab) remove() error {
	l.mu.Lock()
	procs, order := l.procs, l.order
	l.procs, l.order, l.nodes = nil, nil, nil
	l.mu.Unlock()
	var errs []error
	for _, p := range procs {
		_ = unix.Kill(-p.cmd.Process.Pid, unix.SIGKILL)
		<-p.done
	}
	if len(order) > 0 {
		errs = append(errs, netnsx.DeleteAll(order...))
	}
	if l.state != "" {
		if err := os.Remove(l.state); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close ends the lab: without Persist, it kills the started processes and deletes every
// namespace and the state file; with Persist (and for a Lab from Attach), it only
// releases handles, and the started processes go on. Idempotent and nil-safe.
func (l *Lab) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	if !l.persist {
		if err := l.remove(); err != nil {
			return fmt.Errorf("lab: close %s: %w", l.spec.Name, err)
		}
		return nil
	}
	var errs []error
	for _, ns := range l.order {
		errs = append(errs, ns.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lab: close %s: %w", l.spec.Name, err)
	}
	return nil
}

// Attach opens a lab that is up, made by Build in another process (nstopo up): a handle
// on each of its namespaces. A missing namespace is ErrNotFound, naming it. Close of the
// Lab it returns releases the handles only.
func Attach(s *Spec, opt *Options) (*Lab, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	spec := *s
	l := &Lab{spec: &spec, persist: true, nodes: map[string]*netnsx.NS{}, state: statePath(opt.stateDir(), s.Name)}
	var missing []string
	var errs []error
	for _, n := range names(s.Topology.Nodes) {
		ns, err := netnsx.Open(s.Prefix + n)
		switch {
		case errors.Is(err, netnsx.ErrNotFound):
			missing = append(missing, s.Prefix+n)
		case err != nil:
			errs = append(errs, err)
		default:
			l.nodes[n] = ns
			l.order = append(l.order, ns)
		}
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("namespaces missing: %s (is the lab up?): %w", strings.Join(missing, ", "), netnsx.ErrNotFound))
	}
	if err := errors.Join(errs...); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("lab: attach %s: %w", s.Name, err)
	}
	return l, nil
}

// Destroy removes the lab s describes, as Build left it, even half-built by a Build whose
// process died: it kills each process the state file lists that is still the one Build
// started (same PID and start time) and runs in one of the lab's namespaces, deletes
// each namespace it lists that is still the one Build made (same device and inode of
// its nsfs file) and the one, if any, that Build was making when it died, then removes
// the state file. A namespace of the spec's
// that the state file does not vouch for is left alone and named in the error
// (ErrExists); so is a lab whose Build is still running. A lab that is not there is not
// an error: Destroy is idempotent. opt's StateDir must be Build's. Only the spec's own
// namespace names are taken from the state file: a name it lists that s does not have is
// left alone.
func Destroy(s *Spec, opt *Options) error {
	if err := s.Validate(); err != nil {
		return err
	}
	path := statePath(opt.stateDir(), s.Name)
	st, unlock, err := lockState(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("lab: destroy %s: %w", s.Name, err)
	}
	defer unlock()
	var errs []error
	owned := map[string]bool{}
	ours := map[string]bool{} // the state file is trusted for the spec's namespaces only
	for _, n := range s.Namespaces() {
		ours[n] = true
	}
	if st != nil {
		var nss []*netnsx.NS
		ids := map[string]bool{} // of the namespaces vouched for: a process to kill is in one
		open := func(name, id string) {
			if !ours[name] {
				return
			}
			if got, err := nsID(name); err != nil || (id != "" && got != id) {
				return // gone, or someone else's by now
			}
			ns, err := netnsx.Open(name)
			if err != nil {
				return
			}
			got, err := nsID(name)
			if err != nil || (id != "" && got != id) {
				_ = ns.Close()
				return
			}
			ids[got] = true
			owned[name] = true
			nss = append(nss, ns)
		}
		recorded := map[string]bool{}
		for _, n := range st.Namespaces {
			recorded[n.Name] = true
			open(n.Name, n.ID)
		}
		// A namespace Build died making, before it could record its identity.
		// If it died between making the file and mounting the namespace on it, the file
		// is still the directory's own (not an nsfs mount): remove it.
		for _, n := range st.Making {
			if !recorded[n] {
				open(n, "")
				if !owned[n] && ours[n] && unmounted(n) {
					if err := os.Remove(filepath.Join(netnsDir, n)); err == nil {
						owned[n] = true
					}
				}
			}
		}
		for _, p := range st.Procs {
			if startTime(p.PID) == p.Start && ids[procNetID(p.PID)] {
				_ = unix.Kill(-p.PID, unix.SIGKILL)
				_ = unix.Kill(p.PID, unix.SIGKILL)
			}
		}
		if len(nss) > 0 {
			errs = append(errs, netnsx.DeleteAll(nss...))
		}
	}
	var foreign []string
	for _, n := range s.Namespaces() {
		if !owned[n] {
			if _, err := os.Lstat(filepath.Join(netnsDir, n)); err == nil {
				foreign = append(foreign, n)
			}
		}
	}
	if len(foreign) > 0 {
		errs = append(errs, fmt.Errorf("namespaces not made by this lab's Build left alone: %s (remove them with `ip netns del`): %w",
			strings.Join(foreign, ", "), netnsx.ErrExists))
	}
	if st != nil && errors.Join(errs...) == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lab: destroy %s: %w", s.Name, err)
	}
	return nil
}

// The state file, <StateDir>/<lab>.json, is JSON lines, appended to as Build goes, so
// that a Build that dies leaves a record of all it made: a header, then a line per
// namespace made and per process started.
type stateLine struct {
	Lab       string   `json:"lab,omitempty"`
	Prefix    string   `json:"prefix,omitempty"`
	Planned   []string `json:"planned,omitempty"`
	Making    string   `json:"making,omitempty"` // a namespace about to be made
	Namespace string   `json:"namespace,omitempty"`
	ID        string   `json:"id,omitempty"` // "dev:inode" of the namespace's nsfs file
	PID       int      `json:"pid,omitempty"`
	Start     uint64   `json:"start,omitempty"` // the process's start time, in clock ticks after boot
}

type stateNS struct{ Name, ID string }
type stateProc struct {
	PID   int
	Start uint64
}

type stateFile struct {
	Namespaces []stateNS
	Making     []string // namespaces Build set out to make, whose identity it may not have recorded
	Procs      []stateProc
}

type state struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func statePath(dir, lab string) string { return filepath.Join(dir, lab+".json") }

// createState writes a new state file for s; one that exists is refused unless nothing
// it lists is there any more.
func createState(dir string, s *Spec) (*state, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, unwritable(fmt.Errorf("state directory: %w", err))
	}
	path := statePath(dir, s.Name)
	old, unlock, err := lockState(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, unwritable(err)
	}
	if old != nil {
		for _, n := range old.Namespaces {
			if id, err := nsID(n.Name); err == nil && id == n.ID {
				unlock()
				return nil, fmt.Errorf("lab %s is up: %s lists namespace %s (`nstopo down` it first): %w", s.Name, path, n.Name, netnsx.ErrExists)
			}
		}
		err := os.Remove(path) // what it lists is gone
		unlock()
		if err != nil {
			return nil, err
		}
	}
	// Made under a temporary name, locked and linked into place, so that no other Build
	// or Destroy ever sees it unlocked (and takes it for a dead Build's).
	f, err := os.CreateTemp(dir, "."+s.Name+".json.*")
	if err != nil {
		return nil, unwritable(fmt.Errorf("state file: %w", err))
	}
	defer func() { _ = os.Remove(f.Name()) }()
	// Held until Build returns: Destroy refuses a lab whose Build is still running.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("state file: lock: %w", err)
	}
	st := &state{path: path, f: f}
	if err := st.append(stateLine{Lab: s.Name, Prefix: s.Prefix, Planned: s.Namespaces()}); err != nil {
		st.close()
		return nil, err
	}
	if err := f.Chmod(0o644); err != nil {
		st.close()
		return nil, fmt.Errorf("state file: %w", err)
	}
	if err := os.Link(f.Name(), path); err != nil {
		st.close()
		if errors.Is(err, os.ErrExist) {
			err = fmt.Errorf("%w: %w", err, netnsx.ErrExists)
		}
		return nil, fmt.Errorf("state file: %w", err)
	}
	return st, nil
}

// unwritable says what to do about a state directory Build cannot make or write; a
// refusal for want of permission (the default one, root's, for a user) wraps
// netnsx.ErrPermission.
func unwritable(err error) error {
	const hint = "set Options.StateDir to a directory this process can write"
	if errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EROFS) {
		return fmt.Errorf("%w (%s): %w", err, hint, netnsx.ErrPermission)
	}
	return fmt.Errorf("%w (%s)", err, hint)
}

func (st *state) append(l stateLine) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, err := st.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}

func (st *state) addNamespace(name string) error {
	id, err := nsID(name)
	if err != nil {
		return err
	}
	return st.append(stateLine{Namespace: name, ID: id})
}

func (st *state) addProcess(pid int) error {
	return st.append(stateLine{PID: pid, Start: startTime(pid)})
}

func (st *state) close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.f != nil {
		_ = st.f.Close()
		st.f = nil
	}
}

// lockState opens the state file, takes its lock (refusing a lab whose Build is still
// running) and reads it; unlock releases the lock.
func lockState(path string) (_ *stateFile, unlock func(), err error) {
	unlock = func() {}
	f, err := os.Open(path)
	if err != nil {
		return nil, unlock, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			err = fmt.Errorf("a Build of the lab is still running (%s is locked): %w", path, netnsx.ErrExists)
		}
		return nil, unlock, err
	}
	// The lock is on the file opened; the name may have been removed (by the lock's
	// holder) and given to another's file since: then that one is not ours to judge.
	var a, b unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &a); err != nil || unix.Stat(path, &b) != nil || a.Dev != b.Dev || a.Ino != b.Ino {
		_ = f.Close()
		return nil, unlock, fmt.Errorf("%s was replaced while being locked (another Build or Destroy of the lab is running): %w", path, netnsx.ErrExists)
	}
	st, err := readState(path)
	return st, func() { _ = f.Close() }, err
}

func readState(path string) (*stateFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st stateFile
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<26)
	for sc.Scan() {
		var l stateLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			continue // a line cut short by a crash
		}
		if l.Making != "" {
			st.Making = append(st.Making, l.Making)
		}
		if l.Namespace != "" {
			st.Namespaces = append(st.Namespaces, stateNS{l.Namespace, l.ID})
		}
		if l.PID > 0 {
			st.Procs = append(st.Procs, stateProc{l.PID, l.Start})
		}
	}
	return &st, nil
}

// nsID identifies the namespace mounted at /run/netns/name: the device and inode of its
// nsfs file, which no other namespace has while it exists.
func nsID(name string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(netnsDir, name), &st); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino), nil
}

// procNetID identifies the network namespace of process pid as nsID does; "" if none.
func procNetID(pid int) string {
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st); err != nil {
		return ""
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// unmounted reports whether /run/netns/name is a plain empty file of the directory's own
// file system, with no namespace mounted on it.
func unmounted(name string) bool {
	var dir, f unix.Stat_t
	if unix.Stat(netnsDir, &dir) != nil || unix.Stat(filepath.Join(netnsDir, name), &f) != nil {
		return false
	}
	return f.Dev == dir.Dev && f.Mode&unix.S_IFMT == unix.S_IFREG && f.Size == 0
}

// startTime returns field 22 of /proc/PID/stat, the process's start time; 0 if there is
// no such process.
func startTime(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}
