package main

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
	"github.com/playbook-mlops/playbook/runner"
)

// paramFileFlags collects repeated -f FILE flags.
type paramFileFlags []string

func (p *paramFileFlags) String() string { return strings.Join(*p, " ") }

func (p *paramFileFlags) Set(v string) error {
	*p = append(*p, v)
	return nil
}

// fileParam is one parameter of a -f file: name: value at File:Line.
type fileParam struct {
	File  string
	Line  int
	Name  string
	Value string
	// List: the value was a YAML list of single values, joined with ","
	// as -p name=a,b gives a list parameter; only a list takes it.
	List bool
}

func (p fileParam) override() string { return p.Name + "=" + p.Value }

// readParamFiles reads the -f files, in order: each a YAML mapping of
// parameter name to a scalar value (an empty file sets none). A missing
// file, one that is not a mapping, a nested value or a null is an error
// naming the file and the line.
func readParamFiles(files []string) ([]fileParam, error) {
	var out []fileParam
	var errs []error
	for _, f := range files {
		ps, err := readParamFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, ps...)
	}
	return out, errors.Join(errs...)
}

func readParamFile(file string) ([]fileParam, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("-f %s: %w", file, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("-f %s: %w", file, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil // an empty file
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping of parameter name to value, not %s", file, m.Line, nodeKind(m))
	}
	var out []fileParam
	var errs []error
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		switch {
		case k.Kind != yaml.ScalarNode || k.Value == "" || strings.Contains(k.Value, "="):
			errs = append(errs, fmt.Errorf("%s:%d: %q is not a parameter name", file, k.Line, k.Value))
		case seen[k.Value] != 0:
			errs = append(errs, fmt.Errorf("%s:%d: parameter %q is set twice (first at line %d)", file, k.Line, k.Value, seen[k.Value]))
		case v.Kind == yaml.SequenceNode:
			if l, err := listValue(v); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: parameter %q: %w", file, v.Line, k.Value, err))
			} else {
				out = append(out, fileParam{File: file, Line: k.Line, Name: k.Value, Value: l, List: true})
			}
		case v.Kind != yaml.ScalarNode:
			errs = append(errs, fmt.Errorf("%s:%d: parameter %q: want a value, not %s", file, v.Line, k.Value, nodeKind(v)))
		case v.Tag == "!!null":
			errs = append(errs, fmt.Errorf("%s:%d: parameter %q has no value", file, v.Line, k.Value))
		default:
			out = append(out, fileParam{File: file, Line: k.Line, Name: k.Value, Value: v.Value})
		}
		if k.Kind == yaml.ScalarNode && seen[k.Value] == 0 {
			seen[k.Value] = k.Line
		}
	}
	return out, errors.Join(errs...)
}

// listValue returns the list n as -p writes it: its elements joined with
// ",", each a single value without a comma.
func listValue(n *yaml.Node) (string, error) {
	var l []string
	for _, e := range n.Content {
		if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
			return "", fmt.Errorf("want a list of values, not one holding %s", nodeKind(e))
		}
		if strings.Contains(e.Value, ",") {
			return "", fmt.Errorf("list element %q: a comma would split it in two", e.Value)
		}
		l = append(l, e.Value)
	}
	return strings.Join(l, ","), nil
}

func nodeKind(n *yaml.Node) string {
	if n.Tag == "!!null" {
		return "no value"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a single value"
}

// fileOverrides returns ps as -p overrides, in order.
func fileOverrides(ps []fileParam) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.override()
	}
	return out
}

// checkFileParams checks each parameter of the -f files as a -p of it
// would be (the same routing to scenarios, types and constraints), so
// that an error names the file and the line.
func checkFileParams(scs []*runner.Scenario, ps []fileParam) error {
	var errs []error
	for _, p := range ps {
		declared := 0
		for _, sc := range scs {
			if len(scs) > 1 && !slices.ContainsFunc(sc.Params, func(s runner.ParamSpec) bool { return s.Name == p.Name }) {
				continue
			}
			declared++
			if i := slices.IndexFunc(sc.Params, func(s runner.ParamSpec) bool { return s.Name == p.Name }); p.List && i >= 0 && sc.Params[i].Type != record.TypeList {
				errs = append(errs, fmt.Errorf("%s:%d: parameter %q (%s) takes one value, not a list", p.File, p.Line, p.Name, sc.Params[i].Type))
				continue
			}
			// Alone, a parameter the file does not set is not missing.
			specs := slices.Clone(sc.Params)
			for i := range specs {
				specs[i].Required = false
			}
			if _, err := runner.ResolveParams(specs, []string{p.override()}); err != nil {
				msg := strings.TrimPrefix(err.Error(), "-p "+p.override()+": ")
				in := ""
				if len(scs) > 1 {
					in = " (" + sc.Path + ")"
				}
				errs = append(errs, fmt.Errorf("%s:%d: %s%s: %s", p.File, p.Line, p.override(), in, msg))
			}
		}
		if declared == 0 {
			errs = append(errs, fmt.Errorf("%s:%d: no scenario declares parameter %q", p.File, p.Line, p.Name))
		}
	}
	return errors.Join(errs...)
}

// scenarioResult is what a scenario's run left, for --json and --junit.
type scenarioResult struct {
	path    string
	rec     *record.Run // nil when the scenario failed before its first cell (err)
	err     error
	dir     string // its --out folder, "" for none
	elapsed time.Duration
}

// jsonSummary is --json's summary, documented in README.md.
type jsonSummary struct {
	ExitCode  int            `json:"exit_code"`
	Error     *string        `json:"error"`
	Scenarios []jsonScenario `json:"scenarios"`
}

type jsonScenario struct {
	Path       string         `json:"path"`
	Status     string         `json:"status"`
	ExitCode   *int           `json:"exit_code"`
	CellsRun   int            `json:"cells_run"`
	CellsTotal int            `json:"cells_total"`
	DurationMS int64          `json:"duration_ms"`
	Report     *string        `json:"report"`
	Evidence   *string        `json:"evidence"`
	Promotion  *jsonPromotion `json:"promotion"`
	Error      *jsonError     `json:"error"`
}

type jsonPromotion struct {
	Model    string `json:"model"`
	Version  string `json:"version"`
	Alias    string `json:"alias"`
	Previous string `json:"previous"`
}

type jsonError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Step    string `json:"step"`
	Message string `json:"message"`
}

// statusNotRun is --json's status of a scenario that did not run.
const statusNotRun = "not_run"

// writeJSONSummary writes --json's summary of the scenarios at paths to w.
func writeJSONSummary(w io.Writer, paths []string, results []scenarioResult, code int, runErr error) error {
	s := jsonSummary{ExitCode: code, Scenarios: []jsonScenario{}}
	if runErr != nil && code != ExitOK {
		msg := runErr.Error()
		s.Error = &msg
	}
	for i, p := range paths {
		if i >= len(results) || results[i].path != p {
			s.Scenarios = append(s.Scenarios, jsonScenario{Path: p, Status: statusNotRun})
			continue
		}
		s.Scenarios = append(s.Scenarios, scenarioJSON(results[i]))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

func scenarioJSON(r scenarioResult) jsonScenario {
	rec := r.rec
	if rec == nil { // it failed before its first cell: no record
		code := exitCode(r.err)
		return jsonScenario{Path: r.path, Status: record.OutcomeError, ExitCode: &code, DurationMS: r.elapsed.Milliseconds(),
			Error: &jsonError{Message: r.err.Error()}}
	}
	code := rec.Environment.Exit.Code
	j := jsonScenario{
		Path: r.path, Status: rec.Environment.Exit.Status, ExitCode: &code,
		CellsTotal: len(rec.Cells), DurationMS: r.elapsed.Milliseconds(),
	}
	for _, c := range rec.Cells {
		if c.Status != record.StatusNotRun {
			j.CellsRun++
		}
	}
	if r.dir != "" {
		html, ev := filepath.Join(r.dir, report.HTMLFile), filepath.Join(r.dir, record.EvidenceFile)
		j.Report, j.Evidence = &html, &ev
	}
	if p := rec.Evidence.Promotion; p != nil {
		j.Promotion = &jsonPromotion{Model: p.Model, Version: p.Version, Alias: p.Alias, Previous: p.Previous}
	}
	if e := rec.Error; e != nil {
		j.Error = &jsonError{File: e.File, Line: e.Line, Step: e.Step, Message: e.Message}
	}
	return j
}

// JUnit XML, as CI systems read it (Jenkins, GitLab, GitHub Actions'
// reporters): a testsuite per scenario, a testcase per cell.
type junitSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	junitCounts
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	junitCounts
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

// junitCounts are the attributes of testsuites and of each testsuite.
type junitCounts struct {
	Name     string `xml:"name,attr"`
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Errors   int    `xml:"errors,attr"`
	Skipped  int    `xml:"skipped,attr"`
	Time     string `xml:"time,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure"`
	Error     *junitFailure `xml:"error"`
	Skipped   *struct{}     `xml:"skipped"`
	SystemOut string        `xml:"system-out,omitempty"`
	SystemErr string        `xml:"system-err,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// junitXML returns the JUnit XML report of results.
func junitXML(results []scenarioResult) ([]byte, error) {
	all := junitSuites{junitCounts: junitCounts{Name: "playbook"}}
	var total time.Duration
	for _, r := range results {
		if r.rec == nil { // failed before its first cell: one testcase, in error
			all.Suites = append(all.Suites, junitSuite{
				junitCounts: junitCounts{Name: r.path, Tests: 1, Errors: 1, Time: seconds(r.elapsed)},
				Cases:       []junitCase{{Name: "start", Classname: r.path, Time: seconds(r.elapsed), Error: &junitFailure{Message: r.err.Error()}}},
			})
			all.Tests++
			all.Errors++
			total += r.elapsed
			continue
		}
		s := junitSuite{junitCounts: junitCounts{Name: r.path, Time: seconds(r.elapsed)}}
		if !r.rec.Environment.Start.IsZero() {
			s.Timestamp = r.rec.Environment.Start.UTC().Format("2006-01-02T15:04:05")
		}
		for _, c := range r.rec.Cells {
			tc := junitCase{Name: c.Step, Classname: r.path, File: c.File, Line: c.Line, Time: seconds(time.Duration(c.Duration))}
			switch c.Status {
			case record.StatusNotRun:
				tc.Skipped = &struct{}{}
				s.Skipped++
			case record.StatusFailed:
				f := &junitFailure{Message: "failed"}
				if c.Error != nil {
					f.Message, f.Type = c.Error.Message, c.Error.Kind
					f.Text = fmt.Sprintf("%s:%d: step %s: %s", c.Error.File, c.Error.Line, c.Error.Step, c.Error.Message)
				}
				tc.Failure = f
				s.Failures++
			}
			for _, o := range c.Outputs {
				switch o.Kind {
				case record.OutputStdout:
					tc.SystemOut += o.Text
				case record.OutputStderr:
					tc.SystemErr += o.Text
				}
			}
			s.Cases = append(s.Cases, tc)
		}
		s.Tests = len(s.Cases)
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Skipped += s.Skipped
		total += r.elapsed
		all.Suites = append(all.Suites, s)
	}
	all.Time = seconds(total)
	b, err := xml.MarshalIndent(all, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// writeJUnit writes the JUnit XML report of results to file.
func writeJUnit(file string, results []scenarioResult) error {
	b, err := junitXML(results)
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}
