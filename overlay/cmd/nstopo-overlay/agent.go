package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nstopo/nstopo/internal/privilege"
	"github.com/nstopo/nstopo/netnsx"
	"github.com/nstopo/nstopo/overlay"
)

// socketDir holds each agent's unix socket by default, readable by root only.
const socketDir = "/run/nstopo-overlay"

func defaultSocket(host string) string { return filepath.Join(socketDir, host+".sock") }

func runNetwork(args []string) error {
	fs := flag.NewFlagSet("network", flag.ContinueOnError)
	var e etcdFlags
	e.register(fs)
	name := fs.String("name", "", "the network's name")
	vni := fs.Uint("vni", 0, "its VXLAN network identifier (1-16777215), unique among networks (required)")
	subnet := fs.String("subnet", "", "its IPv4 subnet, e.g. 10.200.0.0/24 (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	vniText := ""
	if *vni != 0 {
		vniText = fmt.Sprint(*vni)
	}
	if err := required(map[string]string{"name": *name, "vni": vniText, "subnet": *subnet}); err != nil {
		return err
	}
	p, err := netip.ParsePrefix(*subnet)
	if err != nil {
		return usagef("-subnet %q: %v", *subnet, err)
	}
	if *vni > 1<<24-1 {
		return usagef("-vni %d: out of range 1..16777215", *vni)
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), e.dialTimeout)
	defer cancel()
	return overlay.CreateNetwork(ctx, c, e.prefix, overlay.Network{Name: *name, VNI: uint32(*vni), Subnet: p})
}

func runAgent(args []string) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	var e etcdFlags
	e.register(fs)
	host := fs.String("host", "", "this host's name in the overlay (default: the hostname)")
	vtep := fs.String("vtep", "", "this host's IPv4 address on the underlay, where the others send VXLAN (required)")
	underlay := fs.String("underlay", "", "the device VXLAN leaves by (default: by route)")
	nsName := fs.String("netns", "", "the host's network namespace: a name under /run/netns or a path (default: the agent's own)")
	socket := fs.String("socket", "", "the unix socket attach and detach use (default: "+socketDir+"/HOST.sock)")
	ttl := fs.Duration("ttl", 10*time.Second, "the host's lease, whole seconds: how long its entries outlive a crashed agent")
	verbose := fs.Bool("v", false, "log every reconcile")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *host == "" {
		h, err := os.Hostname()
		if err != nil {
			return err
		}
		*host = h
	}
	if err := required(map[string]string{"vtep": *vtep}); err != nil {
		return err
	}
	addr, err := netip.ParseAddr(*vtep)
	if err != nil {
		return usagef("-vtep %q: %v", *vtep, err)
	}
	if err := wholeSeconds("ttl", *ttl); err != nil {
		return err
	}
	if *socket == "" {
		*socket = defaultSocket(*host)
	}
	// Said now, not at the first attach after the host was registered.
	if !privilege.Has() {
		return errors.New("the agent changes the host's network: it needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run it as root)")
	}
	ns, err := openNS(*nsName, true)
	if err != nil {
		return err
	}
	defer ns.Close()
	c, err := e.client()
	if err != nil {
		return err
	}
	defer c.Close()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sctx, cancel := context.WithTimeout(ctx, e.dialTimeout)
	defer cancel()
	a, err := overlay.Start(sctx, overlay.Config{Client: c, Prefix: e.prefix, Host: *host, VTEP: addr, NS: ns,
		Underlay: *underlay, TTL: *ttl, Log: log})
	if err != nil {
		return err
	}
	// From here on the lease is ours: every way out revokes it.
	closeAgent := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), e.dialTimeout)
		defer cancel()
		return a.Close(ctx)
	}
	select {
	case <-a.Synced():
	case <-sctx.Done():
		return errors.Join(fmt.Errorf("etcd did not answer the first read: %w", sctx.Err()), closeAgent())
	}
	l, err := listenUnix(*socket)
	if err != nil {
		return errors.Join(err, closeAgent())
	}
	srv := &http.Server{Handler: handler(a), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	log.Info("agent ready", "host", *host, "vtep", addr, "socket", *socket, "lease_ttl", *ttl)
	<-ctx.Done()
	log.Info("agent stopping: revoking the lease")
	_ = srv.Close()
	_ = os.Remove(*socket)
	return closeAgent()
}

// listenUnix listens on path, replacing a socket a dead agent left, and lets only the
// owner connect: attaching changes the host's network.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("socket %s: %w (choose another with -socket)", path, err)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("socket %s: another agent listens on it", path)
		}
		_ = os.Remove(path)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// openNS opens a namespace by name under /run/netns or by absolute path; "" is the
// process's own when empty is allowed.
func openNS(s string, empty bool) (*netnsx.NS, error) {
	switch {
	case s == "" && empty:
		return netnsx.Host()
	case s == "":
		return nil, fmt.Errorf("-netns: required: %w", netnsx.ErrInvalid)
	case filepath.IsAbs(s):
		return netnsx.OpenPath(s)
	default:
		return netnsx.Open(s)
	}
}

// attachRequest and detachRequest are the agent socket's requests; an endpoint comes
// back as endpointJSON.
type attachRequest struct {
	Network string     `json:"network"`
	Name    string     `json:"name"`
	NetNS   string     `json:"netns"`
	IP      netip.Addr `json:"ip,omitzero"`
}

type detachRequest struct {
	Network string     `json:"network"`
	IP      netip.Addr `json:"ip"`
}

type endpointJSON struct {
	Network string     `json:"network"`
	Host    string     `json:"host"`
	Name    string     `json:"name"`
	IP      netip.Addr `json:"ip"`
	MAC     string     `json:"mac"`
}

func handler(a *overlay.Agent) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /attach", func(w http.ResponseWriter, r *http.Request) {
		var req attachRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(w, nil, fmt.Errorf("%v: %w", err, netnsx.ErrInvalid))
			return
		}
		ns, err := openNS(req.NetNS, false)
		if err != nil {
			reply(w, nil, err)
			return
		}
		defer ns.Close()
		ep, err := a.Attach(r.Context(), overlay.AttachConfig{Network: req.Network, Name: req.Name, NS: ns, IP: req.IP})
		reply(w, endpointJSON{Network: ep.Network, Host: ep.Host, Name: ep.Name, IP: ep.IP, MAC: ep.MAC.String()}, err)
	})
	mux.HandleFunc("POST /detach", func(w http.ResponseWriter, r *http.Request) {
		var req detachRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(w, nil, fmt.Errorf("%v: %w", err, netnsx.ErrInvalid))
			return
		}
		reply(w, struct{}{}, a.Detach(r.Context(), overlay.Endpoint{Network: req.Network, IP: req.IP}))
	})
	return mux
}

// reply writes v as JSON, or err with a status that says whose fault it was.
func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, netnsx.ErrInvalid):
			code = http.StatusBadRequest
		case errors.Is(err, netnsx.ErrNotFound):
			code = http.StatusNotFound
		case errors.Is(err, netnsx.ErrExists), errors.Is(err, overlay.ErrFull):
			code = http.StatusConflict
		}
		http.Error(w, err.Error(), code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// call posts req to the agent listening on socket and decodes its answer into out.
func call(ctx context.Context, socket, path string, req, out any) error {
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	defer hc.CloseIdleConnections()
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://agent"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return fmt.Errorf("no agent answers on %s (is it running?): %w", socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return errors.New(string(bytes.TrimSpace(msg)))
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// socketFlags pick the agent to ask: its socket, or the host whose default socket it is.
func socketFlags(fs *flag.FlagSet) func() (string, error) {
	socket := fs.String("socket", "", "the agent's unix socket (default: "+socketDir+"/HOST.sock)")
	host := fs.String("host", "", "the host whose agent to ask (default: the hostname)")
	return func() (string, error) {
		if *socket != "" {
			return *socket, nil
		}
		h := *host
		if h == "" {
			var err error
			if h, err = os.Hostname(); err != nil {
				return "", err
			}
		}
		return defaultSocket(h), nil
	}
}

func runAttach(args []string) error {
	fs := flag.NewFlagSet("attach", flag.ContinueOnError)
	socket := socketFlags(fs)
	var req attachRequest
	fs.StringVar(&req.Network, "network", "", "the network")
	fs.StringVar(&req.Name, "name", "", "the endpoint's name (default: the namespace's)")
	fs.StringVar(&req.NetNS, "netns", "", "the container's network namespace: a name under /run/netns or a path such as /proc/PID/ns/net")
	ip := fs.String("ip", "", "the address to take (default: the lowest free one)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the agent")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(map[string]string{"network": req.Network, "netns": req.NetNS}); err != nil {
		return err
	}
	if *ip != "" {
		a, err := netip.ParseAddr(*ip)
		if err != nil {
			return usagef("-ip %q: %v", *ip, err)
		}
		req.IP = a
	}
	if req.Name == "" {
		if filepath.IsAbs(req.NetNS) {
			return usagef("-name required with a namespace given by path")
		}
		req.Name = req.NetNS
	}
	if req.NetNS != "" && !filepath.IsAbs(req.NetNS) {
		// The agent may run elsewhere in the file system's view: send the path.
		req.NetNS = filepath.Join("/run/netns", req.NetNS)
	}
	path, err := socket()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var ep endpointJSON
	if err := call(ctx, path, "/attach", req, &ep); err != nil {
		return err
	}
	fmt.Printf("%s %s %s on %s (host %s)\n", ep.Name, ep.IP, ep.MAC, ep.Network, ep.Host)
	return nil
}

func runDetach(args []string) error {
	fs := flag.NewFlagSet("detach", flag.ContinueOnError)
	socket := socketFlags(fs)
	var req detachRequest
	fs.StringVar(&req.Network, "network", "", "the network")
	ip := fs.String("ip", "", "the endpoint's address")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the agent")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(map[string]string{"network": req.Network, "ip": *ip}); err != nil {
		return err
	}
	a, err := netip.ParseAddr(*ip)
	if err != nil {
		return usagef("-ip %q: %v", *ip, err)
	}
	req.IP = a
	path, err := socket()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	return call(ctx, path, "/detach", req, &struct{}{})
}
