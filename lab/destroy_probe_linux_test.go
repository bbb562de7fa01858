package lab_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nstopo/nstopo/lab"
	"github.com/nstopo/nstopo/netnsx/netnsxtest"
)

// writeState writes a state file for s in dir with the given JSON lines.
func writeState(t *testing.T, dir string, s *lab.Spec, lines ...string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, s.Name+".json"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDestroyTamperedMakingPathEscape: a "making" line whose name climbs out of
// /run/netns must not make Destroy remove a file elsewhere.
func TestDestroyTamperedMakingPathEscape(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var a, b unix.Stat_t
	if unix.Stat(victim, &a) != nil || unix.Stat("/run/netns", &b) != nil || a.Dev != b.Dev {
		t.Skip("the temporary directory is not on /run/netns's file system: the attack cannot be shown here")
	}
	s := prefixed(load(t, "article-local.yaml"))
	dir := t.TempDir()
	writeState(t, dir, s, `{"lab":"`+s.Name+`"}`, `{"making":"../../..`+victim+`"}`)
	_ = lab.Destroy(s, &lab.Options{StateDir: dir})
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("Destroy removed %s, named by a tampered state file: %v", victim, err)
	}
}

// TestDestroyTamperedMakingForeign: a "making" line naming a namespace the spec does not
// have (no identity recorded) must not make Destroy delete that namespace.
func TestDestroyTamperedMakingForeign(t *testing.T) {
	netnsxtest.RequirePrivileged(t)
	other := netnsxtest.New(t, "foreign")
	s := prefixed(load(t, "article-local.yaml"))
	dir := t.TempDir()
	writeState(t, dir, s, `{"lab":"`+s.Name+`"}`, `{"making":"`+other.Name()+`"}`)
	_ = lab.Destroy(s, &lab.Options{StateDir: dir})
	if _, err := os.Lstat(filepath.Join("/run/netns", other.Name())); err != nil {
		t.Errorf("Destroy deleted namespace %s, not of the spec, named by a tampered state file: %v", other.Name(), err)
	}
}

// TestDestroyTamperedPID: a state file naming an unrelated process, with its true start
// time, must not make Destroy kill it: it is in no namespace of the lab.
func TestDestroyTamperedPID(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))[19]
	s := prefixed(load(t, "article-local.yaml"))
	dir := t.TempDir()
	writeState(t, dir, s, `{"lab":"`+s.Name+`"}`, fmt.Sprintf(`{"pid":%d,"start":%s}`, cmd.Process.Pid, start))
	_ = lab.Destroy(s, &lab.Options{StateDir: dir})
	time.Sleep(100 * time.Millisecond) // SIGKILL is delivered at once; give the reaper a moment
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("Destroy killed process %d, not of the lab, named by a tampered state file", cmd.Process.Pid)
	}
	var ws syscall.WaitStatus
	if pid, _ := syscall.Wait4(cmd.Process.Pid, &ws, syscall.WNOHANG, nil); pid != 0 {
		t.Errorf("Destroy killed process %d (%v), not of the lab, named by a tampered state file", cmd.Process.Pid, ws)
	}
}
