// Command nstopo-overlay runs the overlay's control plane on etcd: an agent per host,
// networks, containers attached to and detached from them, and a demo that plays a
// cluster of hosts on one machine.
//
//	nstopo-overlay network -etcd URLS -name NAME -vni N -subnet CIDR
//	nstopo-overlay agent   -etcd URLS -host NAME -vtep ADDR [-underlay DEV] [-netns NS] [-socket PATH]
//	nstopo-overlay attach  [-socket PATH | -host NAME] -network NAME -name NAME -netns NS [-ip ADDR]
//	nstopo-overlay detach  [-socket PATH | -host NAME] -network NAME -ip ADDR
//	nstopo-overlay demo    [-hosts N] [-containers N] [-etcd URLS] [-ttl D]
//
// attach and detach ask the host's running agent, over its unix socket, which owns the
// host's lease: an endpoint lives as long as its host's agent.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/nstopo/nstopo/overlay"
)

const usage = `usage: nstopo-overlay <command> [flags]

commands:
  network  record a network (name, VNI, subnet) in etcd
  agent    run a host's agent: register it, keep its VXLAN devices in step with etcd
  attach   put a network namespace on a network through the host's agent
  detach   take an endpoint off its network
  demo     simulate hosts on this machine, one agent each, and show the overlay work

run "nstopo-overlay <command> -h" for a command's flags`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"network": runNetwork, "agent": runAgent, "attach": runAttach, "detach": runDetach, "demo": runDemo,
	}
	run, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err := run(os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "nstopo-overlay "+os.Args[1]+":", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "nstopo-overlay "+os.Args[1]+":", err)
		os.Exit(1)
	}
}

// etcdFlags are the flags of every command that speaks to etcd.
type etcdFlags struct {
	urls        string
	prefix      string
	dialTimeout time.Duration
}

func (e *etcdFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.urls, "etcd", "http://127.0.0.1:2379", "etcd client URLs, comma-separated")
	fs.StringVar(&e.prefix, "prefix", overlay.DefaultPrefix, "where the overlay's keys live in etcd")
	fs.DurationVar(&e.dialTimeout, "dial-timeout", 5*time.Second, "how long to wait for etcd to answer")
}

// client makes an etcd client. It does not connect yet: the first request, bounded by
// the dial timeout, tells whether etcd answers.
func (e *etcdFlags) client() (*clientv3.Client, error) {
	var urls []string
	for _, u := range strings.Split(e.urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return nil, errors.New("-etcd: no URL")
	}
	return clientv3.New(clientv3.Config{Endpoints: urls, DialTimeout: e.dialTimeout, Logger: zap.NewNop()})
}

// usageError is a mistake in the command line: exit status 2, as the flag package's.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	return nil
}

// required names the flags that are missing, all at once.
func required(flags map[string]string) error {
	var missing []string
	for name, v := range flags {
		if v == "" {
			missing = append(missing, "-"+name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return usagef("%s required", strings.Join(missing, ", "))
}

// wholeSeconds refuses a TTL etcd cannot grant: leases are whole seconds.
func wholeSeconds(flag string, d time.Duration) error {
	if d < time.Second || d%time.Second != 0 {
		return usagef("-%s %v: etcd leases are whole seconds, at least 1s", flag, d)
	}
	return nil
}
