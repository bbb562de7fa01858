// Command nstopo builds, shows and removes whole labs described in one file, as
// containerlab's clab deploy/destroy/graph and Mininet's pingAll do. A lab file (YAML or
// JSON, see package lab) names nodes, which are network namespaces, and the bridges,
// veth links, VXLAN overlays, routes and commands in them.
//
//	nstopo up       [-prefix P] [-progress] FILE
//	nstopo down     [-prefix P] FILE
//	nstopo graph    [-format dot|mermaid] [-prefix P] FILE
//	nstopo ping     [-prefix P] [-v] FILE
//	nstopo exec     [-f FILE [-prefix P]] NODE -- CMD [ARG...]
//	nstopo inspect  [-format text|dot|mermaid|json] [-prefix P] [FILE | NS...]
//	nstopo validate FILE
//	nstopo version
//
// Run "nstopo -h" for what each does and the exit codes. up, down, ping, exec and inspect
// need CAP_SYS_ADMIN and CAP_NET_ADMIN (root); graph and validate run as any user.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

// Exit codes: stable, for scripts.
const (
	exitOK          = 0   // done
	exitFailed      = 1   // the operation failed: the kernel refused, a name was taken, a ping was lost, no privilege
	exitUsage       = 2   // a mistake on the command line or in the lab file: nothing was touched
	exitInterrupted = 130 // SIGINT or SIGTERM: what the command made is removed
)

const usage = `usage: nstopo <command> [flags] [args]

commands:
  up FILE          build the lab FILE describes and leave it up (all or nothing)
  down FILE        remove what "nstopo up FILE" made, even after up crashed; nothing up: exit 0
  graph FILE       draw the lab from the file alone (-format dot or mermaid); no kernel, any user
  ping FILE        ping, from every node of a lab that is up, every address of the other nodes
  exec NODE -- CMD run CMD inside the node's namespace, as "ip netns exec" does; NODE is a
                   namespace name, or a node of the file given with -f FILE
  inspect [FILE | NS...]
                   show what the lab's namespaces (or the named ones, or all) hold now
                   (-format text, dot, mermaid or json)
  validate FILE    check the file and list every problem at once; any user
  version          print the version

flags:
  -prefix P        (up, down, ping, exec, inspect, graph) use P instead of the file's prefix:
                   namespaces are named P+node, and the lab is recorded apart from the
                   file's own, so a second copy (a test's) never meets the first
  -progress        (up) show progress on stderr even when it is not a terminal

The namespaces are named, persistent and visible to "ip netns list". up records what it
makes in $NSTOPO_STATE_DIR (default /run/nstopo/labs) before making it, so down removes
exactly that, and nothing of the same name made by anyone else.

exit status:
  0    done
  1    the operation failed: the kernel refused, a namespace name is taken (up; down,
       by a namespace up did not make, which it leaves alone), a ping got no answer
       (ping), no privilege (up, down, ping, exec and inspect need
       CAP_SYS_ADMIN and CAP_NET_ADMIN: run them as root)
  2    a mistake on the command line or in the lab file (validate: the file has
       problems); nothing was touched
  130  interrupted (SIGINT or SIGTERM); up removes what it had made
  exec passes the command's own exit status through (128+N when signal N killed it)

run "nstopo <command> -h" for a command's flags`

// command is one subcommand: it returns the exit status when it ends without an error
// (exec passes its child's through), and an error classified by exit.
type command func(ctx context.Context, args []string) (int, error)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return exitUsage
	}
	cmds := map[string]command{
		"up": runUp, "down": runDown, "graph": runGraph, "ping": runPing, "exec": runExec,
		"inspect": runInspect, "validate": runValidate, "version": runVersion,
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		fmt.Println(usage)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	cmd, ok := cmds[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "nstopo: unknown command %q\n\n%s\n", name, usage)
		return exitUsage
	}
	// A write to a closed pipe (output piped into head) fails instead of killing us.
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code, err := cmd(ctx, args[1:])
	return exit(os.Stderr, name, code, err)
}

// exit reports err on w and returns the exit status it stands for.
func exit(w io.Writer, name string, code int, err error) int {
	var ue usageError
	switch {
	case err == nil:
		return code
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errInterrupted):
		fmt.Fprintf(w, "nstopo %s: %v\n", name, err)
		return exitInterrupted
	case errors.As(err, &ue):
		fmt.Fprintf(w, "nstopo %s: %s\n", name, indent(err.Error()))
		return exitUsage
	}
	fmt.Fprintf(w, "nstopo %s: %s\n", name, indent(err.Error()))
	return exitFailed
}

// indent keeps a many-line error (errors.Join) readable after the command's name.
func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }

// usageError is a mistake on the command line or in the lab file: exit status 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// errInterrupted ends a command that a signal stopped: exit status 130.
var errInterrupted = errors.New("interrupted")

func runVersion(_ context.Context, args []string) (int, error) {
	fs := newFlagSet("version", "")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return 0, err
	}
	fmt.Println("nstopo", version())
	return exitOK, nil
}

// version is the module's version and, for a build from a checkout, its commit.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev + dirty
	}
	return v + " " + bi.GoVersion
}

// newFlagSet makes a command's flag set; its usage line is synopsis.
func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: nstopo %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before or after the positional arguments (nstopo up
// FILE -prefix p), and wants between min and max of them (max < 0: any number). After
// "--" every argument is positional.
func parse(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < min:
		return nil, usagef("want %s, got %d%s", want(min, max), len(pos), seeHelp(fs))
	case max >= 0 && len(pos) > max:
		return nil, usagef("want %s, got %d: %q%s", want(min, max), len(pos), pos, seeHelp(fs))
	}
	return pos, nil
}

func want(min, max int) string {
	switch {
	case min == max && min == 0:
		return "no argument"
	case min == max && min == 1:
		return "one argument"
	case min == max:
		return fmt.Sprintf("%d arguments", min)
	case max < 0:
		return fmt.Sprintf("at least %d", min)
	}
	return fmt.Sprintf("%d to %d arguments", min, max)
}

func seeHelp(fs *flag.FlagSet) string { return ` (run "nstopo ` + fs.Name() + ` -h")` }
