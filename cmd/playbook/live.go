package main

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
	"github.com/playbook-mlops/playbook/runner"
)

// liveSink is told of a run as it goes: playbook watch's live page.
type liveSink interface {
	// begin: scenario i (from 0) starts, with the runner's options.
	begin(i int, sc *runner.Scenario, opts runner.Options)
	// progress wraps the run's progress function (next may be nil).
	progress(next func(runner.Event)) func(runner.Event)
	// cell: a cell ended, with its record.
	cell(index int, c record.Cell)
	// end: scenario i ended, with its record (nil when there is none).
	end(i int, rec *record.Run, err error)
}

// liveMsg is one server-sent event of the live page.
type liveMsg struct {
	event string
	data  []byte
}

// liveHub holds the live page of playbook watch and the browsers that
// follow it (GET /events): each cell's article is sent as the cell ends,
// the whole page as the scenario ends. Everything it sends was rendered
// by package report, every string escaped.
type liveHub struct {
	mu     sync.Mutex
	subs   map[chan liveMsg]struct{}
	rec    *record.Run // the record the page shows
	ids    []string    // its cells' ids
	status string      // the banner
	class  string      // the banner's class
	run    int         // the run number (a save, a run)
	sc     *runner.Scenario
	start  time.Time
	// failed is the id of the cell that failed in the page shown, "" for
	// none: the page scrolls to it.
	failed string
	// lang is the language of the last scenario begun: the banner's.
	lang string
	// begun: a scenario of this run started.
	begun bool
	// ended counts the runs that ended (their page sent).
	ended int
	// pages counts the whole pages sent (tests and benchmarks wait on it).
	pages int
	// notify, when set, is told of each message sent (tests).
	notify func(event string)
}

func newLiveHub() *liveHub {
	return &liveHub{subs: map[chan liveMsg]struct{}{}, status: "playbook watch: starting", class: "running"}
}

// publish sends an event to every browser; one that does not keep up is
// dropped (it reconnects and gets the whole page). Called with h.mu held.
func (h *liveHub) publish(event string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	for ch := range h.subs {
		select {
		case ch <- liveMsg{event: event, data: data}:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
	if event == "page" {
		h.pages++
	}
	if h.notify != nil {
		h.notify(event)
	}
}

// startRun says a run begins (a save, or the first).
func (h *liveHub) startRun(n int, saved string) {
	var why string
	h.mu.Lock()
	defer h.mu.Unlock()
	h.run, h.begun = n, false
	w := h.words()
	if saved == "" {
		why = w.first
	} else {
		why = fmt.Sprintf(w.saved, saved)
	}
	h.status, h.class = fmt.Sprintf(w.run, n)+why, "running"
	h.publish("run", map[string]any{"run": n, "text": h.status})
}

func (h *liveHub) begin(_ int, sc *runner.Scenario, opts runner.Options) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.begun = true
	rec := runner.NewRecord(sc, opts)
	same := h.rec != nil && h.sc != nil && h.sc.Path == sc.Path && sameSteps(h.rec, rec)
	h.sc, h.start = sc, time.Now()
	h.lang = sc.Lang
	h.status, h.class = fmt.Sprintf(h.words().run, h.run)+fmt.Sprintf(h.words().running, sc.Path), "running"
	if same {
		// The same cells: their outputs stay, dimmed, until each is
		// replaced as it ends.
		h.rec.Cells = rec.Cells
		h.rec.Scenario = rec.Scenario
		return
	}
	h.rec, h.ids, h.failed = rec, report.CellIDs(rec), ""
	h.publishPage()
}

func sameSteps(a, b *record.Run) bool {
	if len(a.Cells) != len(b.Cells) {
		return false
	}
	for i := range a.Cells {
		if a.Cells[i].Step != b.Cells[i].Step {
			return false
		}
	}
	return true
}

// ranNothing reports whether no scenario of this run started.
func (h *liveHub) ranNothing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.begun
}

// endedRuns is the number of scenario runs that ended (the last one's
// page sent) and the banner's text now.
func (h *liveHub) endedRuns() (int, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ended, h.status
}

// waiting says the presenter waits before cell index of sc.
func (h *liveHub) waiting(sc *runner.Scenario, index int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rec == nil || index > len(h.ids) {
		return
	}
	h.status = fmt.Sprintf(h.words().run, h.run) + fmt.Sprintf(h.words().waiting, sc.Path, index, len(sc.Cells), sc.Cells[index-1].Step)
	h.publish("current", map[string]any{"id": h.ids[index-1], "text": h.status})
}

func (h *liveHub) progress(next func(runner.Event)) func(runner.Event) {
	return func(ev runner.Event) {
		if next != nil {
			next(ev)
		}
		if ev.Status != runner.StatusRunning {
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.rec == nil || ev.Index > len(h.ids) {
			return
		}
		h.status = fmt.Sprintf(h.words().run, h.run) + fmt.Sprintf(h.words().cell, ev.Index, ev.Total, ev.Step)
		h.publish("current", map[string]any{"id": h.ids[ev.Index-1], "text": h.status})
	}
}

func (h *liveHub) cell(index int, c record.Cell) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rec == nil || index < 1 || index > len(h.rec.Cells) {
		return
	}
	h.rec.Cells[index-1] = c
	id, html, err := report.CellHTML(h.rec, index)
	if err != nil {
		return
	}
	failed := c.Status == record.StatusFailed
	if failed {
		h.failed = id
	}
	h.publish("cell", map[string]any{"id": id, "html": html, "failed": failed})
}

func (h *liveHub) end(_ int, rec *record.Run, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rec == nil {
		h.problemLocked(err, nil)
		return
	}
	h.rec, h.ids, h.failed = rec, report.CellIDs(rec), ""
	for i, c := range rec.Cells {
		if c.Status == record.StatusFailed {
			h.failed = h.ids[i]
			break
		}
	}
	h.ended++
	took := time.Since(h.start).Round(time.Millisecond)
	switch {
	case err != nil:
		h.status, h.class = fmt.Sprintf(h.words().run, h.run)+fmt.Sprintf(h.words().failed, rec.Scenario.Path, h.words().outcome(rec.Environment.Exit.Status), took, err), "fail"
	case rec.Environment.Exit.Status == record.OutcomeStopped:
		h.status, h.class = fmt.Sprintf(h.words().run, h.run)+fmt.Sprintf(h.words().stopped, rec.Scenario.Path, took), "fail"
	default:
		h.status, h.class = fmt.Sprintf(h.words().run, h.run)+fmt.Sprintf(h.words().ok, rec.Scenario.Path, took), "ok"
	}
	h.publishPage()
}

// problem shows an error found before anything ran (the scenario does not
// parse or compile, a parameter is wrong): the banner says it and, when
// it is in a cell of sc, the cell shows it at its line.
func (h *liveHub) problem(err error, scs []*runner.Scenario) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.problemLocked(err, scs)
}

func (h *liveHub) problemLocked(err error, scs []*runner.Scenario) {
	h.ended++
	h.status, h.class = fmt.Sprintf(h.words().run, h.run)+fmt.Sprintf(h.words().notRun, err), "fail"
	failed := ""
	if errs := cellErrorsOf(err); len(errs) > 0 {
		for _, sc := range scs {
			for _, e := range errs {
				if e.File != sc.Path || e.Line == 0 {
					continue
				}
				for i, c := range sc.Cells {
					if e.Line < c.FenceLine || e.Line > c.EndLine+1 {
						continue
					}
					if h.rec == nil || h.sc == nil || h.sc.Path != sc.Path || len(h.rec.Cells) != len(sc.Cells) {
						h.sc = sc
						h.rec = runner.NewRecord(sc, runner.Options{})
						h.ids = report.CellIDs(h.rec)
						h.publishPage()
					}
					cell := h.rec.Cells[i]
					cell.Status, cell.Error, cell.Code = record.StatusFailed, e.Record(), c.Code
					h.rec.Cells[i] = cell
					if id, html, err := report.CellHTML(h.rec, i+1); err == nil {
						h.publish("cell", map[string]any{"id": id, "html": html, "failed": true})
						if failed == "" {
							failed = id
						}
					}
				}
			}
		}
	}
	h.failed = failed
	h.publish("problem", map[string]any{"text": h.status, "failed": failed})
}

// publishPage sends the whole page. Called with h.mu held.
func (h *liveHub) publishPage() {
	page, err := h.pageLocked(newNonce())
	if err != nil {
		return
	}
	h.publish("page", map[string]any{"html": page, "run": h.run, "failed": h.failed})
}

// pageLocked renders the live page, its script allowed by nonce.
func (h *liveHub) pageLocked(nonce string) (string, error) {
	rec := h.rec
	if rec == nil {
		rec = &record.Run{Schema: record.Schema, Scenario: record.Scenario{Title: "playbook watch"}}
	}
	var b bytes.Buffer
	if err := report.LiveHTML(&b, rec, report.Live{Nonce: nonce, Status: h.status, Class: h.class}); err != nil {
		return "", err
	}
	return b.String(), nil
}

func newNonce() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// handler serves the live page (GET /) and its events (GET /events) to
// the browsers of this machine: a request that names another host (a DNS
// rebinding page) is refused.
func (h *liveHub) handler(addr string) http.Handler {
	_, port, _ := net.SplitHostPort(addr)
	hosts := map[string]bool{addr: true, "localhost:" + port: true, "127.0.0.1:" + port: true, "[::1]:" + port: true}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		nonce := newNonce()
		h.mu.Lock()
		page, err := h.pageLocked(nonce)
		h.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'nonce-"+nonce+"'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(page))
	})
	mux.HandleFunc("GET /events", h.events)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if !hosts[r.Host] {
			http.Error(w, "playbook watch serves this machine's browsers only (Host "+r.Host+" refused)", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// events streams the page's events. A browser that connects gets the
// whole page first, so that nothing sent before it connected is missed.
func (h *liveHub) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch := make(chan liveMsg, 256)
	h.mu.Lock()
	page, err := h.pageLocked(newNonce())
	if err == nil {
		data, _ := json.Marshal(map[string]any{"html": page, "run": h.run, "failed": h.failed})
		ch <- liveMsg{event: "page", data: data}
	}
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
		h.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		case m, ok := <-ch:
			if !ok {
				return
			}
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", m.event, m.data); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// cellErrorsOf returns the *runner.Error values in err's tree.
func cellErrorsOf(err error) []*runner.Error {
	switch e := err.(type) {
	case nil:
		return nil
	case *runner.Error:
		return []*runner.Error{e}
	case interface{ Unwrap() []error }:
		var out []*runner.Error
		for _, c := range e.Unwrap() {
			out = append(out, cellErrorsOf(c)...)
		}
		return out
	case interface{ Unwrap() error }:
		return cellErrorsOf(e.Unwrap())
	}
	return nil
}

// liveWords are the live page banner's words, in the scenario's language.
type liveWords struct {
	run, first, saved, running, waiting, cell, failed, stopped, ok, notRun string
	outcomes                                                               map[string]string
}

func (w liveWords) outcome(o string) string { return cmp.Or(w.outcomes[o], o) }

var liveWordsEN = liveWords{
	run: "run %d: ", first: "first run", saved: "%s saved", running: "%s running",
	waiting: "%s — waiting before cell %d of %d (%s): Enter in the terminal runs it",
	cell:    "cell %d of %d (%s) running", failed: "%s — %s, in %s: %s",
	stopped: "%s — stopped by the presenter, in %s", ok: "%s — ok, in %s", notRun: "not run: %s",
}

var liveWordsFR = liveWords{
	run: "exécution %d : ", first: "première exécution", saved: "%s enregistré", running: "%s en cours",
	waiting: "%s — en attente avant la cellule %d sur %d (%s) : Entrée dans le terminal la lance",
	cell:    "cellule %d sur %d (%s) en cours", failed: "%s — %s, en %s : %s",
	stopped: "%s — arrêtée par le présentateur, en %s", ok: "%s — ok, en %s", notRun: "non exécuté : %s",
	outcomes: map[string]string{record.OutcomeFailed: "échec", record.OutcomeRefused: "refusé", record.OutcomeError: "erreur"},
}

// words returns the banner's words in the page's language.
func (h *liveHub) words() liveWords {
	if strings.HasPrefix(h.lang, "fr") {
		return liveWordsFR
	}
	return liveWordsEN
}
