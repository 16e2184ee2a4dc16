package server

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
)

// The reads of the registry page (ui.go): registered models with their
// versions, and the runs those versions come from, each page read in one
// transaction so that it shows one state of the registry.

// uiLimits bound what one page reads.
type uiLimits struct {
	models   int // registered models listed (by name)
	versions int // versions of each model, newest first (those an alias names come too)
	runs     int // runs of those versions; 0 reads none
}

// registryView is the state of the registry a page shows.
type registryView struct {
	models      []*modelEntry
	totalModels int         // registered models that are not prompts
	runs        []*runEntry // the runs of the versions shown, in the order they come
	runsCut     int         // runs left out by the limit
}

// modelEntry is a registered model and the versions a page shows.
type modelEntry struct {
	model    *registeredModel
	versions []*modelVersion // newest first
	total    int             // the model's versions (deleted ones left out)
}

// runEntry is a run and what the registry knows of it.
type runEntry struct {
	run          *run
	experiment   *experiment     // nil when it cannot be read
	loggedModels []*loggedModel  // those whose source run it is
	versions     []*modelVersion // the model versions registered from it
}

// readRegistryView reads the registered models named (nil: the first
// lim.models by name, prompts left out), their newest lim.versions
// versions and those their aliases name, and the first lim.runs runs of
// those versions. A name that is not a registered model is left out.
func (st *store) readRegistryView(ctx context.Context, names []string, lim uiLimits) (*registryView, error) {
	view := &registryView{}
	err := st.read(ctx, func(tx *sql.Tx) error {
		if names == nil {
			var err error
			if names, view.totalModels, err = listModelNames(ctx, tx, lim.models); err != nil {
				return err
			}
		}
		if len(names) == 0 {
			return nil
		}
		in := `(` + placeholders(len(names)) + `)`
		args := anySlice(names)
		models, err := loadModels(ctx, tx, `name IN `+in, args...)
		if err != nil {
			return err
		}
		byName := map[string]*modelEntry{}
		for _, m := range models {
			byName[m.name] = &modelEntry{model: m}
		}
		for _, name := range names {
			if e := byName[name]; e != nil {
				view.models = append(view.models, e)
			}
		}
		if err := fillVersions(ctx, tx, in, args, lim.versions, byName); err != nil {
			return err
		}
		if lim.runs <= 0 {
			return nil
		}
		var ids []string
		seen := map[string]bool{}
		for _, e := range view.models {
			for _, v := range e.versions {
				if v.runID != "" && !seen[v.runID] {
					seen[v.runID] = true
					ids = append(ids, v.runID)
				}
			}
		}
		if len(ids) > lim.runs {
			view.runsCut = len(ids) - lim.runs
			ids = ids[:lim.runs]
		}
		view.runs, err = loadRunEntries(ctx, tx, ids)
		return err
	})
	return view, err
}

// listModelNames returns the names of the first limit registered models
// by name, prompts left out, and how many there are.
func listModelNames(ctx context.Context, tx *sql.Tx, limit int) ([]string, int, error) {
	const notPrompt = `name NOT IN (SELECT name FROM registered_model_tags WHERE key = ? AND value = 'true')`
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM registered_models WHERE `+notPrompt, promptTag).Scan(&total); err != nil {
		return nil, 0, err
	}
	names := []string{}
	err := scanRows(ctx, tx, `SELECT name FROM registered_models WHERE `+notPrompt+` ORDER BY name LIMIT ?`, []any{promptTag, limit}, func(rows *sql.Rows) error {
		var n string
		if err := rows.Scan(&n); err != nil {
			return err
		}
		names = append(names, n)
		return nil
	})
	return names, total, err
}

// fillVersions reads, for the models in byName (whose names are the
// arguments of the list in), their newest perModel versions and those an
// alias names, newest first, and how many versions each has.
func fillVersions(ctx context.Context, tx *sql.Tx, in string, args []any, perModel int, byName map[string]*modelEntry) error {
	where := `(name, version) IN (SELECT name, version FROM (
			SELECT name, version, ROW_NUMBER() OVER (PARTITION BY name ORDER BY version DESC) AS n
			FROM model_versions WHERE name IN ` + in + ` AND ` + live + `) WHERE n <= ?)
		OR (name, version) IN (SELECT name, version FROM registered_model_aliases WHERE name IN ` + in + `)`
	vargs := append(append(slices.Clone(args), perModel), args...)
	versions, err := loadVersions(ctx, tx, where, vargs...)
	if err != nil {
		return err
	}
	for _, v := range versions {
		if e := byName[v.name]; e != nil {
			e.versions = append(e.versions, v)
		}
	}
	for _, e := range byName {
		slices.SortFunc(e.versions, func(a, b *modelVersion) int { return cmp.Compare(b.version, a.version) })
	}
	return scanRows(ctx, tx, `SELECT name, COUNT(*) FROM model_versions WHERE name IN `+in+` AND `+live+` GROUP BY name`, args, func(rows *sql.Rows) error {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		if e := byName[name]; e != nil {
			e.total = n
		}
		return nil
	})
}

// readRunEntry reads a run, its experiment, the logged models whose
// source run it is and the versions registered from it.
func (st *store) readRunEntry(ctx context.Context, id string) (*runEntry, error) {
	var entry *runEntry
	err := st.read(ctx, func(tx *sql.Tx) error {
		entries, err := loadRunEntries(ctx, tx, []string{id})
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return errNotFound("Run with id=%s not found", id)
		}
		entry = entries[0]
		return nil
	})
	return entry, err
}

// loadRunEntries reads the runs ids names, in that order (a missing one
// left out), with their experiments, the logged models whose source run
// they are and the model versions registered from them.
func loadRunEntries(ctx context.Context, q queryer, ids []string) ([]*runEntry, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in := `(` + placeholders(len(ids)) + `)`
	args := anySlice(ids)
	runs, err := loadRuns(ctx, q, `run_uuid IN `+in, args...)
	if err != nil {
		return nil, err
	}
	byID := map[string]*runEntry{}
	var expIDs []any
	seenExp := map[int64]bool{}
	for _, r := range runs {
		byID[r.id] = &runEntry{run: r}
		if !seenExp[r.experimentID] {
			seenExp[r.experimentID] = true
			expIDs = append(expIDs, r.experimentID)
		}
	}
	exps, err := loadExperiments(ctx, q, `experiment_id IN (`+placeholders(len(expIDs))+`)`, expIDs...)
	if err != nil {
		return nil, err
	}
	expByID := map[int64]*experiment{}
	for _, e := range exps {
		expByID[e.id] = e
	}
	var modelIDs []string
	err = scanRows(ctx, q, `SELECT model_id FROM logged_models WHERE source_run_id IN `+in+` AND lifecycle_stage = ?
		ORDER BY creation_timestamp_ms, model_id`, append(slices.Clone(args), stageActive), func(rows *sql.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		modelIDs = append(modelIDs, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	logged, err := loadLoggedModels(ctx, q, modelIDs)
	if err != nil {
		return nil, err
	}
	for _, m := range logged {
		if e := byID[m.sourceRunID]; e != nil {
			e.loggedModels = append(e.loggedModels, m)
		}
	}
	versions, err := loadVersions(ctx, q, `run_id IN `+in, args...)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(versions, func(a, b *modelVersion) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(b.version, a.version))
	})
	for _, v := range versions {
		if e := byID[v.runID]; e != nil {
			e.versions = append(e.versions, v)
		}
	}
	out := make([]*runEntry, 0, len(runs))
	for _, id := range ids {
		if e := byID[id]; e != nil {
			e.experiment = expByID[e.run.experimentID]
			out = append(out, e)
		}
	}
	return out, nil
}
