package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/runner"
)

func init() {
	register(command{name: "watch", summary: "re-run scenarios on each save and show the report live in a browser", run: runWatch})
}

// watchOptions holds the flags of playbook watch: run's, and its own.
type watchOptions struct {
	runOptions
	Addr     string
	Open     bool
	Apply    bool
	Debounce time.Duration
	// poll is how often the files are looked at.
	poll time.Duration
}

// watchServed, when set (tests), is told the live page's URL and hub as
// soon as the page is served, before the first run.
var watchServed func(url string, hub *liveHub)

func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o watchOptions
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: playbook watch [flags] SCENARIO...")
		fmt.Fprintln(stderr, "\nRuns the scenarios as playbook run does, then again, top to bottom, each time one of")
		fmt.Fprintln(stderr, "their files or the data files they name is saved, and serves the report on 127.0.0.1,")
		fmt.Fprintln(stderr, "updated in place cell by cell (the URL is printed). Every run starts from the same")
		fmt.Fprintln(stderr, "registry: the embedded server's data directory is copied when watch starts and put back")
		fmt.Fprintln(stderr, "before each run; against a tracking server of yours each run is a dry run, unless --apply.")
		fmt.Fprintln(stderr, "Stop with Ctrl-C.")
		fmt.Fprintln(stderr, "\nflags:")
		printDefaults(fs)
	}
	runFlags(fs, &o.runOptions)
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:0", "`address` of the live page, on this machine only (port 0 picks a free one)")
	fs.BoolVar(&o.Open, "open", false, "open the live page in a browser ($BROWSER, else xdg-open or open)")
	fs.BoolVar(&o.Apply, "apply", false, "against a tracking server named by --tracking-uri or $MLFLOW_TRACKING_URI: let each run change its registry (without it, each run is a dry run)")
	fs.DurationVar(&o.Debounce, "debounce", 100*time.Millisecond, "how long the files must stay unchanged after a save before the run starts")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if err := checkRunOptions(&o.runOptions); err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errUsage(errors.New("no scenario given"))
	}
	if err := loopbackAddr(o.Addr); err != nil {
		return errUsage(fmt.Errorf("--addr %s: %w", o.Addr, err))
	}
	if o.Debounce < 0 {
		return errUsage(fmt.Errorf("--debounce %s: want a duration of 0 or more", o.Debounce))
	}
	if err := o.attach(pos, stderr); err != nil {
		return err
	}
	return watch(ctx, o, stdout, stderr)
}

// loopbackAddr refuses an address that is not of this machine: the live
// page shows the registry, with no authentication.
func loopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return errors.New("the live page is served on this machine only: want 127.0.0.1:PORT, [::1]:PORT or localhost:PORT")
	}
	return nil
}

// watch serves the live page and runs the scenarios, again on each save,
// until ctx ends.
func watch(ctx context.Context, o watchOptions, stdout, stderr io.Writer) error {
	named := o.TrackingURI != "" || os.Getenv(mlflow.EnvTrackingURI) != ""
	var snap *dirSnapshot
	var shared *backend
	if named {
		// Checked now, as run does: a bad URI or variable is a usage
		// error before anything is served.
		c, err := newClient(o.TrackingURI)
		if err != nil {
			return err
		}
		uri := mlflow.RedactURL(c.TrackingURI())
		switch {
		case o.DryRun:
			fmt.Fprintf(stderr, "playbook watch: each run is a dry run against %s (--dry-run)\n", uri)
		case !o.Apply:
			o.DryRun = true
			fmt.Fprintf(stderr, "playbook watch: each run is a dry run against %s: it reads the registry and changes nothing (--apply lets each save change it)\n", uri)
		default:
			fmt.Fprintf(stderr, "playbook watch: --apply: each save runs the scenarios against %s and CHANGES ITS REGISTRY\n", uri)
		}
		shared = newBackend(o.TrackingURI, o.DataDir, stderr, o.Terminal)
		if !o.Quiet {
			shared.retried = retryNotice(stderr, o.Terminal)
		}
		defer shared.Close()
	} else {
		var err error
		if snap, err = snapshotDir(o.DataDir); err != nil {
			return errUsage(fmt.Errorf("--data-dir %s: copying it, to start each run from it: %w", o.DataDir, err))
		}
		defer snap.remove()
		fmt.Fprintf(stderr, "playbook watch: embedded tracking server; its data directory %s is put back as it is now before each run\n", o.DataDir)
	}

	hub := newLiveHub()
	if o.Presenter != nil {
		o.Presenter.current = hub.waiting
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return errUsage(fmt.Errorf("--addr %s: %w", o.Addr, err))
	}
	srv := &http.Server{Handler: hub.handler(ln.Addr().String()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(stderr, "playbook watch: live page at %s (Ctrl-C stops)\n", url)
	if watchServed != nil {
		watchServed(url, hub)
	}
	if o.Open {
		if err := openBrowser(url); err != nil {
			fmt.Fprintf(stderr, "playbook watch: --open: %v; open %s yourself\n", err, url)
		}
	}

	for _, p := range o.Scenarios {
		if name, ok := embeddedName(p); ok && !fileExists(name) {
			fmt.Fprintf(stderr, "playbook watch: %s is the scenario embedded in playbook, no file to save: playbook init DIR writes it out, to watch DIR/%s\n", p, name)
		}
	}
	files := newFileWatch(watchedFiles(o.runOptions))
	poll := o.poll
	if poll <= 0 {
		poll = 25 * time.Millisecond
	}
	addr := ""  // the embedded server's, kept from run to run
	saved := "" // the file whose save starts the run; "" for the first
	for n := 1; ; n++ {
		if ctx.Err() != nil {
			return nil
		}
		hub.startRun(n, saved)
		if saved == "" {
			fmt.Fprintf(stderr, "playbook watch: run %d\n", n)
		} else {
			fmt.Fprintf(stderr, "playbook watch: run %d (%s saved)\n", n, saved)
		}
		ro := o.runOptions
		ro.live = hub
		var be *backend
		if named {
			ro.be = shared
		} else {
			if err := snap.restore(); err != nil {
				return fmt.Errorf("--data-dir %s: putting it back: %w", o.DataDir, err)
			}
			be = newBackend("", o.DataDir, stderr, o.Terminal)
			be.inMemory = o.Kernel == kernelProcess
			be.addr, be.quiet = addr, n > 1
			if !o.Quiet {
				be.retried = retryNotice(stderr, o.Terminal)
			}
			ro.be = be
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- runWatched(runCtx, ro, hub, stdout) }()
		// A save while it runs starts it again, at once when that is
		// harmless (the embedded registry is put back, a dry run changes
		// nothing), after it ends when it changes a real registry.
		interruptible := !named || o.DryRun
		var runErr error
		changed := ""
	running:
		for {
			select {
			case runErr = <-done:
				break running
			case <-ctx.Done():
				cancel()
				<-done
				if be != nil {
					be.Close()
				}
				return nil
			case <-time.After(poll):
				if c := files.changed(o.Debounce); c != "" && changed == "" {
					changed = c
					if interruptible {
						cancel()
					}
				}
			}
		}
		cancel()
		if be != nil {
			if u := be.embeddedURI; u != "" {
				addr = strings.TrimPrefix(u, "http://")
			}
			be.Close()
		}
		if runErr != nil && !errors.Is(runErr, context.Canceled) && changed == "" {
			fmt.Fprintf(stderr, "playbook watch: run %d: %s\n", n, runErr)
		}
		files.track(watchedFiles(o.runOptions))
		fmt.Fprintf(stderr, "playbook watch: waiting for a save of %s\n", strings.Join(files.names(), ", "))
		for changed == "" {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(poll):
				changed = files.changed(o.Debounce)
			}
		}
		saved = changed
	}
}

// runWatched runs the scenarios once for watch: what stops them before
// they run (a scenario that does not parse or compile) is shown on the
// page as well.
func runWatched(ctx context.Context, o runOptions, hub *liveHub, stdout io.Writer) error {
	err := runScenarios(ctx, o, stdout)
	if err != nil && runner.IsScenarioError(err) {
		var scs []*runner.Scenario
		r := &scenarioReader{}
		defer r.close()
		for _, p := range o.Scenarios {
			if sc, perr := r.parse(p); perr == nil {
				scs = append(scs, sc)
			}
		}
		if hub.ranNothing() {
			hub.problem(err, scs)
		}
	}
	return err
}

// watchedFiles are the files a save of which runs the scenarios again:
// the scenarios, the -f parameter files, and the data files the
// scenarios' parameters of kind file name.
func watchedFiles(o runOptions) []string {
	files := append(slices.Clone(o.Scenarios), o.ParamFiles...)
	scs, done, err := parseScenarios(o.Scenarios)
	if err != nil {
		return files
	}
	done() // an embedded scenario's data files are not watched: it has none
	params := o.Params
	if fromFiles, err := readParamFiles(o.ParamFiles); err == nil {
		params = append(fileOverrides(fromFiles), o.Params...)
	}
	overrides, err := runner.SplitOverrides(scs, params)
	if err != nil {
		return files
	}
	for i, sc := range scs {
		params, err := runner.ResolveParams(sc.Params, overrides[i])
		if err != nil {
			continue
		}
		for j, spec := range sc.Params {
			if spec.Constraints.Kind != runner.KindFile {
				continue
			}
			if v, ok := params[j].Value.(string); ok && v != "" && filepath.IsLocal(v) {
				files = append(files, filepath.Join(filepath.Dir(sc.Path), v))
			}
		}
	}
	return files
}

// fileWatch notices saves of a few files by looking at them (size,
// modification time, existence): editors that write a new file and
// rename it over the old are seen as well.
type fileWatch struct {
	files []string
	seen  map[string]fileState
	// last is when the last change was seen; which, the file of the
	// first change not yet reported.
	last  time.Time
	which string
}

type fileState struct {
	exists bool
	size   int64
	mod    time.Time
}

func newFileWatch(files []string) *fileWatch {
	w := &fileWatch{seen: map[string]fileState{}}
	w.track(files)
	return w
}

// track watches files: those already watched keep their state (a save
// not yet reported stays to report), the others' state now is their
// reference.
func (w *fileWatch) track(files []string) {
	w.files = slices.Compact(slices.Sorted(slices.Values(files)))
	seen := map[string]fileState{}
	for _, f := range w.files {
		st, ok := w.seen[f]
		if !ok {
			st = statFile(f)
		}
		seen[f] = st
	}
	w.seen = seen
}

func (w *fileWatch) names() []string { return w.files }

func statFile(f string) fileState {
	fi, err := os.Stat(f)
	if err != nil {
		return fileState{}
	}
	return fileState{exists: true, size: fi.Size(), mod: fi.ModTime()}
}

// changed returns the name of a file saved since the last call that
// returned one, once the files have stayed as they are for debounce; ""
// otherwise.
func (w *fileWatch) changed(debounce time.Duration) string {
	now := time.Now()
	for _, f := range w.files {
		st := statFile(f)
		if st != w.seen[f] {
			w.seen[f] = st
			if w.which == "" {
				w.which = f
			}
			w.last = now
		}
	}
	if w.which == "" || now.Sub(w.last) < debounce {
		return ""
	}
	which := w.which
	w.which = ""
	return which
}

// dirSnapshot is a copy of a folder, put back over it on demand.
type dirSnapshot struct {
	dir    string // the folder
	copy   string // its copy; "" when the folder did not exist
	parent string // the temporary folder holding the copy
}

// dataEntries are the names the embedded server keeps in its data
// directory: all that restore removes, so that a --data-dir naming a
// folder of the user's (--data-dir .) loses nothing else.
var dataEntries = map[string]bool{"mlflow.db": true, "mlflow.db-wal": true, "mlflow.db-shm": true, "mlflow.db-journal": true, "artifacts": true}

// snapshotDir copies dir, an embedded server's data directory (regular
// files and folders; a symbolic link in it is refused), to a temporary
// folder. A folder holding anything else is refused.
func snapshotDir(dir string) (*dirSnapshot, error) {
	s := &dirSnapshot{dir: dir}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	} else if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !dataEntries[e.Name()] {
			return nil, fmt.Errorf("it holds %s, which is not the embedded server's: watch puts this folder back before each run and touches nothing else; name a data directory of its own", e.Name())
		}
	}
	tmp, err := os.MkdirTemp("", "playbook-watch-")
	if err != nil {
		return nil, err
	}
	s.parent, s.copy = tmp, filepath.Join(tmp, "data")
	if err := copyTree(dir, s.copy); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return s, nil
}

// restore puts the copy back: the server's files in the folder are as
// they were when copied (and only those are removed).
func (s *dirSnapshot) restore() error {
	for name := range dataEntries {
		if err := os.RemoveAll(filepath.Join(s.dir, name)); err != nil {
			return err
		}
	}
	if s.copy == "" {
		return nil
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(s.copy)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := copyTree(filepath.Join(s.copy, e.Name()), filepath.Join(s.dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func (s *dirSnapshot) remove() {
	if s.parent != "" {
		os.RemoveAll(s.parent)
	}
}

// copyTree copies the folder src to dst, which must not exist.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type().IsRegular():
			return copyFile(p, to)
		}
		return fmt.Errorf("%s: not a regular file or a folder", p)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// openBrowser opens url in the user's browser.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch {
	case os.Getenv("BROWSER") != "":
		cmd = exec.Command(os.Getenv("BROWSER"), url)
	case runtime.GOOS == "darwin":
		cmd = exec.Command("open", url)
	case runtime.GOOS == "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
