package conformance_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

// searchFixture is an experiment of five runs with known start times,
// metrics, params and tags:
//
//	name  start  f1    params.model  tags.team  status
//	r1    100    0.9   lr            a          RUNNING
//	r2    200    0.7   rf            b          RUNNING
//	r3    300    NaN   lr            -          RUNNING
//	r4    400    -     LR            A          RUNNING
//	r5    200    0.7   -             -          FINISHED (end 500)
type searchFixture struct {
	exp string
	ids map[string]string // run name → id
}

func newSearchFixture(t *testing.T, s *target) *searchFixture {
	t.Helper()
	exp := s.ok(t, http.MethodPost, "experiments/create", map[string]any{"name": unique("search-runs")})["experiment_id"].(string)
	f := &searchFixture{exp: exp, ids: map[string]string{}}
	type spec struct {
		name   string
		start  int
		f1     any
		model  string
		team   string
		finish bool
	}
	for _, sp := range []spec{
		{"r1", 100, 0.9, "lr", "a", false},
		{"r2", 200, 0.7, "rf", "b", false},
		{"r3", 300, "NaN", "lr", "", false},
		{"r4", 400, nil, "LR", "A", false},
		{"r5", 200, 0.7, "", "", true},
	} {
		created := s.ok(t, http.MethodPost, "runs/create", map[string]any{"experiment_id": exp, "run_name": sp.name, "start_time": sp.start})
		id := obj(created, "run", "info")["run_id"].(string)
		f.ids[sp.name] = id
		batch := map[string]any{"run_id": id}
		if sp.f1 != nil {
			batch["metrics"] = []any{map[string]any{"key": "f1", "value": sp.f1, "timestamp": 1, "step": 0}}
		}
		if sp.model != "" {
			batch["params"] = []any{map[string]any{"key": "model", "value": sp.model}}
		}
		if sp.team != "" {
			batch["tags"] = []any{map[string]any{"key": "team", "value": sp.team}}
		}
		s.ok(t, http.MethodPost, "runs/log-batch", batch)
		if sp.finish {
			s.ok(t, http.MethodPost, "runs/update", map[string]any{"run_id": id, "status": "FINISHED", "end_time": 500})
		}
	}
	return f
}

// names maps run ids of a search reply back to fixture names.
func (f *searchFixture) names(runs []map[string]any) []string {
	byID := map[string]string{}
	for n, id := range f.ids {
		byID[id] = n
	}
	var out []string
	for _, r := range runs {
		out = append(out, byID[obj(r, "info")["run_id"].(string)])
	}
	return out
}

// tie orders two runs of the same sort value as MLflow does: by run id.
func (f *searchFixture) tie(a, b string) []string {
	if f.ids[a] < f.ids[b] {
		return []string{a, b}
	}
	return []string{b, a}
}

func (f *searchFixture) search(t *testing.T, s *target, in map[string]any) reply {
	t.Helper()
	in["experiment_ids"] = []string{f.exp}
	return s.api(t, http.MethodPost, "runs/search", in)
}

func TestSearchRuns(t *testing.T) {
	t.Parallel()
	for _, name := range targetNames {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := startTarget(t, name)
			f := newSearchFixture(t, s)
			r25 := f.tie("r2", "r5")

			t.Run("Filter", func(t *testing.T) {
				for _, tc := range []struct {
					filter string
					want   []string
				}{
					{"", append(append([]string{"r4", "r3"}, r25...), "r1")},
					{"metrics.f1 > 0.5", append(slices.Clone(r25), "r1")},
					{"metrics.f1 != 0.7", []string{"r3", "r1"}},
					{"metrics.f1 >= 0.9", []string{"r1"}},
					{"params.model = 'lr'", []string{"r3", "r1"}},
					{`params.model = "lr"`, []string{"r3", "r1"}},
					{"params.model != 'lr'", []string{"r4", "r2"}},
					{"params.model LIKE 'l%'", []string{"r3", "r1"}},
					{"params.model ILIKE 'l%'", []string{"r4", "r3", "r1"}},
					{"param.model like '_r'", []string{"r3", "r1"}},
					{"params.model IS NULL", []string{"r5"}},
					{"params.model IS NOT NULL", []string{"r4", "r3", "r2", "r1"}},
					{`tags.team = "a"`, []string{"r1"}},
					{"tags.team IS NULL", []string{"r3", "r5"}},
					{"tags.`mlflow.runName` = 'r2'", []string{"r2"}},
					{"tags.'mlflow.runName' = 'r3'", []string{"r3"}},
					{"attributes.status = 'FINISHED'", []string{"r5"}},
					{"status != 'FINISHED'", []string{"r4", "r3", "r2", "r1"}},
					{"attributes.end_time > 0", []string{"r5"}},
					{"attributes.start_time >= 200 AND metrics.f1 < 0.8", r25},
					{"created > 250", []string{"r4", "r3"}},
					{"run_name = 'r1'", []string{"r1"}},
					{"attributes.run_name LIKE 'r_'", append(append([]string{"r4", "r3"}, r25...), "r1")},
					{"metrics.`f1` > 0.8 and params.\"model\" = 'lr'", []string{"r1"}},
					{fmt.Sprintf("attributes.run_id IN ('%s', '%s')", f.ids["r1"], f.ids["r4"]), []string{"r4", "r1"}},
					{fmt.Sprintf("run_id NOT IN ('%s')", f.ids["r1"]), append([]string{"r4", "r3"}, r25...)},
					{"metrics.f1 < -1", nil},
				} {
					t.Run(tc.filter, func(t *testing.T) {
						r := f.search(t, s, map[string]any{"filter": tc.filter})
						require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
						assert.Equal(t, tc.want, f.names(list(r.JSON(t), "runs")))
					})
				}
			})

			t.Run("OrderBy", func(t *testing.T) {
				for _, tc := range []struct {
					orderBy []string
					want    []string
				}{
					{[]string{"metrics.f1 DESC"}, append(append([]string{"r1"}, r25...), "r3", "r4")},
					{[]string{"metrics.f1 ASC"}, append(slices.Clone(r25), "r1", "r3", "r4")},
					{[]string{"metrics.f1"}, append(slices.Clone(r25), "r1", "r3", "r4")},
					{[]string{"params.model ASC"}, []string{"r4", "r3", "r1", "r2", "r5"}},
					{[]string{"params.model DESC"}, []string{"r2", "r3", "r1", "r4", "r5"}},
					{[]string{"tags.team DESC"}, []string{"r2", "r1", "r4", "r3", "r5"}},
					{[]string{"start_time ASC"}, append(append([]string{"r1"}, r25...), "r3", "r4")},
					{[]string{"attributes.run_name DESC"}, []string{"r5", "r4", "r3", "r2", "r1"}},
					{[]string{"attribute.end_time DESC"}, []string{"r5", "r4", "r3", "r2", "r1"}},
					{[]string{"metrics.f1 DESC", "params.model ASC"}, append(append([]string{"r1"}, "r2", "r5"), "r3", "r4")},
				} {
					t.Run(fmt.Sprint(tc.orderBy), func(t *testing.T) {
						r := f.search(t, s, map[string]any{"order_by": tc.orderBy})
						require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
						assert.Equal(t, tc.want, f.names(list(r.JSON(t), "runs")))
					})
				}
			})

			t.Run("Pages", func(t *testing.T) {
				in := map[string]any{"max_results": 2, "order_by": []string{"metrics.f1 DESC"}}
				var got []string
				var tokens []string
				for range 5 {
					r := f.search(t, s, in)
					require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
					page := r.JSON(t)
					got = append(got, f.names(list(page, "runs"))...)
					tok, _ := page["next_page_token"].(string)
					if tok == "" {
						break
					}
					tokens = append(tokens, tok)
					in["page_token"] = tok
				}
				assert.Equal(t, append(append([]string{"r1"}, r25...), "r3", "r4"), got)
				assert.Equal(t, []string{"eyJvZmZzZXQiOiAyfQ==", "eyJvZmZzZXQiOiA0fQ=="}, tokens, `base64 of {"offset": N}`)

				runs, err := s.c.SearchAllRuns(t.Context(), mlflow.SearchRunsRequest{ExperimentIDs: []string{f.exp}, MaxResults: 3, Filter: "params.model = 'lr'"})
				require.NoError(t, err)
				assert.Len(t, runs, 2)
			})

			t.Run("RunViewType", func(t *testing.T) {
				created := s.ok(t, http.MethodPost, "runs/create", map[string]any{"experiment_id": f.exp, "run_name": "gone", "start_time": 50})
				id := obj(created, "run", "info")["run_id"].(string)
				s.ok(t, http.MethodPost, "runs/delete", map[string]any{"run_id": id})
				byView := map[string]int{}
				for _, view := range []string{"ACTIVE_ONLY", "DELETED_ONLY", "ALL"} {
					r := f.search(t, s, map[string]any{"run_view_type": view})
					require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
					byView[view] = len(list(r.JSON(t), "runs"))
				}
				assert.Equal(t, map[string]int{"ACTIVE_ONLY": 5, "DELETED_ONLY": 1, "ALL": 6}, byView)
			})

			t.Run("Errors", func(t *testing.T) {
				for _, tc := range []struct {
					name   string
					in     map[string]any
					status int
					code   string
					msg    string
				}{
					{"OR", map[string]any{"filter": "metrics.f1 > 0.5 OR metrics.f1 < 0.2"}, 400, "INVALID_PARAMETER_VALUE", "Invalid clause(s) in filter string: 'OR'"},
					{"Parentheses", map[string]any{"filter": "(metrics.f1 > 0)"}, 400, "INVALID_PARAMETER_VALUE", "Invalid clause(s) in filter string: '(metrics.f1 > 0)'"},
					{"NoComparison", map[string]any{"filter": "metrics.f1"}, 400, "INVALID_PARAMETER_VALUE", "Invalid clause(s) in filter string: 'metrics.f1'"},
					{"BadComparator", map[string]any{"filter": "metrics.f1 >>> 0.5"}, 400, "INVALID_PARAMETER_VALUE", "Invalid comparator '>>>' not one of '…"},
					{"LikeOnMetric", map[string]any{"filter": "metrics.f1 LIKE 0.5"}, 400, "INVALID_PARAMETER_VALUE", "Invalid comparator 'LIKE' not one of '…"},
					{"MetricNotNumber", map[string]any{"filter": "metrics.f1 > 'a'"}, 400, "INVALID_PARAMETER_VALUE", "Expected numeric value type for metric. Found 'a'"},
					{"ParamNotQuoted", map[string]any{"filter": "params.model = lr"}, 400, "INVALID_PARAMETER_VALUE",
						"Parameter value is either not quoted or unidentified quote types used for string value lr. Use either single or double quotes."},
					{"ParamNumber", map[string]any{"filter": "params.model = 1"}, 400, "INVALID_PARAMETER_VALUE",
						"Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1"},
					{"BadEntity", map[string]any{"filter": "foo.bar = 'x'"}, 400, "INVALID_PARAMETER_VALUE",
						"Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']"},
					{"BadAttribute", map[string]any{"filter": "attributes.bogus = 'x'"}, 400, "INVALID_PARAMETER_VALUE", "Invalid attribute key 'bogus' specified. Valid keys are '…"},
					{"MetricIsNull", map[string]any{"filter": "metrics.f1 IS NULL"}, 400, "INVALID_PARAMETER_VALUE",
						"IS NULL / IS NOT NULL is only supported for tags and params, not for 'metric' 'f1'"},
					{"OrderByThreeWords", map[string]any{"order_by": []string{"metrics.f1 DESC now"}}, 400, "INVALID_PARAMETER_VALUE",
						"Invalid order_by clause 'metrics.f1 DESC now'. Could not be parsed."},
					{"OrderByDirection", map[string]any{"order_by": []string{"metrics.f1 sideways"}}, 400, "INVALID_PARAMETER_VALUE",
						"Invalid ordering key in order_by clause 'metrics.f1 sideways'."},
					{"OrderByDuplicate", map[string]any{"order_by": []string{"metrics.f1 DESC", "metrics.f1 ASC"}}, 500, "INTERNAL_ERROR",
						"`order_by` contains duplicate fields: ['metrics.f1 DESC', 'metrics.f1 ASC']"},
					{"PageToken", map[string]any{"page_token": "not-a-token"}, 400, "INVALID_PARAMETER_VALUE", "Invalid page token…"},
					{"MaxResultsZero", map[string]any{"max_results": 0}, 400, "INVALID_PARAMETER_VALUE",
						"Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer"},
					{"MaxResultsTooMany", map[string]any{"max_results": 50001}, 400, "INVALID_PARAMETER_VALUE", "Invalid value 50001 for parameter 'max_results' supplied…"},
				} {
					t.Run(tc.name, func(t *testing.T) {
						wantError(t, f.search(t, s, tc.in), tc.status, tc.code, tc.msg)
					})
				}
				r := s.api(t, http.MethodPost, "runs/search", map[string]any{"experiment_ids": []string{"abc"}})
				wantError(t, r, 400, "INVALID_PARAMETER_VALUE", "Invalid experiment ID 'abc'. Experiment ID must be a valid integer.")
				_, err := s.c.SearchRuns(t.Context(), mlflow.SearchRunsRequest{ExperimentIDs: []string{f.exp}, Filter: "metrics.f1 >>> 0.5 OR"})
				require.ErrorIs(t, err, mlflow.ErrInvalidParameter)
			})
		})
	}
}
