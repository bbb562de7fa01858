package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/netnsx"
)

func runGraph(_ context.Context, args []string) (int, error) {
	var format *string
	_, _, s, err := fileCommand("graph", "[-format dot|mermaid] [-prefix P] FILE", args, func(fs *flag.FlagSet) {
		format = fs.String("format", "dot", "`dot` (Graphviz) or mermaid")
	})
	if err != nil {
		return 0, err
	}
	if *format != "dot" && *format != "mermaid" {
		return 0, usagef(`-format must be "dot" or "mermaid", not %q`, *format)
	}
	out := s.DOT()
	if *format == "mermaid" {
		out = s.Mermaid()
	}
	_, err = io.WriteString(os.Stdout, out)
	return exitOK, err
}

func runValidate(_ context.Context, args []string) (int, error) {
	fs := newFlagSet("validate", "FILE")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return 0, err
	}
	path := pos[0]
	s, err := lab.Load(path)
	if err == nil {
		err = s.Validate()
	}
	if err != nil {
		problems := flatten(err)
		for _, p := range problems {
			// Every problem is invalid input: the sentinel's words add nothing here.
			fmt.Fprintf(os.Stderr, "%s: %s\n", path, strings.TrimSuffix(p.Error(), ": "+netnsx.ErrInvalid.Error()))
		}
		return 0, usagef("%s: %s", path, count(len(problems), "problem"))
	}
	fmt.Printf("%s: lab %s: %s, %s, %s: ok\n", path, s.Name, count(len(s.Topology.Nodes), "node"),
		count(len(s.Topology.Links), "link"), count(len(s.Topology.Overlays), "overlay"))
	return exitOK, nil
}

func runPing(ctx context.Context, args []string) (int, error) {
	var verbose *bool
	lf, path, s, err := fileCommand("ping", "[-prefix P] [-v] FILE", args, func(fs *flag.FlagSet) {
		verbose = fs.Bool("v", false, "list every lost ping, not only the first ten")
	})
	if err != nil {
		return 0, err
	}
	l, err := lab.Attach(s, lf.options())
	if errors.Is(err, netnsx.ErrNotFound) {
		return 0, fmt.Errorf("%w\nis the lab up? (%s)", err, lf.again("up", path))
	}
	if err != nil {
		return 0, err
	}
	defer l.Close()
	ctx, stop := interruptible(ctx, "stopping")
	defer stop()
	r, err := l.PingAll(ctx)
	if ctx.Err() != nil {
		return 0, errInterrupted
	}
	if err != nil {
		return 0, err
	}
	printMatrix(os.Stdout, r, *verbose)
	if lost := r.Lost(); lost > 0 {
		return exitFailed, nil
	}
	return exitOK, nil
}

// matrixMax is the most nodes ping draws as a matrix; more get a line each.
const matrixMax = 16

// pingCell counts the pings from one node to another.
type pingCell struct{ sent, got int }

// String is the cell in the matrix: "ok" (every address answered), "X" (none), "2/3"
// (some), "-" (nothing pinged).
func (c *pingCell) String() string {
	switch {
	case c == nil:
		return "-"
	case c.got == c.sent:
		return "ok"
	case c.got == 0:
		return "X"
	}
	return fmt.Sprintf("%d/%d", c.got, c.sent)
}

// printMatrix prints the reachability as a matrix, one row per node that pinged, one
// column per node pinged (past matrixMax nodes, a line per node: what it reached and
// what not), then the lost pings (the first ten unless all) and Mininet's summary line.
func printMatrix(w io.Writer, r *lab.Reachability, all bool) {
	if len(r.Results) == 0 {
		fmt.Fprintln(w, "nothing to ping: no node has an address on a link")
		return
	}
	cells := map[[2]string]*pingCell{}
	seen := map[string]bool{}
	for _, p := range r.Results {
		seen[p.From], seen[p.To] = true, true
		k := [2]string{p.From, p.To}
		if cells[k] == nil {
			cells[k] = &pingCell{}
		}
		cells[k].sent++
		if p.Err == nil {
			cells[k].got++
		}
	}
	var nodes []string
	for n := range seen {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(nodes) <= matrixMax {
		fmt.Fprintf(tw, "from \\ to\t%s\n", strings.Join(nodes, "\t"))
	} else {
		fmt.Fprintln(tw, "from\treceived\tunreachable")
	}
	for _, from := range nodes {
		row := []string{from}
		var sum pingCell
		var not []string
		for _, to := range nodes {
			c := cells[[2]string{from, to}]
			row = append(row, c.String())
			if c != nil {
				sum.sent, sum.got = sum.sent+c.sent, sum.got+c.got
				if c.got < c.sent {
					not = append(not, to)
				}
			}
		}
		switch {
		case sum.sent == 0: // a node with addresses but nothing to ping from
		case len(nodes) <= matrixMax:
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		default:
			fmt.Fprintf(tw, "%s\t%d/%d\t%s\n", from, sum.got, sum.sent, list(not))
		}
	}
	tw.Flush()
	sent, lost := len(r.Results), 0
	const shown = 10
	for _, p := range r.Results {
		if p.Err != nil {
			lost++
			if all || lost <= shown {
				fmt.Fprintf(w, "lost: %s -> %s %s: %v\n", p.From, p.To, p.Addr, p.Err)
			}
		}
	}
	if !all && lost > shown {
		fmt.Fprintf(w, "lost: %d more (-v lists them)\n", lost-shown)
	}
	fmt.Fprintf(w, "*** Results: %d%% dropped (%d/%d received)\n", lost*100/sent, sent-lost, sent)
}

func runInspect(_ context.Context, args []string) (int, error) {
	fs := newFlagSet("inspect", "[-format text|dot|mermaid|json] [-prefix P] [FILE | NS...]")
	var lf labFlags
	lf.register(fs)
	format := fs.String("format", "text", "`text` (as ip -br addr and ip route), dot, mermaid or json")
	pos, err := parse(fs, args, 0, -1)
	if err != nil {
		return 0, err
	}
	switch *format {
	case "text", "dot", "mermaid", "json":
	default:
		return 0, usagef(`-format must be "text", "dot", "mermaid" or "json", not %q`, *format)
	}
	var names []string // none: the host and every named namespace
	if len(pos) == 1 && isLabFile(pos[0]) {
		s, err := lf.load(pos[0])
		if err != nil {
			return 0, err
		}
		if err := needPrivilege("inspect"); err != nil {
			return 0, err
		}
		if names, err = present(s); err != nil {
			return 0, err
		}
		if len(names) == 0 {
			return 0, fmt.Errorf("no namespace of lab %s is there: is it up? (%s)", s.Name, lf.again("up", pos[0]))
		}
	} else {
		if lf.prefix != "" {
			return 0, usagef("-prefix goes with a lab file, not with namespace names")
		}
		if err := needPrivilege("inspect"); err != nil {
			return 0, err
		}
		names = pos
	}
	var nss []*netnsx.NS
	defer func() {
		for _, ns := range nss {
			ns.Close()
		}
	}()
	for _, n := range names {
		open := netnsx.Open
		if strings.Contains(n, "/") {
			open = netnsx.OpenPath // /var/run/docker/netns/<id>, /proc/<pid>/ns/net
		}
		ns, err := open(n)
		if err != nil {
			return 0, err
		}
		nss = append(nss, ns)
	}
	snap, err := netnsx.Inspect(nss...)
	if err != nil {
		return 0, err
	}
	switch *format {
	case "dot":
		_, err = io.WriteString(os.Stdout, snap.DOT())
	case "mermaid":
		_, err = io.WriteString(os.Stdout, snap.Mermaid())
	case "json":
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(snap)
	default:
		for _, ni := range snap.Namespaces {
			printNS(os.Stdout, ni)
		}
	}
	return exitOK, err
}

// isLabFile tells a lab file from a namespace name by its extension.
func isLabFile(arg string) bool {
	switch filepath.Ext(arg) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// printNS prints like `ip -br addr` and `ip route`.
func printNS(w io.Writer, ni netnsx.NamespaceInfo) {
	fmt.Fprintf(w, "== %s\n", ni.Name)
	for _, l := range ni.Links {
		name := l.Name
		if l.Peer != nil {
			name += "@" + l.Peer.Name
		}
		state := "DOWN"
		if l.Up {
			state = "UP"
		}
		var addrs []string
		for _, a := range l.Addrs {
			addrs = append(addrs, a.String())
		}
		if l.Master != "" {
			addrs = append(addrs, "master "+l.Master)
		}
		fmt.Fprintf(w, "%-16s %-6s %s\n", name, state, strings.Join(addrs, " "))
	}
	for _, r := range ni.Routes {
		dst := r.Dst.String()
		if r.Dst.Bits() == 0 {
			dst = "default"
		}
		line := dst
		if r.Gateway.IsValid() {
			line += " via " + r.Gateway.String()
		}
		if r.Dev != "" {
			line += " dev " + r.Dev
		}
		if r.Src.IsValid() {
			line += " src " + r.Src.String()
		}
		fmt.Fprintln(w, line)
	}
}

// count is "1 thing" or "n things".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
