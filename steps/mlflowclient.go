package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
)

// RegistryClient is a cell's recorded access to the tracking server, its
// methods named like those of MLflow's Python MlflowClient
// (search_runs → SearchRuns, set_registered_model_alias →
// SetRegisteredModelAlias...), so that a scenario can write the exercise
// call for call. Get one with MlflowClient(pb).
//
// It keeps the audit trail of the steps: every call that changes the
// registry is recorded in the evidence under the current step (time,
// endpoint, arguments, outcome, duration); under --dry-run it is recorded
// as planned and not sent, and the reads after it see the registry as the
// planned changes would leave it; the first change to a registered model
// keeps its "before" snapshot, and the run's end its "after" snapshot
// (unless steps.Verify kept one). Reads are not recorded, as the steps'
// are not. Each call runs under the current cell's context, so the cell's
// timeout cancels it. Errors name the call and the model, and unwrap to
// the client's (errors.Is(err, mlflow.ErrNotFound)).
type RegistryClient struct {
	pb *Playbook
}

// MlflowClient returns the run's recorded registry client, what
// mlflow.MlflowClient() is in Python:
//
//	client := steps.MlflowClient(pb)
//	runs, err := client.SearchRuns([]string{exp.ExperimentID}, "metrics.f1 > 0", []string{"metrics.f1 DESC"}, 1)
func MlflowClient(pb *Playbook) *RegistryClient {
	if pb == nil {
		failf("MlflowClient: no playbook: pass pb")
	}
	return &RegistryClient{pb: pb}
}

// open returns the current cell's registry access.
func (c *RegistryClient) open() (*registry, error) {
	cl, err := c.pb.Client()
	if err != nil {
		return nil, err
	}
	return &registry{pb: c.pb, c: cl, ctx: c.pb.Context(), s: sessionOf(c.pb)}, nil
}

// callError names the call in an error.
func callError(call string, err error) error {
	return fmt.Errorf("MlflowClient.%s: %w", call, err)
}

// read runs a call that changes nothing.
func (c *RegistryClient) read(call string, f func(r *registry) error) error {
	r, err := c.open()
	if err == nil {
		err = f(r)
	}
	if err != nil {
		return callError(call, err)
	}
	return nil
}

// change runs a call that changes model: its "before" snapshot first, the
// call recorded, and the model's "after" snapshot due at the run's end.
func (c *RegistryClient) change(call, model string, f func(r *registry) error) error {
	r, err := c.open()
	if err == nil {
		_, err = r.keepBefore(model)
	}
	if err == nil {
		c.afterAtClose(r, model)
		err = f(r)
	}
	if err != nil {
		return callError(call, err)
	}
	return nil
}

// afterAtClose has the run's end keep model's "after" snapshot, once per
// model, unless the evidence already has one (steps.Verify's).
func (c *RegistryClient) afterAtClose(r *registry, model string) {
	first := false
	r.lock(func() {
		if r.s.touched == nil {
			r.s.touched = map[string]bool{}
		}
		first = !r.s.touched[model]
		r.s.touched[model] = true
	})
	if !first {
		return
	}
	pb := c.pb
	notebook.OnClose(pb, func() {
		kept := false
		notebook.View(pb, func(rec *record.Run) {
			kept = slices.ContainsFunc(rec.Evidence.Snapshots, func(s record.Snapshot) bool {
				return s.Model == model && s.Label == "after"
			})
		})
		if kept {
			return
		}
		// The last cell's context may be over: the snapshot has its own.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(pb.Context()), 30*time.Second)
		defer cancel()
		end := &registry{pb: pb, c: r.c, ctx: ctx, s: r.s}
		// A model that cannot be read then has no "after" snapshot: the
		// calls recorded say what was changed.
		if s, err := end.snapshot(model, "after"); err == nil {
			notebook.KeepSnapshot(pb, s)
		}
	})
}

// GetExperimentByName returns the experiment named name (get_experiment_by_name).
func (c *RegistryClient) GetExperimentByName(name string) (*mlflow.Experiment, error) {
	var e *mlflow.Experiment
	err := c.read(fmt.Sprintf("GetExperimentByName(%q)", name), func(r *registry) (err error) {
		e, err = r.c.GetExperimentByName(r.ctx, name)
		return err
	})
	return e, err
}

// SearchRuns returns the first maxResults runs (0: the server's default)
// of the experiments matching filter, ordered by orderBy, such as
// "metrics.f1 DESC" (search_runs).
func (c *RegistryClient) SearchRuns(experimentIDs []string, filter string, orderBy []string, maxResults int) ([]mlflow.Run, error) {
	var runs []mlflow.Run
	err := c.read(fmt.Sprintf("SearchRuns(%q, %q)", experimentIDs, filter), func(r *registry) error {
		page, err := r.c.SearchRuns(r.ctx, mlflow.SearchRunsRequest{ExperimentIDs: experimentIDs, Filter: filter, OrderBy: orderBy, MaxResults: maxResults})
		if err == nil {
			runs = page.Runs
		}
		return err
	})
	return runs, err
}

// GetRun returns a run (get_run).
func (c *RegistryClient) GetRun(runID string) (*mlflow.Run, error) {
	var run *mlflow.Run
	err := c.read(fmt.Sprintf("GetRun(%q)", runID), func(r *registry) (err error) {
		run, err = r.c.GetRun(r.ctx, runID)
		return err
	})
	return run, err
}

// SearchRegisteredModels returns the first maxResults registered models
// (0: the server's default) matching filter (search_registered_models).
func (c *RegistryClient) SearchRegisteredModels(filter string, orderBy []string, maxResults int) ([]mlflow.RegisteredModel, error) {
	var models []mlflow.RegisteredModel
	err := c.read(fmt.Sprintf("SearchRegisteredModels(%q)", filter), func(r *registry) error {
		page, err := r.c.SearchRegisteredModels(r.ctx, filter, maxResults, orderBy, "")
		if err == nil {
			models = page.RegisteredModels
		}
		return err
	})
	return models, err
}

// GetRegisteredModel returns a registered model (get_registered_model),
// its aliases as a dry run's plan would leave them.
func (c *RegistryClient) GetRegisteredModel(name string) (*mlflow.RegisteredModel, error) {
	var m *mlflow.RegisteredModel
	err := c.read(fmt.Sprintf("GetRegisteredModel(%q)", name), func(r *registry) error {
		var planned *plan
		r.lock(func() { planned = r.s.plans[name] })
		var err error
		m, err = r.c.GetRegisteredModel(r.ctx, name)
		if errors.Is(err, mlflow.ErrNotFound) && planned != nil && planned.modelCreated {
			m, err = &mlflow.RegisteredModel{Name: name}, nil
		}
		if err != nil || planned == nil {
			return err
		}
		r.lock(func() {
			for alias, v := range planned.aliases {
				m.Aliases = slices.DeleteFunc(m.Aliases, func(a mlflow.Alias) bool { return a.Alias == alias })
				if v != "" {
					m.Aliases = append(m.Aliases, mlflow.Alias{Alias: alias, Version: v})
				}
			}
		})
		return nil
	})
	return m, err
}

// CreateRegisteredModel creates a registered model (create_registered_model).
// An existing name is an error matching mlflow.ErrAlreadyExists.
func (c *RegistryClient) CreateRegisteredModel(name, description string) (*mlflow.RegisteredModel, error) {
	var m *mlflow.RegisteredModel
	err := c.change(fmt.Sprintf("CreateRegisteredModel(%q)", name), name, func(r *registry) error {
		args := map[string]any{"name": name}
		if description != "" {
			args["description"] = description
		}
		if r.pb.DryRun() {
			exists := false
			if _, err := r.c.GetRegisteredModel(r.ctx, name); err == nil {
				exists = true
			}
			r.lock(func() {
				if pl := r.s.plans[name]; pl != nil && pl.modelCreated {
					exists = true
				}
			})
			if exists {
				return fmt.Errorf("registered model %q: %w", name, mlflow.ErrAlreadyExists)
			}
		}
		err := r.change("POST", "registered-models/create", args, func(ctx context.Context) (err error) {
			m, err = r.c.CreateRegisteredModel(ctx, name, nil, description)
			return err
		})
		if err == nil && r.pb.DryRun() {
			r.lock(func() { r.s.plan(name).modelCreated = true })
			m = &mlflow.RegisteredModel{Name: name, Description: description}
		}
		return err
	})
	return m, err
}

// CreateModelVersion registers a new version of model name whose files
// are at source, from the run runID (create_model_version). A dry run
// returns the version it would have created, numbered DryRunVersion.
func (c *RegistryClient) CreateModelVersion(name, source, runID string) (*mlflow.ModelVersion, error) {
	var mv *mlflow.ModelVersion
	err := c.change(fmt.Sprintf("CreateModelVersion(%q, %q)", name, source), name, func(r *registry) (err error) {
		mv, err = r.createVersion(mlflow.CreateModelVersionRequest{Name: name, Source: source, RunID: runID}, source)
		return err
	})
	return mv, err
}

// SearchModelVersions returns the first maxResults model versions (0: the
// server's default) matching filter, such as "name='ChurnPredictor'"
// (search_model_versions).
func (c *RegistryClient) SearchModelVersions(filter string, orderBy []string, maxResults int) ([]mlflow.ModelVersion, error) {
	var versions []mlflow.ModelVersion
	err := c.read(fmt.Sprintf("SearchModelVersions(%q)", filter), func(r *registry) error {
		page, err := r.c.SearchModelVersions(r.ctx, filter, maxResults, orderBy, "")
		if err == nil {
			versions = page.ModelVersions
		}
		return err
	})
	return versions, err
}

// GetModelVersion returns a version of model name (get_model_version),
// its tags as a dry run's plan would leave them.
func (c *RegistryClient) GetModelVersion(name, version string) (*mlflow.ModelVersion, error) {
	var mv *mlflow.ModelVersion
	err := c.read(fmt.Sprintf("GetModelVersion(%q, %s)", name, version), func(r *registry) (err error) {
		mv, err = c.version(r, name, version)
		return err
	})
	return mv, err
}

// version reads a version, a dry run's plan applied.
func (c *RegistryClient) version(r *registry, name, version string) (*mlflow.ModelVersion, error) {
	mv := &mlflow.ModelVersion{Name: name, Version: version, Status: mlflow.ModelVersionReady}
	if src, planned := r.plannedSource(name, version); planned {
		mv.Source = src
	} else {
		got, err := r.c.GetModelVersion(r.ctx, name, version)
		if err != nil {
			return nil, fmt.Errorf("model %q version %s: %w", name, version, err)
		}
		mv = got
	}
	tags, err := r.versionTags(name, version)
	if err != nil {
		return nil, err
	}
	mv.Tags = nil
	for _, k := range sortedKeys(tags) {
		mv.Tags = append(mv.Tags, mlflow.Tag{Key: k, Value: tags[k]})
	}
	return mv, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// GetModelVersionByAlias returns the version alias points to
// (get_model_version_by_alias), as a dry run's plan would leave it. A
// missing alias is an error matching mlflow.ErrNotFound.
func (c *RegistryClient) GetModelVersionByAlias(name, alias string) (*mlflow.ModelVersion, error) {
	var mv *mlflow.ModelVersion
	err := c.read(fmt.Sprintf("GetModelVersionByAlias(%q, %q)", name, alias), func(r *registry) error {
		v, ok, err := r.aliasVersion(name, alias)
		switch {
		case err != nil:
			return err
		case !ok || v == "":
			return fmt.Errorf("model %q has no alias %s: %w", name, alias, mlflow.ErrNotFound)
		}
		mv, err = c.version(r, name, v)
		return err
	})
	return mv, err
}

// SetRegisteredModelAlias points alias of model name at version
// (set_registered_model_alias); an alias already set moves.
func (c *RegistryClient) SetRegisteredModelAlias(name, alias, version string) error {
	return c.change(fmt.Sprintf("SetRegisteredModelAlias(%q, %q, %s)", name, alias, version), name, func(r *registry) error {
		return r.setAlias(name, alias, version)
	})
}

// DeleteRegisteredModelAlias deletes alias of model name
// (delete_registered_model_alias).
func (c *RegistryClient) DeleteRegisteredModelAlias(name, alias string) error {
	return c.change(fmt.Sprintf("DeleteRegisteredModelAlias(%q, %q)", name, alias), name, func(r *registry) error {
		args := map[string]any{"name": name, "alias": alias}
		err := r.change("DELETE", "registered-models/alias", args, func(ctx context.Context) error {
			return r.c.DeleteRegisteredModelAlias(ctx, name, alias)
		})
		if err == nil && r.pb.DryRun() {
			r.lock(func() { r.s.plan(name).aliases[alias] = "" })
		}
		return err
	})
}

// SetModelVersionTag sets a tag of a version of model name
// (set_model_version_tag).
func (c *RegistryClient) SetModelVersionTag(name, version, key, value string) error {
	return c.change(fmt.Sprintf("SetModelVersionTag(%q, %s, %q)", name, version, key), name, func(r *registry) error {
		return r.setTag(name, version, key, value)
	})
}

// DeleteModelVersionTag deletes a tag of a version of model name
// (delete_model_version_tag).
func (c *RegistryClient) DeleteModelVersionTag(name, version, key string) error {
	return c.change(fmt.Sprintf("DeleteModelVersionTag(%q, %s, %q)", name, version, key), name, func(r *registry) error {
		return r.deleteTag(name, version, key)
	})
}

// SetRegisteredModelTag sets a tag of model name (set_registered_model_tag).
// A dry run records it and does not send it; the model's tags are not in
// the snapshots, which hold its aliases and its versions' tags.
func (c *RegistryClient) SetRegisteredModelTag(name, key, value string) error {
	return c.change(fmt.Sprintf("SetRegisteredModelTag(%q, %q)", name, key), name, func(r *registry) error {
		args := map[string]any{"name": name, "key": key, "value": value}
		return r.change("POST", "registered-models/set-tag", args, func(ctx context.Context) error {
			return r.c.SetRegisteredModelTag(ctx, name, key, value)
		})
	})
}
