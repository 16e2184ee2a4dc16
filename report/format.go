package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/record"
)

// fmtTime writes a time in UTC, to the second: a report says when, not how
// fast.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// fmtClock writes a time of day in UTC, to the millisecond.
func fmtClock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("15:04:05.000")
}

// fmtDuration rounds a duration for people: 412µs, 85ms, 2.35s, 3m4s.
func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// fmtNum writes a metric: four decimals, or a dash for none.
func fmtNum(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "—"
	}
	return strconv.FormatFloat(f, 'f', 4, 64)
}

func fmtOptNum(f *float64) string {
	if f == nil {
		return ""
	}
	return fmtNum(*f)
}

// fmtDelta writes a signed difference.
func fmtDelta(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "—"
	}
	return strconv.FormatFloat(f, 'f', 4, 64)
}

// fmtSize writes a file size.
func fmtSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// fmtValue writes a parameter's value.
func fmtValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmtValue(e)
		}
		return strings.Join(parts, ", ")
	case []string:
		return strings.Join(x, ", ")
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// fmtArgs writes a call's arguments as compact JSON, keys sorted, URLs
// without credentials.
func fmtArgs(args map[string]any) string {
	if len(args) == 0 {
		return ""
	}
	b, err := json.Marshal(args) // sorts the keys
	if err != nil {
		return fmt.Sprint(args)
	}
	return redactText(string(b))
}

// userinfo matches the credentials of a URL: scheme://user:password@.
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s"]+@`)

// redactText removes the credentials of every URL in s.
func redactText(s string) string {
	return userinfo.ReplaceAllString(s, "${1}")
}

// redactURL removes a URL's credentials and its query (where tokens go).
// The record's tracking URI is redacted already; the report does it again
// so that no record, however written, puts a password in a report.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return redactText(s)
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = ""
		u.ForceQuery = false
	}
	return redactText(u.String())
}

// versionLess orders version numbers as numbers when they are.
func versionLess(a, b string) bool {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	switch {
	case errA == nil && errB == nil:
		return x < y
	case errA == nil:
		return true
	case errB == nil:
		return false
	}
	return a < b
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// statusLabel words a cell's status.
func statusLabel(l *labels, status string) string {
	switch status {
	case record.StatusOK:
		return l.StatusOK
	case record.StatusFailed:
		return l.StatusFailed
	case record.StatusNotRun:
		return l.StatusNotRun
	}
	return status
}

// slug makes a name safe for a file name or an HTML id: lower-case
// letters, digits and dashes.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimSuffix(b.String(), "-")
	if len(out) > 40 {
		out = strings.TrimSuffix(out[:40], "-")
	}
	if out == "" {
		out = "x"
	}
	return out
}

// foldAccents writes the accented letters of French (and its neighbours)
// as their plain ones, so that a French title makes a readable slug:
// "Matrice de confusion (époque 2)" → "Matrice de confusion (epoque 2)".
func foldAccents(s string) string {
	return accentFolder.Replace(s)
}

var accentFolder = strings.NewReplacer(
	"à", "a", "â", "a", "ä", "a", "á", "a", "À", "A", "Â", "A", "Ä", "A",
	"é", "e", "è", "e", "ê", "e", "ë", "e", "É", "E", "È", "E", "Ê", "E", "Ë", "E",
	"î", "i", "ï", "i", "í", "i", "Î", "I", "Ï", "I",
	"ô", "o", "ö", "o", "ó", "o", "Ô", "O", "Ö", "O",
	"ù", "u", "û", "u", "ü", "u", "ú", "u", "Ù", "U", "Û", "U", "Ü", "U",
	"ç", "c", "Ç", "C", "ñ", "n", "Ñ", "N", "ÿ", "y",
	"œ", "oe", "Œ", "OE", "æ", "ae", "Æ", "AE", "ß", "ss",
)

// maxPlotPNG bounds a plot's PNG, in bytes: a 5 × 3.25 in plot at 192 DPI
// is ~100 KB; a cell's runaway image is left out.
const maxPlotPNG = 4 << 20

// cleanPNG returns b decoded and encoded again, so that what report.md's
// folder holds under a .png name is a PNG and nothing else; nil when b is
// empty, too large (file or image), or not a PNG.
func cleanPNG(b []byte) []byte {
	if len(b) == 0 || len(b) > maxPlotPNG {
		return nil
	}
	// Its size first: a small file may claim a huge image.
	if c, err := png.DecodeConfig(bytes.NewReader(b)); err != nil || c.Width*c.Height > 4096*4096 {
		return nil
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, img); err != nil {
		return nil
	}
	return out.Bytes()
}
