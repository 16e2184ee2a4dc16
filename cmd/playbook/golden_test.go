package main

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"html"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/french-report from this run")

// TestFrenchReportUnchanged: the README's main command on the embedded
// backend, serving off (the model scored in process), writes the same French report as the golden copy, byte for byte
// once what differs from run to run (times, durations, run ids, ports,
// folders, host and user) is replaced by placeholders. A refactoring that
// changes what the report says fails here; a deliberate change is
// regenerated with -update and its diff read.
func TestFrenchReportUnchanged(t *testing.T) {
	noExternalBackend(t)
	golden, err := filepath.Abs(filepath.Join("testdata", "french-report"))
	require.NoError(t, err)
	work := t.TempDir()
	t.Chdir(work)
	// serve=off: whether a Python with mlflow is found (the scenario's
	// serve=auto) depends on the machine; the golden report must not.
	// --kernel in-process likewise: the audit block of a kernel process
	// says which Landlock ABI and limits the machine's kernel gave
	// (report's TestIsolationInFrench holds those rows), and
	// TestKernelFrenchScenarioSameContent holds the rest of a kernel
	// process's report to an in-process one.
	// PLAYBOOK_CHROMIUM=off likewise: the capture of the model's page
	// depends on the machine's Chromium (TestEmbeddedRegistryPage holds it).
	t.Setenv("PLAYBOOK_CHROMIUM", "off")
	args := []string{"run", "--quiet", "--kernel", kernelInProcess, "--out", "out", repoScenario("churn-training.md"), repoScenario("churn-promotion.fr.md"), "-p", "serve=off"}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	require.Equal(t, ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())

	dir := filepath.Join(work, "out", "churn-promotion.fr")
	rec := readRecord(t, dir)
	norm := newNormalizer(work, rec)
	for _, name := range []string{report.MarkdownFile, report.HTMLFile, record.EvidenceFile} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		got = norm.apply(got)
		want := filepath.Join(golden, name)
		if *updateGolden {
			require.NoError(t, os.MkdirAll(golden, 0o755))
			require.NoError(t, os.WriteFile(want, got, 0o644))
			continue
		}
		wantBytes, err := os.ReadFile(want)
		require.NoError(t, err, "no golden file: run go test ./cmd/playbook -run TestFrenchReportUnchanged -update")
		assert.Equal(t, string(wantBytes), string(got), "%s differs from %s", name, want)
	}
}

// normalizer replaces what varies between two runs on the same inputs.
type normalizer struct {
	literal []string // replaced by their placeholders, in order
	holders []string
}

func newNormalizer(work string, rec *record.Run) *normalizer {
	n := &normalizer{}
	n.add(filepath.ToSlash(work), "WORK")
	n.add(repoRoot(), "REPO")
	// The actor is user@host ("root@vm"); the user alone is in the JSON.
	if env := rec.Environment; env.User != "" && env.Host != "" {
		n.add(env.User+"@"+env.Host, "USER@HOST")
		n.add(`"host": "`+env.Host+`"`, `"host": "HOST"`)
		n.add(`"user": "`+env.User+`"`, `"user": "USER"`)
		n.add("| "+env.User+" |", "| USER |")
		n.add("<td>"+env.User+"</td>", "<td>USER</td>")
	}
	n.add(`"go_version": "`+rec.Environment.GoVersion+`"`, `"go_version": "GO"`)
	n.add(`"playbook_version": "`+rec.Environment.PlaybookVersion+`"`, `"playbook_version": "VERSION"`)
	// The version as the report shows it (a go test binary's is a
	// sentence saying none was stamped).
	if v := rec.Environment.PlaybookVersion; v != "" {
		n.add("playbook "+v, "playbook VERSION")
		n.add("<code>"+html.EscapeString(v)+"</code>", "<code>VERSION</code>")
		n.add("`"+v+"`", "`VERSION`")
	}
	return n
}

func (n *normalizer) add(s, holder string) {
	if s != "" {
		n.literal = append(n.literal, s)
		n.holders = append(n.holders, holder)
	}
}

func repoRoot() string { return filepath.ToSlash(testenv.RepoRoot()) }

var (
	reRunID    = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
	rePort     = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	reRFC3339  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	reDate     = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC`)
	reClock    = regexp.MustCompile(`\b\d\d:\d\d:\d\d\.\d{3}\b`)
	reDuration = regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s|m)\b`)
	reNanos    = regexp.MustCompile(`"(duration_ns|duration|start_ns|millis|duration_ms)": ?\d+`)
	reMillis   = regexp.MustCompile(`\b1[6-9]\d{11}\b`)
	reVersion  = regexp.MustCompile(`playbook (dev|v[^ <"|]+)`)
)

// rePNG is a plot's PNG in the evidence: the golden file holds what it
// is (a PNG of that size), not its bytes.
var rePNG = regexp.MustCompile(`"png": "([A-Za-z0-9+/=]*)"`)

func pngShape(m []byte) []byte {
	data, err := base64.StdEncoding.DecodeString(string(rePNG.FindSubmatch(m)[1]))
	if err != nil {
		return []byte(`"png": "NOT BASE64"`)
	}
	c, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return []byte(`"png": "NOT A PNG"`)
	}
	return []byte(fmt.Sprintf(`"png": "PNG %dx%d"`, c.Width, c.Height))
}

func (n *normalizer) apply(b []byte) []byte {
	b = rePNG.ReplaceAllFunc(b, pngShape)
	for i, s := range n.literal {
		b = bytes.ReplaceAll(b, []byte(s), []byte(n.holders[i]))
	}
	// Run ids become RUN1, RUN2, … in order of first appearance, so a
	// report that names the wrong run still differs.
	ids := map[string]string{}
	b = reRunID.ReplaceAllFunc(b, func(m []byte) []byte {
		k := string(m)
		if _, ok := ids[k]; !ok {
			ids[k] = "RUN" + strconv.Itoa(len(ids)+1)
		}
		return []byte(ids[k])
	})
	b = rePort.ReplaceAll(b, []byte("127.0.0.1:PORT"))
	b = reRFC3339.ReplaceAll(b, []byte("TIME"))
	b = reDate.ReplaceAll(b, []byte("DATE"))
	b = reClock.ReplaceAll(b, []byte("CLOCK"))
	b = reNanos.ReplaceAll(b, []byte(`"$1": N`))
	b = reMillis.ReplaceAll(b, []byte("MILLIS"))
	b = reDuration.ReplaceAll(b, []byte("DUR"))
	b = reVersion.ReplaceAll(b, []byte("playbook VERSION"))
	return b
}

// englishWords are words of playbook's English labels and messages that
// have no place in a French report (none of them is also French). Not
// "passed" or "none": values of the exercise's tags, shown as they are.
var englishWords = []string{
	"the", "then", "and", "of", "by", "with", "failed", "refused", "descending", "ascending",
	"method", "endpoint", "difference", "parity", "odds", "equalized", "demographic",
	"most", "recent", "first", "search", "orders", "now", "holds", "would", "check(s)",
	"skipped", "planned", "sent", "moved", "kept", "stays", "churns",
	"status", "outcome", "threshold", "started", "created", "exists",
}

// TestFrenchReportHasNoEnglish: the French golden report (the one
// TestFrenchReportUnchanged holds to a fresh run) has none of
// englishWords outside code, identifiers and quoted terms, in its page
// and its Markdown, and no value cut short with "…".
func TestFrenchReportHasNoEnglish(t *testing.T) {
	dir := filepath.Join("testdata", "french-report")
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	strip := []*regexp.Regexp{
		regexp.MustCompile(`(?s)<style>.*?</style>`),
		regexp.MustCompile(`(?s)<pre class="src">.*?</pre>`),
		regexp.MustCompile(`(?s)<code>.*?</code>`),
		regexp.MustCompile(`(?s)<em>.*?</em>`), // a term quoted in the scenario's prose
		regexp.MustCompile(`"data:[^"]*"`),
		regexp.MustCompile(`<[^>]+>`),
	}
	text := string(page)
	for _, re := range strip {
		text = re.ReplaceAllString(text, " ")
	}
	mdText := regexp.MustCompile("(?s)```.*?```").ReplaceAllString(string(md), " ")
	mdText = regexp.MustCompile("`[^`]*`").ReplaceAllString(mdText, " ")
	mdText = regexp.MustCompile(`\*[^*\n]+\*`).ReplaceAllStringFunc(mdText, func(s string) string {
		if strings.HasPrefix(s, "**") {
			return s
		}
		return " " // *a quoted term*
	})
	word := regexp.MustCompile(`[\p{L}_.\-=/:@()0-9"{},]+`) // a key=value or a JSON value is one word
	for name, body := range map[string]string{"index.html": html.UnescapeString(text), "report.md": mdText} {
		found := map[string]string{}
		for _, line := range strings.Split(body, "\n") {
			for _, w := range word.FindAllString(line, -1) {
				lw := strings.ToLower(strings.Trim(w, "().:"))
				if slices.Contains(englishWords, lw) && found[lw] == "" {
					found[lw] = strings.TrimSpace(line)
				}
			}
		}
		assert.Empty(t, found, "%s: English words in the French report (word: a line holding it)", name)
		var cut []string
		for _, line := range strings.Split(body, "\n") {
			if strings.Contains(line, "…") {
				cut = append(cut, strings.TrimSpace(line))
			}
		}
		assert.Empty(t, cut, "%s: a value cut short (…) outside code and quoted terms", name)
	}
}
