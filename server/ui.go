package server

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/internal/textcut"
)

// The registry page: a read-only view of the registry in server-rendered
// HTML, at the server's address, where a report's links lead.
//
// MLflow's UI keeps its route in the URL's fragment (/#/models/NAME,
// /#/experiments/E/runs/R), which a browser never sends: so / holds,
// beside the list of registered models, every model's page and the page of
// every run a shown version comes from, each a section whose id is that
// route, shown by CSS alone when the fragment names it (:target). No
// script runs: the Content-Security-Policy forbids any. /ui/models/NAME
// and /ui/runs/ID are the same pages on their own.

//go:embed ui/*.tmpl
var uiFiles embed.FS

var uiTemplates = template.Must(template.New("ui").ParseFS(uiFiles, "ui/*.tmpl"))

// uiCSP allows the page's inline style and data: images, nothing else: no
// script, no fetch, no form.
const uiCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

// The limits of one page: the list (/) shows the first indexLimits.models
// models by name; a model's own page more of its versions.
var (
	indexLimits = uiLimits{models: 200, versions: 50, runs: 500}
	modelLimits = uiLimits{versions: 500}
)

// The limits of a run's artifact listing: entries at its root, and in
// each folder at its root.
const (
	maxArtifacts      = 200
	maxArtifactsInDir = 50
)

// uiRoutes adds the registry page's routes: GET (and HEAD) only.
func (s *Server) uiRoutes(handle func(pattern string, h http.Handler)) {
	handle("GET /{$}", http.HandlerFunc(s.uiIndex))
	handle("GET /ui/models/{name}", http.HandlerFunc(s.uiModel))
	handle("GET /ui/runs/{run_id}", http.HandlerFunc(s.uiRun))
}

// uiPage is what the template draws.
type uiPage struct {
	Title   string
	Version string // the server's
	Index   bool   // the / page: the list, and every page as a section
	Home    string // the list's address
	Models  []*uiModel
	Runs    []*uiRun
	// The list (Index only).
	Total, ModelsCut, RunsCut int
	// Missing is the message of a page not found.
	Missing string
}

type uiModel struct {
	Name, Description, Created, Updated, Latest string
	Section, Href, Permalink, Home              string
	Tags                                        []tagJSON
	Aliases                                     []uiAlias
	Versions                                    []*uiVersion
	VersionsTotal, VersionsCut                  int
}

type uiAlias struct{ Alias, Version, Href string }

type uiVersion struct {
	Version, Section, Href, Status, StatusMessage, Stage, Source, StorageLocation string
	RunID, RunHref, ModelID, User, Created, Updated, Description                  string
	Tags                                                                          []tagJSON
	Brief                                                                         []tagJSON // Tags, long values cut: the overview's
	Aliases                                                                       []string
}

// briefValue is the longest tag value the versions' overview shows whole;
// the version's own table shows every value whole.
const briefValue = 80

type uiRun struct {
	ID, Name, ExperimentID, Experiment, Status, Lifecycle, User string
	Start, End, ArtifactURI, Section, Permalink, Home           string
	Params, Tags                                                []tagJSON
	Metrics                                                     []uiMetric
	Artifacts                                                   []uiArtifact
	ArtifactsCut                                                int
	LoggedModels                                                []uiLoggedModel
	Versions                                                    []uiVersionRef
}

type uiMetric struct {
	Key, Value, Time string
	Step             int64
}

type uiArtifact struct {
	Name, Size string
	Dir        bool
	Children   []uiArtifact
	Cut        int
}

type uiLoggedModel struct{ ID, Name, Status, Created, ArtifactURI string }

type uiVersionRef struct {
	Model, Version, Href string
	Aliases              []string
}

// uiLinks makes a page's links: in the list's page (index), to its
// sections by their fragment, where the page has them; elsewhere, and to
// what the list's page left out, to the standalone pages.
type uiLinks struct {
	index  bool
	models map[string]bool  // the models with a section
	runs   map[string]int64 // the runs with a section: their experiment
}

// modelSection is the id of a model's section: MLflow's route of its page.
func modelSection(name string) string { return "/models/" + name }

// versionSection is the id of a version's part of its model's page:
// MLflow's route of the version's page.
func versionSection(name string, version int64) string {
	return modelSection(name) + "/versions/" + itoa(version)
}

// runSection is the id of a run's section: MLflow's route of its page.
func runSection(experimentID int64, id string) string {
	return "/experiments/" + itoa(experimentID) + "/runs/" + id
}

func modelPermalink(name string) string { return "/ui/models/" + url.PathEscape(name) }
func runPermalink(id string) string     { return "/ui/runs/" + url.PathEscape(id) }

// home is the list's address.
func (l uiLinks) home() string {
	if l.index {
		return "#"
	}
	return "/"
}

func (l uiLinks) model(name string) string {
	if l.index && l.models[name] {
		return "#/models/" + url.PathEscape(name)
	}
	return modelPermalink(name)
}

func (l uiLinks) version(name string, version int64) string {
	frag := "#/models/" + url.PathEscape(name) + "/versions/" + itoa(version)
	if l.index && l.models[name] {
		return frag
	}
	return modelPermalink(name) + frag
}

func (l uiLinks) run(id string) string {
	if exp, ok := l.runs[id]; ok && l.index {
		return "#/experiments/" + itoa(exp) + "/runs/" + url.PathEscape(id)
	}
	return runPermalink(id)
}

// uiIndex is /: the list of registered models, and every page as a
// section that the fragment shows.
func (s *Server) uiIndex(w http.ResponseWriter, r *http.Request) {
	view, err := s.db.readRegistryView(r.Context(), nil, indexLimits)
	if err != nil {
		s.uiFail(w, r, err)
		return
	}
	links := uiLinks{index: true, models: map[string]bool{}, runs: map[string]int64{}}
	for _, m := range view.models {
		links.models[m.model.name] = true
	}
	for _, e := range view.runs {
		links.runs[e.run.id] = e.run.experimentID
	}
	page := &uiPage{Title: "Registry (read-only)", Index: true, Home: "#",
		Total: view.totalModels, ModelsCut: view.totalModels - len(view.models), RunsCut: view.runsCut}
	for _, m := range view.models {
		page.Models = append(page.Models, s.uiModelOf(m, links))
	}
	for _, e := range view.runs {
		page.Runs = append(page.Runs, s.uiRunOf(e, links))
	}
	s.uiRender(w, r, http.StatusOK, page)
}

// uiModel is /ui/models/{name}: a registered model's page.
func (s *Server) uiModel(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	view, err := s.db.readRegistryView(r.Context(), []string{name}, modelLimits)
	if err != nil {
		s.uiFail(w, r, err)
		return
	}
	if len(view.models) == 0 {
		s.uiNotFound(w, r, fmt.Sprintf("No registered model is named %q.", name))
		return
	}
	page := &uiPage{Title: name + " — Registry (read-only)", Home: "/",
		Models: []*uiModel{s.uiModelOf(view.models[0], uiLinks{})}}
	s.uiRender(w, r, http.StatusOK, page)
}

// uiRun is /ui/runs/{run_id}: a run's page.
func (s *Server) uiRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("run_id")
	e, err := s.db.readRunEntry(r.Context(), id)
	if isNotFound(err) {
		s.uiNotFound(w, r, fmt.Sprintf("No run has the id %q.", id))
		return
	}
	if err != nil {
		s.uiFail(w, r, err)
		return
	}
	page := &uiPage{Title: cmp.Or(e.run.name, id) + " — Registry (read-only)", Home: "/",
		Runs: []*uiRun{s.uiRunOf(e, uiLinks{})}}
	s.uiRender(w, r, http.StatusOK, page)
}

// uiNotFound answers a page that is not there: a 404 that says what was
// asked for.
func (s *Server) uiNotFound(w http.ResponseWriter, r *http.Request, msg string) {
	s.uiRender(w, r, http.StatusNotFound, &uiPage{Title: "Not found — Registry (read-only)", Home: "/", Missing: msg})
}

// uiFail answers a page that could not be read: a 500, logged.
func (s *Server) uiFail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(r.Context().Err(), context.Canceled) {
		return
	}
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	uiHeaders(w.Header())
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte("<!doctype html>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n<p>The registry could not be read; the server's log says why.</p>\n"))
}

// uiHeaders sets the headers of every page.
func uiHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// uiRender draws page, whole, before it writes anything: a template that
// fails is a 500, not half a page.
func (s *Server) uiRender(w http.ResponseWriter, r *http.Request, status int, page *uiPage) {
	page.Version = s.version
	var buf bytes.Buffer
	if err := uiTemplates.ExecuteTemplate(&buf, "page", page); err != nil {
		s.uiFail(w, r, fmt.Errorf("drawing the page: %w", err))
		return
	}
	uiHeaders(w.Header())
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// uiModelOf is a model's page.
func (s *Server) uiModelOf(e *modelEntry, links uiLinks) *uiModel {
	m := e.model
	out := &uiModel{
		Name: m.name, Description: m.description, Created: uiTime(m.creationTime), Updated: uiTime(m.lastUpdated),
		Section: modelSection(m.name), Href: links.model(m.name), Permalink: modelPermalink(m.name), Home: links.home(), Tags: m.tags,
		VersionsTotal: e.total, VersionsCut: e.total - len(e.versions),
	}
	var latest int64
	for _, v := range m.latest {
		latest = max(latest, v.version)
	}
	if latest > 0 {
		out.Latest = itoa(latest)
	}
	for _, a := range m.aliases {
		n, _ := strconv.ParseInt(a.Version, 10, 64)
		out.Aliases = append(out.Aliases, uiAlias{Alias: a.Alias, Version: a.Version, Href: links.version(m.name, n)})
	}
	for _, v := range e.versions {
		uv := &uiVersion{
			Version: itoa(v.version), Section: versionSection(v.name, v.version), Href: links.version(v.name, v.version), Status: v.status,
			StatusMessage: v.statusMessage.String, Source: v.source, RunID: v.runID,
			ModelID: loggedModelSource(v.source), User: v.userID.String,
			Created: uiTime(v.creationTime), Updated: uiTime(v.lastUpdated), Description: v.description,
			Tags: v.tags, Aliases: v.aliases,
		}
		for _, t := range v.tags {
			uv.Brief = append(uv.Brief, tagJSON{Key: t.Key, Value: textcut.Truncate(t.Value, briefValue)})
		}
		if v.stage != stageNone {
			uv.Stage = v.stage
		}
		if v.storageLocation != v.source {
			uv.StorageLocation = v.storageLocation
		}
		if v.runID != "" {
			uv.RunHref = links.run(v.runID)
		}
		out.Versions = append(out.Versions, uv)
	}
	return out
}

// uiRunOf is a run's page.
func (s *Server) uiRunOf(e *runEntry, links uiLinks) *uiRun {
	r := e.run
	out := &uiRun{
		ID: r.id, Name: r.name, ExperimentID: itoa(r.experimentID), Status: r.status, Lifecycle: r.stage, User: r.userID,
		Start: uiTime(r.startTime), ArtifactURI: r.artifactURI,
		Section: runSection(r.experimentID, r.id), Permalink: runPermalink(r.id), Home: links.home(), Params: r.params, Tags: r.tags,
	}
	if e.experiment != nil {
		out.Experiment = e.experiment.name
	}
	if r.endTime.Valid {
		out.End = uiTime(r.endTime.Int64)
	}
	for _, m := range r.metrics {
		out.Metrics = append(out.Metrics, uiMetric{Key: m.key, Value: uiNumber(m), Time: uiTime(m.timestamp), Step: m.step})
	}
	out.Artifacts, out.ArtifactsCut = s.uiArtifacts(r.artifactURI)
	for _, m := range e.loggedModels {
		out.LoggedModels = append(out.LoggedModels, uiLoggedModel{
			ID: m.id, Name: m.name, Status: strings.TrimPrefix(loggedModelStatuses[m.status], "LOGGED_MODEL_"),
			Created: uiTime(m.creationTime), ArtifactURI: m.artifactLocation,
		})
	}
	for _, v := range e.versions {
		out.Versions = append(out.Versions, uiVersionRef{Model: v.name, Version: itoa(v.version), Href: links.version(v.name, v.version), Aliases: v.aliases})
	}
	return out
}

// uiArtifacts lists a run's artifacts: its root, and each folder there
// one level deep, each bounded; and how many root entries were left out.
func (s *Server) uiArtifacts(artifactURI string) ([]uiArtifact, int) {
	root, ok := strings.CutPrefix(artifactURI, artifactRootURI)
	if !ok {
		return nil, 0
	}
	root = strings.Trim(root, "/")
	if p, aerr := safeArtifactPath(root); aerr != nil || p != root {
		return nil, 0
	}
	list := func(dir string, limit int) ([]uiArtifact, int) {
		files, err := s.listDir(dir)
		if err != nil {
			s.log.Error("listing artifacts", "path", dir, "err", err)
		}
		cut := max(len(files)-limit, 0)
		files = files[:min(len(files), limit)]
		out := make([]uiArtifact, 0, len(files))
		for _, f := range files {
			a := uiArtifact{Name: f.Path, Dir: f.IsDir}
			if f.FileSize != nil {
				a.Size = uiSize(*f.FileSize)
			}
			out = append(out, a)
		}
		return out, cut
	}
	top, cut := list(root, maxArtifacts)
	for i := range top {
		if top[i].Dir {
			top[i].Children, top[i].Cut = list(path.Join(root, top[i].Name), maxArtifactsInDir)
		}
	}
	return top, cut
}

// uiTime formats a time in milliseconds since the epoch, UTC; "" for 0.
func uiTime(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05 UTC")
}

// uiNumber formats a metric's value as MLflow returns it.
func uiNumber(m metric) string {
	if m.isNaN {
		return "NaN"
	}
	return strconv.FormatFloat(m.value, 'g', -1, 64)
}

// uiSize formats a file size: bytes, and KiB, MiB or GiB from 1 KiB on.
func uiSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, suffix := float64(n)/unit, "KiB"
	for _, next := range []string{"MiB", "GiB", "TiB"} {
		if f < unit {
			break
		}
		f, suffix = f/unit, next
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + suffix
}
