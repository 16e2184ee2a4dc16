// Package regsnap reads the state of a registered model into a
// record.Snapshot: where its aliases point and each version's tags. The
// promotion steps (package steps) and the registry proxy of the cell kernel
// (internal/regproxy) both take their "before" and "after" snapshots with it.
package regsnap

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
)

// Take reads model's aliases and the tags of each of its versions through
// c, labelled label and timed now. A model that does not exist gives an
// empty snapshot and no error. The snapshot is Normalized.
func Take(ctx context.Context, c *mlflow.Client, model, label string) (record.Snapshot, error) {
	s := record.Snapshot{Label: label, Time: time.Now(), Model: model, Aliases: map[string]string{}, Versions: []record.VersionSnapshot{}}
	rm, err := c.GetRegisteredModel(ctx, model)
	switch {
	case errors.Is(err, mlflow.ErrNotFound):
	case err != nil:
		return s, fmt.Errorf("reading model %q: %w", model, err)
	default:
		for _, a := range rm.Aliases {
			s.Aliases[a.Alias] = a.Version
		}
		filter, err := ModelFilter(model)
		if err != nil {
			return s, err
		}
		mvs, err := c.SearchAllModelVersions(ctx, filter)
		if err != nil {
			return s, fmt.Errorf("listing the versions of model %q: %w", model, err)
		}
		for _, mv := range mvs {
			if mv.Name != model {
				continue
			}
			vs := record.VersionSnapshot{Version: mv.Version, Tags: map[string]string{}, Aliases: []string{}}
			for _, t := range mv.Tags {
				vs.Tags[t.Key] = t.Value
			}
			s.Versions = append(s.Versions, vs)
		}
	}
	Normalize(&s)
	return s, nil
}

// Normalize sorts s.Versions by VersionLess and sets each version's
// Aliases, sorted, from s.Aliases: call it again after changing a
// snapshot's versions or aliases.
func Normalize(s *record.Snapshot) {
	sort.Slice(s.Versions, func(i, j int) bool { return VersionLess(s.Versions[i].Version, s.Versions[j].Version) })
	for i := range s.Versions {
		s.Versions[i].Aliases = []string{}
	}
	for a, v := range s.Aliases {
		for i := range s.Versions {
			if s.Versions[i].Version == v {
				s.Versions[i].Aliases = append(s.Versions[i].Aliases, a)
			}
		}
	}
	for i := range s.Versions {
		sort.Strings(s.Versions[i].Aliases)
	}
}

// VersionLess orders version numbers numerically, anything that is not a
// number (a dry run's planned version) after them, in text order.
func VersionLess(a, b string) bool {
	na, errA := strconv.Atoi(a)
	nb, errB := strconv.Atoi(b)
	switch {
	case errA == nil && errB == nil:
		return na < nb
	case errA == nil:
		return true
	case errB == nil:
		return false
	}
	return a < b
}

// ModelFilter returns the search filter selecting model's versions.
func ModelFilter(model string) (string, error) {
	switch {
	case !strings.Contains(model, "'"):
		return "name = '" + model + "'", nil
	case !strings.Contains(model, `"`):
		return `name = "` + model + `"`, nil
	}
	return "", fmt.Errorf("model name %q holds both kinds of quotes: MLflow's search filters cannot name it", model)
}
