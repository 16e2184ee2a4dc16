package server

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFilter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		filter  string
		want    []comparison
		invalid []string
	}{
		{"Metric", "metrics.f1 > 0.5", []comparison{{left: "metrics.f1", op: ">", right: token{tokFloat, "0.5"}}}, nil},
		{"NegativeNumber", "metrics.f1>=-2", []comparison{{left: "metrics.f1", op: ">=", right: token{tokInt, "-2"}}}, nil},
		{"Exponent", "metrics.f1 < 1e-3", []comparison{{left: "metrics.f1", op: "<", right: token{tokFloat, "1e-3"}}}, nil},
		{"AndLowerCase", "params.a = 'x' and tags.b != \"y\"", []comparison{
			{left: "params.a", op: "=", right: token{tokString, "'x'"}},
			{left: "tags.b", op: "!=", right: token{tokSymbol, `"y"`}},
		}, nil},
		{"Backticks", "tags.`mlflow.runName` LIKE 'r%'", []comparison{{left: "tags.`mlflow.runName`", op: "LIKE", right: token{tokString, "'r%'"}}}, nil},
		{"QuotedKey", "tags.'a b' = 'c'", []comparison{{left: "tags.'a b'", op: "=", right: token{tokString, "'c'"}}}, nil},
		{"IsNull", "params.p IS NULL AND tags.t is not null", []comparison{{left: "params.p", op: "IS NULL"}, {left: "tags.t", op: "IS NOT NULL"}}, nil},
		{"In", "run_id IN ('a', 'b')", []comparison{{left: "run_id", op: "IN", isList: true, list: []token{{tokString, "'a'"}, {tokString, "'b'"}}}}, nil},
		{"NotIn", "run_id NOT IN ('a')", []comparison{{left: "run_id", op: "NOT IN", isList: true, list: []token{{tokString, "'a'"}}}}, nil},
		{"EscapedQuote", "params.p = 'it''s'", []comparison{{left: "params.p", op: "=", right: token{tokString, "'it''s'"}}}, nil},
		{"Or", "metrics.a > 1 OR metrics.b < 2", []comparison{
			{left: "metrics.a", op: ">", right: token{tokInt, "1"}}, {left: "metrics.b", op: "<", right: token{tokInt, "2"}},
		}, []string{"OR"}},
		{"Parenthesis", "(metrics.a > 1)", nil, []string{"(metrics.a > 1)"}},
		{"Dangling", "metrics.a", nil, []string{"metrics.a"}},
		{"LongComparator", "metrics.a >>> 1", []comparison{{left: "metrics.a", op: ">>>", right: token{tokInt, "1"}}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := parseFilter(tc.filter)
			assert.Equal(t, tc.want, st.comparisons)
			assert.Equal(t, tc.invalid, st.invalid)
		})
	}
}

func TestLikeMatch(t *testing.T) {
	for _, tc := range []struct {
		s, pattern string
		want       bool
	}{
		{"churn", "churn", true},
		{"churn", "ch%", true},
		{"churn", "%rn", true},
		{"churn", "%u%", true},
		{"churn", "c_urn", true},
		{"churn", "C%", false},
		{"churn", "ch", false},
		{"", "%", true},
		{"", "_", false},
		{"données", "donn_es", true},
		{"a%b", "a%b", true},
		{"aXXbYYb", "a%b", true},
		{"aXXbYYc", "a%b", false},
	} {
		assert.Equal(t, tc.want, likeMatch(tc.s, tc.pattern), "%q LIKE %q", tc.s, tc.pattern)
	}
	assert.True(t, compareStrings("ILIKE", "Churn", "ch%"))
	assert.False(t, compareStrings("LIKE", "Churn", "ch%"))
}

func TestSafeArtifactPath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"1/abc/artifacts/model/MLmodel", "1/abc/artifacts/model/MLmodel", true},
		{"a%2541", "aA", true},
		{"100%.txt", "100%.txt", true},
		{"a b/c", "a b/c", true},
		{"", "", true},
		{"../x", "", false},
		{"a/../b", "", false},
		{"%2e%2e/x", "", false},
		{"%252e%252e/x", "", false},
		{"/etc/passwd", "", false},
		{"%2Fetc", "", false},
		{"a#b", "", false},
		{"a%23b", "", false},
		{"C:/Windows", "", false},
		{`C:\Windows`, "", false},
		{"//host/share/x", "", false},
		{"a\x01b", "a%01b", true},
	} {
		got, err := safeArtifactPath(tc.in)
		if tc.ok {
			assert.Nil(t, err, "%q", tc.in)
			assert.Equal(t, tc.want, got, "%q", tc.in)
		} else {
			assert.Equal(t, errInvalidPath, err, "%q", tc.in)
		}
	}
}

func TestPageToken(t *testing.T) {
	assert.Equal(t, "eyJvZmZzZXQiOiAyfQ==", pageToken(2))
	n, err := parsePageToken(pageToken(1234))
	assert.Nil(t, err)
	assert.Equal(t, 1234, n)
	for _, bad := range []string{"not-a-token", "e30=", "eyJvZmZzZXQiOiAwfQ==", "bnVsbA=="} {
		_, err := parsePageToken(bad)
		require.NotNil(t, err, bad)
		assert.Equal(t, codeInvalidParameter, err.Code, bad)
	}
}

func TestPaginate(t *testing.T) {
	items := []int{1, 2, 3, 4, 5}
	page, next := paginate(items, 0, 2)
	assert.Equal(t, []int{1, 2}, page)
	assert.Equal(t, pageToken(2), next)
	page, next = paginate(items, 4, 2)
	assert.Equal(t, []int{5}, page)
	assert.Empty(t, next)
	page, next = paginate(items, 9, 2)
	assert.Empty(t, page)
	assert.Empty(t, next)
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		name      string
		notUnique bool
	}{
		{"f1", false}, {"a/b", false}, {"a.b", false},
		{"", true}, {".", true}, {"..", true}, {"../a", true}, {"a/./b", true}, {"a//b", true}, {"/a", true}, {"a/", true},
	} {
		assert.Equal(t, tc.notUnique, pathNotUnique(tc.name), "%q", tc.name)
	}
	assert.Equal(t, "//a", pyNormpath("//a"))
	assert.Equal(t, "/a", pyNormpath("///a"))
	assert.True(t, validEntityName("f1 score/val:ok-x_y.z"))
	assert.False(t, validEntityName("a*b"))
	assert.Equal(t, `"caf\u00e9"`, pyJSON("café"))
	assert.Equal(t, `"it's"`, pyRepr("it's"))
	assert.Equal(t, `'a\nb'`, pyRepr("a\nb"))
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "42": 42, " 7 ": 7, "+3": 3, "1_0": 10} {
		got, err := parseVersion(in)
		assert.Nil(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"x", "", "1.5", "_1", "1__0"} {
		_, err := parseVersion(bad)
		assert.NotNil(t, err, bad)
	}
}

func TestValidateAlias(t *testing.T) {
	for _, ok := range []string{"champion", "staging-candidate", "v1a", "café", "_"} {
		assert.Nil(t, validateAliasName(ok), ok)
		assert.Nil(t, validateAliasNotReserved(ok), ok)
	}
	for _, bad := range []string{"", "a b", "a.b", "a/b"} {
		assert.NotNil(t, validateAliasName(bad), bad)
	}
	for _, reserved := range []string{"latest", "LATEST", "v1", "V2"} {
		assert.NotNil(t, validateAliasNotReserved(reserved), reserved)
	}
}

func TestGuessMimeType(t *testing.T) {
	for name, want := range map[string]string{
		"MLmodel": "text/plain", "model.json": "text/plain", "a.csv": "text/plain", "w.bin": "application/octet-stream",
		"p.png": "image/png", "x": "application/octet-stream", "r.html": "text/html",
	} {
		assert.Equal(t, want, guessMimeType(name), name)
	}
}

func TestShlexJoin(t *testing.T) {
	assert.Equal(t, "metrics.my key", shlexJoin("metrics.`my key`"))
	assert.Equal(t, "metrics.f1", shlexJoin(`metrics."f1"`))
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), Config{DataDir: dir})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	db, err := sql.Open("sqlite", filepath.Join(dir, dbFile))
	require.NoError(t, err)
	_, err = db.Exec("PRAGMA user_version = 99")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = Open(context.Background(), Config{DataDir: dir})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "schema version 99 is newer than this playbook knows ("+strconv.Itoa(len(migrations))+")")
	assert.Contains(t, err.Error(), filepath.Join(dir, dbFile), "the error names the database")
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err := Open(context.Background(), Config{DataDir: file})
	require.Error(t, err)
	assert.Contains(t, err.Error(), file)
	_, err = Open(context.Background(), Config{})
	require.EqualError(t, err, "server: no data directory")
}

func TestReopenKeepsState(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), Config{DataDir: dir})
	require.NoError(t, err)
	_, err = s.db.w.Exec(`INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES ('m', 1, 1, '')`)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s, err = Open(context.Background(), Config{DataDir: dir})
	require.NoError(t, err)
	defer s.Close()
	var n int
	require.NoError(t, s.db.r.QueryRow(`SELECT COUNT(*) FROM registered_models`).Scan(&n))
	assert.Equal(t, 1, n)
	var mode string
	require.NoError(t, s.db.w.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	assert.Equal(t, "wal", mode)
	var sync int
	require.NoError(t, s.db.w.QueryRow(`PRAGMA synchronous`).Scan(&sync))
	assert.Equal(t, 2, sync, "synchronous=FULL")
	_, err = s.db.r.Exec(`DELETE FROM registered_models`)
	assert.Error(t, err, "the read pool is read-only")
}

// FuzzSearchGrammar: no filter or order_by, however malformed, panics the
// parsers; a refusal is always MLflow's INVALID_PARAMETER_VALUE.
func FuzzSearchGrammar(f *testing.F) {
	for _, seed := range []string{
		"metrics.f1 > 0.5 AND params.p = 'x'", "tags.`a.b` LIKE '%'", "run_id IN ('a', 'b')", "params.p IS NOT NULL",
		"(", "'", "`", "\"", "a.b.c = ", "metrics.f1 >", "IN ()", "x NOT IN (1", "name = 'x'; DROP TABLE runs",
		"version_number >= 2", "metrics.f1 DESC", "é = 'é'", "-", ".5", "a = -.5e-3",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(err *apiError) {
			if err != nil && err.Code != codeInvalidParameter {
				t.Fatalf("%q: %v", s, err)
			}
		}
		_, err := parseRunFilter(s)
		check(err)
		_, err = parseRegistryFilter(s, versionSearchAttrs, versionListKeys, versionNumericAttrs)
		check(err)
		_, err = parseExperimentFilter(s)
		check(err)
		_, _, err = parseOrderBy(s)
		check(err)
		_, err = parsePageToken(s)
		check(err)
	})
}

// FuzzSafeArtifactPath: a path the check accepts never leaves the
// artifact root.
func FuzzSafeArtifactPath(f *testing.F) {
	for _, seed := range []string{"a/b", "../a", "%2e%2e/a", "a/%252e%252e", "/a", "a#b", "C:/a", `\\host\share`, "a%00b"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := safeArtifactPath(p)
		if err != nil {
			return
		}
		if !filepath.IsLocal(localName(got)) {
			t.Fatalf("%q accepted as %q, which is not local", p, got)
		}
	})
}

// A database of the first schema (before logged models) is brought up to
// date, its data kept.
func TestMigrateFromFirstSchema(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, dbFile))
	require.NoError(t, err)
	_, err = db.Exec(migrations[0] + `; INSERT INTO experiments VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active', 1, 1); PRAGMA user_version = 1`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	s, err := Open(context.Background(), Config{DataDir: dir})
	require.NoError(t, err)
	defer s.Close()
	m, err := s.db.CreateLoggedModel(context.Background(), newLoggedModel{experimentID: "0", name: "after-upgrade"})
	require.NoError(t, err)
	assert.Equal(t, "mlflow-artifacts:/0/models/"+m.id+"/artifacts", m.artifactLocation)
	assert.Regexp(t, `^m-[0-9a-f]{32}$`, m.id)
}

func TestValidRunID(t *testing.T) {
	re := regexp.MustCompile(`^[a-zA-Z0-9][\w\-]{0,255}$`)
	cases := []string{"", "a", "0", "_a", "-a", "a_b-c", "abc def", "é", "a\x00", "A9_-", strings.Repeat("a", 256), strings.Repeat("a", 257), "a/b", "a.b", "ab\n"}
	for _, id := range cases {
		if got, want := validRunID(id), re.MatchString(id); got != want {
			t.Errorf("validRunID(%q) = %v, MLflow's pattern says %v", id, got, want)
		}
	}
}
