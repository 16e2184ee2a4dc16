//go:build linux

package sandbox_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
	"github.com/traefik/yaegi/stdlib/unrestricted"
	"golang.org/x/sys/unix"

	"github.com/playbook-mlops/playbook/internal/sandbox"
)

// The tests run each scenario in a child: the test binary re-executed
// with -test.run=^TestHelperProcess$ and these variables, because
// Apply restricts its caller for good.
const (
	envScenario = "SANDBOX_TEST_SCENARIO"
	envPolicy   = "SANDBOX_TEST_POLICY"
	envArgs     = "SANDBOX_TEST_ARGS"
	resultMark  = "SANDBOX-TEST-RESULT "
)

// result is what a child prints, as JSON, on a line after resultMark.
type result struct {
	Report   sandbox.Report `json:"report"`
	ApplyErr string         `json:"apply_err,omitempty"`
	Value    string         `json:"value,omitempty"` // what the attempt returned
	Err      string         `json:"err,omitempty"`   // the attempt's error
	Errno    string         `json:"errno,omitempty"` // its errno name, e.g. "EACCES"
}

// scenarios run in the child after Apply. args come from the parent;
// each returns a value or the error of the attempted operation.
var scenarios = map[string]func(args map[string]string) (string, error){
	"read": func(a map[string]string) (string, error) {
		b, err := os.ReadFile(a["path"])
		return string(b), err
	},
	"write": func(a map[string]string) (string, error) {
		return "", os.WriteFile(a["path"], []byte("written"), 0o644)
	},
	"symlink-read": func(a map[string]string) (string, error) {
		// The child makes the link itself, inside ReadWrite.
		if err := os.Symlink(a["target"], a["link"]); err != nil {
			return "", fmt.Errorf("making the link: %w", err)
		}
		b, err := os.ReadFile(a["link"])
		return string(b), err
	},
	"mknod": func(a map[string]string) (string, error) {
		return "", syscall.Mknod(a["path"], syscall.S_IFCHR|0o600, int(unix.Mkdev(1, 3)))
	},
	"exec": func(a map[string]string) (string, error) {
		out, err := exec.Command(a["path"]).CombinedOutput()
		return string(out), err
	},
	"fork": func(map[string]string) (string, error) {
		pid, _, errno := syscall.RawSyscall(syscall.SYS_FORK, 0, 0, 0)
		if errno != 0 {
			return "", errno
		}
		if pid == 0 {
			syscall.RawSyscall(syscall.SYS_EXIT, 0, 0, 0) // the child: gone at once
		}
		return fmt.Sprint(pid), nil
	},
	"unix-socket": func(map[string]string) (string, error) {
		fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err == nil {
			syscall.Close(fd)
		}
		return "", err
	},
	"socketpair": func(map[string]string) (string, error) {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err == nil {
			syscall.Close(fds[0])
			syscall.Close(fds[1])
		}
		return "", err
	},
	"goroutines": func(map[string]string) (string, error) {
		// Threads still start: goroutines blocked in syscalls need them.
		done := make(chan struct{})
		for range 8 {
			go func() {
				runtime.LockOSThread()
				time.Sleep(10 * time.Millisecond)
				done <- struct{}{}
			}()
		}
		for range 8 {
			<-done
		}
		return "ok", nil
	},
	"syscall-exec-all-threads": execOnAllThreads,
	"read-all-threads":         readOnAllThreads,
	"dial": func(a map[string]string) (string, error) {
		c, err := net.DialTimeout("tcp", a["addr"], 5*time.Second)
		if err != nil {
			return "", err
		}
		defer c.Close()
		// The listener on the port that is not allowed never writes.
		c.SetDeadline(time.Now().Add(5 * time.Second))
		b, err := bufio.NewReader(c).ReadString('\n')
		return b, err
	},
	"listen": func(a map[string]string) (string, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer l.Close()
		return l.Addr().String(), nil
	},
	"udp": func(a map[string]string) (string, error) {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer c.Close()
		return c.LocalAddr().String(), nil
	},
	"mptcp-socket": func(a map[string]string) (string, error) {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 262 /* IPPROTO_MPTCP */)
		if err == nil {
			syscall.Close(fd)
		}
		return "", err
	},
	"netlink-socket": func(a map[string]string) (string, error) {
		fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW, syscall.NETLINK_ROUTE)
		if err == nil {
			syscall.Close(fd)
		}
		return "", err
	},
	"abstract-unix": func(a map[string]string) (string, error) {
		c, err := net.Dial("unix", "@"+a["name"])
		if err != nil {
			return "", err
		}
		c.Close()
		return "connected", nil
	},
	"signal-parent": func(a map[string]string) (string, error) {
		return "", syscall.Kill(os.Getppid(), 0)
	},
	"capabilities": func(a map[string]string) (string, error) {
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			return "", err
		}
		// Raising a hard limit needs CAP_SYS_RESOURCE.
		var rl syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return "", err
		}
		rl.Max++
		rl.Cur = rl.Max
		raise := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		secbits, err := unix.PrctlRetInt(unix.PR_GET_SECUREBITS, 0, 0, 0, 0)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("eff=%x,%x prm=%x,%x raise=%v securebits=%x", data[0].Effective, data[1].Effective,
			data[0].Permitted, data[1].Permitted, raise, secbits), nil
	},
	"alloc": func(a map[string]string) (string, error) {
		n, _ := strconv.ParseUint(a["bytes"], 10, 64)
		small := make([]byte, 64<<20) // well under the limit: must work
		small[len(small)-1] = 1
		big := make([]byte, n)
		big[len(big)-1] = 1
		return fmt.Sprintf("allocated %d bytes", len(big)+len(small)), nil
	},
	"big-write": func(a map[string]string) (string, error) {
		n, _ := strconv.Atoi(a["bytes"])
		f, err := os.Create(a["path"])
		if err != nil {
			return "", err
		}
		defer f.Close()
		_, err = f.Write(make([]byte, n))
		return "", err
	},
	"open-files": func(a map[string]string) (string, error) {
		n, _ := strconv.Atoi(a["count"])
		for i := range n {
			if _, err := os.Open(a["path"]); err != nil {
				return strconv.Itoa(i), err
			}
		}
		return strconv.Itoa(n), nil
	},
	"runtime": func(a map[string]string) (string, error) {
		// What the Go runtime and the standard library need to keep
		// working once /proc, /sys and most of the filesystem are gone.
		loc, err := time.LoadLocation("Europe/Paris")
		if err != nil {
			return "", fmt.Errorf("LoadLocation: %w", err)
		}
		summer := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC).In(loc).Format("15:04 MST")
		_ = time.Now().Local().String() // the lazy load of time.Local
		key := make([]byte, 16)
		if _, err := rand.Read(key); err != nil {
			return "", fmt.Errorf("crypto/rand: %w", err)
		}
		var wg sync.WaitGroup
		sums := make([]int, 64)
		for i := range sums {
			wg.Go(func() {
				time.Sleep(time.Millisecond)
				b := make([]int, 1<<14)
				for j := range b {
					b[j] = j
					sums[i] += b[j] % 7
				}
			})
		}
		wg.Wait()
		runtime.GC()
		debug.FreeOSMemory()
		return fmt.Sprintf("paris=%s rand=%d fmt=%s sum=%d", summer, len(hex.EncodeToString(key)),
			fmt.Sprintf("%05.1f", 3.14159), sums[63]), nil
	},
	"yaegi": func(a map[string]string) (string, error) {
		// The interpreter itself, and untrusted code inside it.
		i := interp.New(interp.Options{})
		// With os/exec and friends: what the sandbox holds must not
		// depend on what the interpreter exposes.
		if err := i.Use(stdlib.Symbols); err != nil {
			return "", err
		}
		if err := i.Use(unrestricted.Symbols); err != nil {
			return "", err
		}
		src := `
import (
	"fmt"
	"os"
	"os/exec"
	"time"
)

func probe() string {
	_, readErr := os.ReadFile("/proc/self/environ")
	execErr := exec.Command("/bin/true").Run()
	loc, tzErr := time.LoadLocation("Europe/Paris")
	return fmt.Sprintf("answer=%d read=%v exec=%v tz=%v/%v", 6*7, readErr, execErr, loc, tzErr)
}`
		if _, err := i.Eval(src); err != nil {
			return "", err
		}
		v, err := i.Eval("probe()")
		if err != nil {
			return "", err
		}
		return v.String(), nil
	},
}

// pinnedThreads starts goroutines locked to their own OS threads
// before Apply, so that the test can check that Apply reached threads
// that already existed.
type pinnedThreads struct {
	start chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	errs  []error
}

var pinned *pinnedThreads

func startPinnedThreads(n int, do func() error) {
	pinned = &pinnedThreads{start: make(chan struct{})}
	ready := make(chan struct{})
	for range n {
		pinned.wg.Add(1)
		go func() {
			defer pinned.wg.Done()
			runtime.LockOSThread() // never unlocked: the thread is ours
			ready <- struct{}{}
			<-pinned.start
			err := do()
			pinned.mu.Lock()
			pinned.errs = append(pinned.errs, err)
			pinned.mu.Unlock()
		}()
	}
	for range n {
		<-ready
	}
}

// runPinned releases the pinned threads and joins their errors; it
// fails if any attempt succeeded.
func runPinned() error {
	close(pinned.start)
	pinned.wg.Wait()
	for _, err := range pinned.errs {
		if err == nil {
			return nil
		}
	}
	return pinned.errs[0]
}

const pinnedCount = 8

func execOnAllThreads(map[string]string) (string, error) {
	// If any thread escaped the filter, the process becomes /bin/true
	// and prints no result: the parent fails.
	return "", runPinned()
}

func readOnAllThreads(map[string]string) (string, error) {
	b, err := os.ReadFile("/proc/self/environ") // this thread too
	if err == nil {
		return string(b), nil
	}
	return "", runPinned()
}

// preApply runs in the child before Apply.
var preApply = map[string]func(p *sandbox.Policy, a map[string]string){
	"syscall-exec-all-threads": func(p *sandbox.Policy, a map[string]string) {
		startPinnedThreads(pinnedCount, func() error {
			return syscall.Exec("/bin/true", []string{"true"}, nil)
		})
	},
	"read-all-threads": func(p *sandbox.Policy, a map[string]string) {
		startPinnedThreads(pinnedCount, func() error {
			_, err := os.ReadFile("/proc/self/environ")
			return err
		})
	},
	"alloc": func(p *sandbox.Policy, a map[string]string) {
		// RLIMIT_AS counts address space: the limit is the current
		// size plus a margin, and the scenario asks for twice the limit.
		st, _ := os.ReadFile("/proc/self/status")
		for line := range strings.SplitSeq(string(st), "\n") {
			if v, ok := strings.CutPrefix(line, "VmSize:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				p.MemoryBytes = kb*1024 + 256<<20
			}
		}
		a["bytes"] = strconv.FormatUint(2*p.MemoryBytes, 10)
	},
}

// TestHelperProcess is the child's side; it does nothing in a normal run.
func TestHelperProcess(t *testing.T) {
	name := os.Getenv(envScenario)
	if name == "" {
		t.Skip("only runs as a child of the other tests")
	}
	var p sandbox.Policy
	args := map[string]string{}
	if err := json.Unmarshal([]byte(os.Getenv(envPolicy)), &p); err != nil {
		fmt.Fprintln(os.Stderr, "bad policy:", err)
		os.Exit(3)
	}
	if err := json.Unmarshal([]byte(os.Getenv(envArgs)), &args); err != nil {
		fmt.Fprintln(os.Stderr, "bad args:", err)
		os.Exit(3)
	}
	if f := preApply[name]; f != nil {
		f(&p, args)
	}
	var res result
	rep, err := sandbox.Apply(p)
	res.Report = rep
	if err != nil {
		res.ApplyErr = err.Error()
	} else if f := scenarios[name]; f == nil {
		res.ApplyErr = "unknown scenario " + name
	} else {
		v, err := f(args)
		res.Value = v
		if err != nil {
			res.Err = err.Error()
			var errno syscall.Errno
			if errors.As(err, &errno) {
				res.Errno = unix.ErrnoName(errno)
			}
		}
	}
	b, _ := json.Marshal(res)
	fmt.Printf("\n%s%s\n", resultMark, b)
	os.Exit(0)
}

// env holds what the parent prepared for the children.
type env struct {
	roDir, rwDir, outDir string
	outFile              string // a file outside every allowed path
	roFile               string
	port                 uint16 // an allowed port, served by a listener
	closedPort           uint16 // a port that is not allowed
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{roDir: t.TempDir(), rwDir: t.TempDir(), outDir: t.TempDir()}
	e.outFile = filepath.Join(e.outDir, "secret.txt")
	e.roFile = filepath.Join(e.roDir, "allowed.txt")
	for path, content := range map[string]string{e.outFile: "secret", e.roFile: "allowed"} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, "hello from the parent")
			c.Close()
		}
	}()
	e.port = uint16(l.Addr().(*net.TCPAddr).Port)
	// Another listener, whose port the policy does not allow.
	l2, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l2.Close() })
	e.closedPort = uint16(l2.Addr().(*net.TCPAddr).Port)
	return e
}

func (e *env) policy() sandbox.Policy {
	return sandbox.Policy{
		ReadOnly:      append(sandbox.DefaultReadOnly(), e.roDir),
		ReadWrite:     append(sandbox.DefaultReadWrite(), e.rwDir),
		ConnectTCP:    []uint16{e.port},
		NoExec:        true,
		FileSizeBytes: 1 << 20,
		OpenFiles:     256,
		CPUSeconds:    60,
	}
}

// run runs scenario in a child under p and returns its result, its
// stderr and its exit error.
func run(t *testing.T, scenario string, p sandbox.Policy, args map[string]string) (result, string, error) {
	t.Helper()
	pj, _ := json.Marshal(p)
	if args == nil {
		args = map[string]string{}
	}
	aj, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envScenario+"="+scenario, envPolicy+"="+string(pj), envArgs+"="+string(aj),
		"SANDBOX_TEST_SECRET=do-not-leak")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var res result
	found := false
	for line := range strings.SplitSeq(stdout.String(), "\n") {
		if j, ok := strings.CutPrefix(line, resultMark); ok {
			if err := json.Unmarshal([]byte(j), &res); err != nil {
				t.Fatalf("%s: bad result %q: %v", scenario, j, err)
			}
			found = true
		}
	}
	if found && res.ApplyErr != "" {
		t.Fatalf("%s: Apply: %s", scenario, res.ApplyErr)
	}
	if !found && runErr == nil {
		t.Fatalf("%s: the child printed no result; stdout:\n%s\nstderr:\n%s", scenario, stdout.String(), stderr.String())
	}
	return res, stderr.String(), runErr
}

// mustRun is run for scenarios where the child must survive.
func mustRun(t *testing.T, scenario string, p sandbox.Policy, args map[string]string) result {
	t.Helper()
	res, stderr, err := run(t, scenario, p, args)
	if err != nil {
		t.Fatalf("%s: child failed: %v\nstderr:\n%s", scenario, err, stderr)
	}
	return res
}

// requireLandlock skips (or fails under CI=true, whose kernel has ABI
// 7) when the kernel lacks the Landlock ABI a test needs.
func requireLandlock(t *testing.T, r sandbox.Report, abi int) {
	t.Helper()
	if r.LandlockABI >= abi {
		return
	}
	msg := fmt.Sprintf("Landlock ABI %d needed, the kernel has %q", abi, r.Landlock)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: its kernel must have it)")
	}
	t.Skip(msg)
}

// expectErrno asserts that the attempt failed with one of the errnos.
func expectErrno(t *testing.T, what string, res result, errnos ...string) {
	t.Helper()
	for _, e := range errnos {
		if res.Errno == e {
			return
		}
	}
	t.Errorf("%s: got value %q, error %q (errno %q); want errno %v", what, res.Value, res.Err, res.Errno, errnos)
}

func expectOK(t *testing.T, what string, res result) {
	t.Helper()
	if res.Err != "" {
		t.Errorf("%s: unexpected error %q (errno %q)", what, res.Err, res.Errno)
	}
}

func TestReport(t *testing.T) {
	e := newEnv(t)
	res := mustRun(t, "read", e.policy(), map[string]string{"path": e.roFile})
	r := res.Report
	t.Logf("report:\n%s", r)
	t.Logf("Apply took %v", r.Duration())
	if r.Duration() <= 0 || r.Duration() > 100*time.Millisecond {
		t.Errorf("Apply took %v, want under 100ms", r.Duration())
	}
	if !r.NoNewPrivs {
		t.Error("no_new_privs not set")
	}
	if !r.SeccompActive || !r.ExecRefused || !strings.Contains(r.Seccomp, "execve refused") {
		t.Errorf("seccomp: %+v", r)
	}
	want := []string{"RLIMIT_FSIZE=1048576", "RLIMIT_NOFILE=256", "RLIMIT_CPU=60"}
	if strings.Join(r.Rlimits, " ") != strings.Join(want, " ") {
		t.Errorf("rlimits %v, want %v", r.Rlimits, want)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"landlock_abi":`, `"landlock":`, `"seccomp":`, `"rlimits":`, `"no_new_privs":`, `"capabilities":`, `"duration_ns":`} {
		if !bytes.Contains(b, []byte(field)) {
			t.Errorf("JSON %s lacks %s", b, field)
		}
	}
	requireLandlock(t, r, 1)
	if !strings.HasPrefix(r.Landlock, fmt.Sprintf("ABI %d: filesystem", r.LandlockABI)) {
		t.Errorf("landlock description %q", r.Landlock)
	}
	if r.LandlockABI >= 6 && !strings.Contains(r.Landlock, "scoped: abstract unix sockets, signals") {
		t.Errorf("landlock description %q lacks the scopes", r.Landlock)
	}
	if os.Getenv("CI") == "true" && r.LandlockABI < 7 {
		t.Errorf("CI's kernel should give ABI 7, got %q", r.Landlock)
	}
}

func TestFilesystem(t *testing.T) {
	e := newEnv(t)
	p := e.policy()
	r := mustRun(t, "read", p, map[string]string{"path": e.roFile})
	requireLandlock(t, r.Report, 1)
	if r.Err != "" || r.Value != "allowed" {
		t.Errorf("reading inside ReadOnly: %q, %q", r.Value, r.Err)
	}

	t.Run("read outside", func(t *testing.T) {
		expectErrno(t, "read outside", mustRun(t, "read", p, map[string]string{"path": e.outFile}), "EACCES")
	})
	t.Run("write inside ReadWrite", func(t *testing.T) {
		path := filepath.Join(e.rwDir, "new.txt")
		expectOK(t, "write in ReadWrite", mustRun(t, "write", p, map[string]string{"path": path}))
		if b, err := os.ReadFile(path); err != nil || string(b) != "written" {
			t.Errorf("the parent reads %q, %v", b, err)
		}
	})
	t.Run("write in ReadOnly", func(t *testing.T) {
		expectErrno(t, "overwrite in ReadOnly", mustRun(t, "write", p, map[string]string{"path": e.roFile}), "EACCES")
		expectErrno(t, "create in ReadOnly", mustRun(t, "write", p, map[string]string{"path": filepath.Join(e.roDir, "new")}), "EACCES")
		if b, _ := os.ReadFile(e.roFile); string(b) != "allowed" {
			t.Errorf("the ReadOnly file now holds %q", b)
		}
	})
	t.Run("create outside", func(t *testing.T) {
		path := filepath.Join(e.outDir, "created")
		expectErrno(t, "create outside", mustRun(t, "write", p, map[string]string{"path": path}), "EACCES")
		if _, err := os.Stat(path); err == nil {
			t.Error("the file was created")
		}
	})
	t.Run("symlink out of ReadWrite", func(t *testing.T) {
		// A link made by the parent, and one made by the child.
		link := filepath.Join(e.rwDir, "parent-link")
		if err := os.Symlink(e.outFile, link); err != nil {
			t.Fatal(err)
		}
		expectErrno(t, "parent's link", mustRun(t, "read", p, map[string]string{"path": link}), "EACCES")
		res := mustRun(t, "symlink-read", p, map[string]string{"target": e.outFile, "link": filepath.Join(e.rwDir, "child-link")})
		expectErrno(t, "child's link", res, "EACCES")
	})
	t.Run("proc", func(t *testing.T) {
		res := mustRun(t, "read", p, map[string]string{"path": "/proc/self/environ"})
		expectErrno(t, "/proc/self/environ", res, "EACCES")
		if strings.Contains(res.Value, "do-not-leak") {
			t.Error("the environment leaked")
		}
		expectErrno(t, "/proc/1/cmdline", mustRun(t, "read", p, map[string]string{"path": "/proc/1/cmdline"}), "EACCES")
		expectErrno(t, "/etc/passwd", mustRun(t, "read", p, map[string]string{"path": "/etc/passwd"}), "EACCES")
	})
	t.Run("all threads", func(t *testing.T) {
		expectErrno(t, "read from threads that predate Apply", mustRun(t, "read-all-threads", p, nil), "EACCES")
	})
	t.Run("device node", func(t *testing.T) {
		res := mustRun(t, "mknod", p, map[string]string{"path": filepath.Join(e.rwDir, "null")})
		expectErrno(t, "mknod in ReadWrite", res, "EACCES", "EPERM")
	})
	t.Run("without DefaultReadOnly", func(t *testing.T) {
		// The control for TestRuntime: Landlock does hide zoneinfo.
		bare := p
		bare.ReadOnly = []string{e.roDir}
		res := mustRun(t, "runtime", bare, nil)
		if res.Err == "" || !strings.Contains(res.Err, "LoadLocation") {
			t.Errorf("time zones load without DefaultReadOnly: %q %q", res.Value, res.Err)
		}
	})
}

func TestRuntime(t *testing.T) {
	e := newEnv(t)
	res := mustRun(t, "runtime", e.policy(), nil)
	expectOK(t, "runtime", res)
	if want := "paris=14:00 CEST rand=32 fmt=003.1 sum="; !strings.HasPrefix(res.Value, want) {
		t.Errorf("runtime: %q, want prefix %q", res.Value, want)
	}
	t.Log(res.Value)
}

func TestYaegi(t *testing.T) {
	e := newEnv(t)
	res := mustRun(t, "yaegi", e.policy(), nil)
	expectOK(t, "yaegi", res)
	t.Log(res.Value)
	if !strings.HasPrefix(res.Value, "answer=42 ") || !strings.Contains(res.Value, "tz=Europe/Paris/<nil>") {
		t.Errorf("yaegi: %q", res.Value)
	}
	if !strings.Contains(res.Value, "exec=fork/exec /bin/true: operation not permitted") {
		t.Errorf("interpreted exec not refused: %q", res.Value)
	}
	if res.Report.LandlockABI > 0 && !strings.Contains(res.Value, "read=open /proc/self/environ: permission denied") {
		t.Errorf("interpreted read not refused: %q", res.Value)
	}
}

func TestExec(t *testing.T) {
	e := newEnv(t)
	p := e.policy()
	res := mustRun(t, "exec", p, map[string]string{"path": "/bin/true"})
	expectErrno(t, "os/exec /bin/true", res, "EPERM")
	res = mustRun(t, "syscall-exec-all-threads", p, nil)
	expectErrno(t, "syscall.Exec from threads that predate Apply", res, "EPERM")

	// The control: without NoExec, /bin/true runs (Landlock still
	// needs to let the child read and map it: ReadOnly gets /).
	p.NoExec = false
	p.ReadOnly = append(p.ReadOnly, "/")
	expectOK(t, "exec allowed", mustRun(t, "exec", p, map[string]string{"path": "/bin/true"}))
}

// TestNoProcessesNoUnixSockets: with NoProcesses a fork is refused while
// threads still start; with NoUnixSockets unix sockets and socket pairs
// are; a symbolic link cannot be made in a ReadWrite folder. Without the
// options (the control) the fork and the socket work.
func TestNoProcessesNoUnixSockets(t *testing.T) {
	e := newEnv(t)
	p := e.policy()
	p.NoProcesses, p.NoUnixSockets = true, true
	expectErrno(t, "fork", mustRun(t, "fork", p, nil), "EPERM")
	expectOK(t, "threads", mustRun(t, "goroutines", p, nil))
	expectErrno(t, "unix socket", mustRun(t, "unix-socket", p, nil), "EAFNOSUPPORT")
	expectErrno(t, "socketpair", mustRun(t, "socketpair", p, nil), "EPERM")
	res := mustRun(t, "symlink-read", p, map[string]string{"target": "/etc/hostname", "link": filepath.Join(e.rwDir, "link")})
	if res.Report.LandlockFS {
		expectErrno(t, "symlink made in ReadWrite", res, "EACCES")
	}
	p.NoProcesses, p.NoUnixSockets = false, false
	expectOK(t, "fork allowed", mustRun(t, "fork", p, nil))
	expectOK(t, "unix socket allowed", mustRun(t, "unix-socket", p, nil))
}

func TestNetwork(t *testing.T) {
	e := newEnv(t)
	p := e.policy()
	res := mustRun(t, "dial", p, map[string]string{"addr": fmt.Sprintf("127.0.0.1:%d", e.port)})
	expectOK(t, "dial the allowed port", res)
	if res.Value != "hello from the parent\n" {
		t.Errorf("read %q from the allowed port", res.Value)
	}
	// Not Landlock: the seccomp filter.
	expectErrno(t, "UDP socket", mustRun(t, "udp", p, nil), "EPROTONOSUPPORT")
	expectErrno(t, "MPTCP socket", mustRun(t, "mptcp-socket", p, nil), "EPROTONOSUPPORT")
	expectErrno(t, "netlink socket", mustRun(t, "netlink-socket", p, nil), "EAFNOSUPPORT")

	requireLandlock(t, res.Report, 4)
	res = mustRun(t, "dial", p, map[string]string{"addr": fmt.Sprintf("127.0.0.1:%d", e.closedPort)})
	expectErrno(t, "dial a port not allowed", res, "EACCES")
	expectErrno(t, "listen", mustRun(t, "listen", p, nil), "EACCES")
	noTCP := p
	noTCP.ConnectTCP = nil
	res = mustRun(t, "dial", noTCP, map[string]string{"addr": fmt.Sprintf("127.0.0.1:%d", e.port)})
	expectErrno(t, "dial with ConnectTCP empty", res, "EACCES")
}

// TestNoSockets: with NoSockets no socket is created, whatever its family:
// not even to the port that ConnectTCP allows, nor UDP, nor unix sockets.
// Without it (the control) the allowed port is reached.
func TestNoSockets(t *testing.T) {
	e := newEnv(t)
	p := e.policy()
	p.NoSockets = true
	expectErrno(t, "dial the allowed port", mustRun(t, "dial", p, map[string]string{"addr": fmt.Sprintf("127.0.0.1:%d", e.port)}), "EAFNOSUPPORT")
	expectErrno(t, "UDP socket", mustRun(t, "udp", p, nil), "EAFNOSUPPORT")
	expectErrno(t, "unix socket", mustRun(t, "unix-socket", p, nil), "EAFNOSUPPORT")
	expectErrno(t, "socketpair", mustRun(t, "socketpair", p, nil), "EPERM")
	expectOK(t, "threads", mustRun(t, "goroutines", p, nil))
	p.NoSockets = false
	expectOK(t, "dial the allowed port without NoSockets", mustRun(t, "dial", p, map[string]string{"addr": fmt.Sprintf("127.0.0.1:%d", e.port)}))
}

func TestScopes(t *testing.T) {
	e := newEnv(t)
	p := e.policy()
	name := fmt.Sprintf("playbook-sandbox-test-%d", os.Getpid())
	l, err := net.Listen("unix", "@"+name)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	res := mustRun(t, "abstract-unix", p, map[string]string{"name": name})
	requireLandlock(t, res.Report, 6)
	expectErrno(t, "abstract unix socket outside", res, "EPERM")
	expectErrno(t, "signal the parent", mustRun(t, "signal-parent", p, nil), "EPERM")
}

func TestCapabilities(t *testing.T) {
	e := newEnv(t)
	res := mustRun(t, "capabilities", e.policy(), nil)
	expectOK(t, "capabilities", res)
	want := "eff=0,0 prm=0,0 raise=operation not permitted"
	if os.Geteuid() == 0 {
		want += " securebits=ef" // locked, so that root regains nothing
	}
	if !strings.HasPrefix(res.Value, want) {
		t.Errorf("capabilities after Apply: %q (report: %q)", res.Value, res.Report.Capabilities)
	}
	t.Log(res.Report.Capabilities)
}

func TestRlimits(t *testing.T) {
	e := newEnv(t)
	p := e.policy()
	t.Run("memory", func(t *testing.T) {
		res, stderr, err := run(t, "alloc", p, nil)
		if err == nil {
			t.Fatalf("the child survived allocating twice RLIMIT_AS: %q %q", res.Value, res.Err)
		}
		// Under -race, the runtime reports the failed mmap differently.
		if !strings.Contains(stderr, "out of memory") && !strings.Contains(stderr, "too many address space collisions") {
			t.Errorf("stderr lacks 'out of memory':\n%.2000s", stderr)
		}
	})
	t.Run("memory below VmSize", func(t *testing.T) {
		low := p
		low.MemoryBytes = 1 << 20
		pj, _ := json.Marshal(low)
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), envScenario+"=read", envPolicy+"="+string(pj), envArgs+"={}")
		out, _ := cmd.Output()
		if !strings.Contains(string(out), "is not above the current address space size") {
			t.Errorf("Apply accepted RLIMIT_AS below VmSize: %s", out)
		}
	})
	t.Run("file size", func(t *testing.T) {
		path := filepath.Join(e.rwDir, "big")
		res := mustRun(t, "big-write", p, map[string]string{"path": path, "bytes": strconv.Itoa(2 << 20)})
		expectErrno(t, "write twice RLIMIT_FSIZE", res, "EFBIG")
		if fi, err := os.Stat(path); err != nil || fi.Size() > 1<<20 {
			t.Errorf("the file: %v, %v", fi, err)
		}
	})
	t.Run("open files", func(t *testing.T) {
		res := mustRun(t, "open-files", p, map[string]string{"path": e.roFile, "count": "300"})
		expectErrno(t, "open 300 files under RLIMIT_NOFILE=256", res, "EMFILE")
	})
}
