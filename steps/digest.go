package steps

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
)

// mlmodelRunFields are the MLmodel fields that differ between two
// loggings of the same fitted model: which run, logged model and folder
// it was logged by, and when.
var mlmodelRunFields = []string{"artifact_path", "model_id", "model_uuid", "run_id", "utc_time_created"}

// digestMethod says what modelDigest digests.
const digestMethod = "SHA-256 of each file of the model's folder, MLmodel without the fields that name its run (parsed and written back with sorted keys), input examples left out; the digest is the SHA-256 of the lines \"HEX  PATH\" in path order"

// sameModel compares the fitted models of version cand and version prod
// of model by the digests of their files (modelDigest).
func (r *registry) sameModel(model, cand, prod string) (*record.ModelComparison, error) {
	cmp := &record.ModelComparison{Method: digestMethod, IgnoredFields: slices.Clone(mlmodelRunFields)}
	ignored := map[string]bool{}
	for i, v := range []string{cand, prod} {
		d, skipped, err := r.modelDigest(model, v)
		if err != nil {
			return nil, err
		}
		for _, f := range skipped {
			ignored[f] = true
		}
		if i == 0 {
			cmp.Candidate = *d
		} else {
			cmp.Production = *d
		}
	}
	cmp.IgnoredFiles = slices.Sorted(maps.Keys(ignored))
	cmp.Same = cmp.Candidate.Digest == cmp.Production.Digest
	return cmp, nil
}

// modelDigest downloads the files of a version (as a dry run's plan would
// leave it) and digests them (digestDir); it returns the files left out
// too.
func (r *registry) modelDigest(model, version string) (*record.ModelDigest, []string, error) {
	m, err := r.resolve(mlflow.ModelURI{Name: model, Version: version}.String())
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "playbook-digest-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	if err := r.c.DownloadDir(r.ctx, m.ArtifactURI, "", dir); err != nil {
		return nil, nil, fmt.Errorf("%s version %s: downloading %s to digest it: %w", model, version, m.ArtifactURI, err)
	}
	d, skipped, err := digestDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("%s version %s (%s): %w", model, version, m.ArtifactURI, err)
	}
	d.Version = version
	return d, skipped, nil
}

// digestDir digests the model folder dir: the SHA-256 of each regular
// file, MLmodel's without mlmodelRunFields (parsed, and written back as
// JSON with sorted keys), the input examples MLmodel names left out; and
// the SHA-256 of the lines "HEX  PATH\n" in path order. It returns the
// files left out.
func digestDir(dir string) (*record.ModelDigest, []string, error) {
	mlmodelData, err := os.ReadFile(filepath.Join(dir, churn.MLmodelFile))
	if err != nil {
		return nil, nil, fmt.Errorf("no %s file to digest: %w", churn.MLmodelFile, err)
	}
	var mlm map[string]any
	if err := yaml.Unmarshal(mlmodelData, &mlm); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", churn.MLmodelFile, err)
	}
	skip := map[string]bool{}
	if info, ok := mlm["saved_input_example_info"].(map[string]any); ok {
		for _, k := range []string{"artifact_path", "serving_input_path"} {
			if p, ok := info[k].(string); ok && p != "" {
				skip[filepath.ToSlash(filepath.Clean(p))] = true
			}
		}
	}
	for _, k := range mlmodelRunFields {
		delete(mlm, k)
	}
	canon, err := json.Marshal(mlm)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", churn.MLmodelFile, err)
	}
	d := &record.ModelDigest{Files: map[string]string{}}
	var skipped []string
	err = filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		var data []byte
		switch {
		case skip[rel]:
			skipped = append(skipped, rel)
			return nil
		case rel == churn.MLmodelFile:
			data = canon
		default:
			if data, err = os.ReadFile(path); err != nil {
				return err
			}
		}
		sum := sha256.Sum256(data)
		d.Files[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var lines strings.Builder
	for _, p := range slices.Sorted(maps.Keys(d.Files)) {
		fmt.Fprintf(&lines, "%s  %s\n", d.Files[p], p)
	}
	sum := sha256.Sum256([]byte(lines.String()))
	d.Digest = "sha256:" + hex.EncodeToString(sum[:])
	return d, skipped, nil
}
