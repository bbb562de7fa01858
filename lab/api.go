package lab

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/nstopo/nstopo/bridge"
	"github.com/nstopo/nstopo/netnsx"
)

var errTODO = errors.New("lab: not implemented yet")

// Format is the syntax of a lab file.
type Format int

const (
	YAML Format = iota // YAML 1.2, containerlab's syntax; the zero value
	JSON               // JSON
)

// Parse reads a lab description. It is strict: a field the format does not have is an
// error naming its path (and line, in YAML), never silently ignored. It does not
// Validate the result.
func Parse(data []byte, format Format) (*Spec, error) { return nil, errTODO }

// Load reads the lab file at path, YAML or JSON by its extension (.yaml, .yml, .json).
func Load(path string) (*Spec, error) { return nil, errTODO }

// FieldError is one problem of a description: where it is, and what.
type FieldError struct {
	Path string // "links[3].endpoints[1]", "topology.nodes.c1.bridges.br0"
	Err  error  // wraps netnsx.ErrInvalid
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Validate checks the whole description without touching the kernel and returns every
// problem at once, joined (errors.Join) as *FieldError values sorted by path, each
// wrapping netnsx.ErrInvalid; nil if there is none.
func (s *Spec) Validate() error { return errTODO }

// Namespaces returns the names of the namespaces the lab makes, Prefix applied, sorted.
func (s *Spec) Namespaces() []string { return nil }

// DOT draws the description as a Graphviz graph, without touching the kernel.
func (s *Spec) DOT() string { return "" }

// Mermaid draws the description as a Mermaid flowchart, without touching the kernel.
func (s *Spec) Mermaid() string { return "" }

// Options tune Build. A nil *Options is the zero value.
type Options struct {
	// Progress, if set, is called from Build's goroutine as steps complete, for a
	// progress line; nil: nothing is reported.
	Progress func(Event)
	// Persist leaves the lab in place when the Lab is closed, for `nstopo up`: Close
	// then only releases handles, and Destroy removes the lab. False (tests): Close
	// deletes everything the lab made.
	Persist bool
	// StateDir is where the lab's state file is kept; "": DefaultStateDir.
	StateDir string
}

// DefaultStateDir holds the state file of each lab that is built: <name>.json.
const DefaultStateDir = "/run/nstopo/labs"

// Event reports progress: Done of Total steps of Phase ("nodes", "bridges", "links",
// "overlays", "routes", "impairments", "exec", "start") are complete.
type Event struct {
	Phase       string
	Done, Total int
}

// Build validates s, refuses with ErrExists, before making anything, when one of its
// namespace names is taken, and makes the whole lab: all of it, or nothing.
func Build(ctx context.Context, s *Spec, opt *Options) (*Lab, error) { return nil, errTODO }

// Attach opens a lab that is up, made by Build in another process (nstopo up). A missing
// namespace is ErrNotFound, naming it. The Lab it returns has Persist set: Close releases
// handles only.
func Attach(s *Spec, opt *Options) (*Lab, error) { return nil, errTODO }

// Destroy removes the lab s describes, as Build left it, even half-built by a Build that
// crashed: every namespace named in its state file that still is the namespace Build
// made, and the processes it started; then the state file. A lab that is not there is
// not an error.
func Destroy(s *Spec, opt *Options) error { return errTODO }

// Lab is a built lab: it owns every namespace, link and process the description made.
type Lab struct {
	spec *Spec
}

// Spec returns the description the lab was built from.
func (l *Lab) Spec() *Spec { return l.spec }

// Node returns the namespace of the node called name. ErrNotFound if the spec has no such
// node. The handle belongs to the lab: do not close it.
func (l *Lab) Node(name string) (*netnsx.NS, error) { return nil, errTODO }

// Link returns the interface ifname in node.
func (l *Lab) Link(node, ifname string) (*netnsx.Link, error) { return nil, errTODO }

// Bridge returns the bridge called name in node.
func (l *Lab) Bridge(node, name string) (*bridge.Bridge, error) { return nil, errTODO }

// PingResult is one ping of PingAll.
type PingResult struct {
	From, To string     // node names
	Addr     netip.Addr // the address pinged, one of To's in the spec
	RTT      time.Duration
	Err      error // nil: it answered
}

// Reachability is the outcome of PingAll.
type Reachability struct {
	Results []PingResult
}

// Lost returns how many pings got no answer.
func (r *Reachability) Lost() int { return 0 }

// String prints the results as a table, one line per ping.
func (r *Reachability) String() string { return "" }

// PingAll pings, from every node, every address the spec gives an interface of another
// node, all at once — Mininet's pingAll. An unanswered ping is a result, not an error.
func (l *Lab) PingAll(ctx context.Context) (*Reachability, error) { return nil, errTODO }

// Inspect reads what the lab's namespaces hold now (netnsx.Inspect).
func (l *Lab) Inspect() (*netnsx.Snapshot, error) { return nil, errTODO }

// DOT draws the lab as the kernel has it now.
func (l *Lab) DOT() (string, error) { return "", errTODO }

// Mermaid draws the lab as the kernel has it now.
func (l *Lab) Mermaid() (string, error) { return "", errTODO }

// Close ends the lab: without Persist, it kills the started processes and deletes every
// namespace and the state file; with Persist, it only releases handles. Idempotent and
// nil-safe.
func (l *Lab) Close() error { return nil }
