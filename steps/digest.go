package steps

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/record"
)

// mlmodelRunFields are the MLmodel fields that differ between two
// loggings of the same fitted model: which run, logged model and folder
// it was logged by, and when.
var mlmodelRunFields = []string{"artifact_path", "model_id", "model_uuid", "run_id", "utc_time_created"}

// digestMethod says what modelDigest digests.
const digestMethod = "SHA-256 of each file of the model's folder, MLmodel without the fields that name its run (parsed and written back with sorted keys), a zip archive (model.skops) by its entries' contents (zip:), input examples left out; the digest is the SHA-256 of the lines \"HEX  PATH\" in path order"

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
	// Not through a models:/ URI: a dry run's planned version has no
	// number, its files are its source.
	src, planned := r.plannedSource(model, version)
	if !planned {
		var err error
		if src, err = r.c.GetModelVersionDownloadURI(r.ctx, model, version); err != nil {
			return nil, nil, stepErrorf("%s version %s: locating its artifacts: %w", model, version, err)
		}
	}
	m := &LoadedModel{Model: model, Version: version, ArtifactURI: src}
	dir, err := os.MkdirTemp("", "playbook-digest-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	if err := r.c.DownloadDir(r.ctx, m.ArtifactURI, "", dir); err != nil {
		return nil, nil, stepErrorf("%s version %s: downloading %s to digest it: %w", model, version, m.ArtifactURI, err)
	}
	d, skipped, err := digestDir(dir)
	if err != nil {
		return nil, nil, stepErrorf("%s version %s (%s): %w", model, version, m.ArtifactURI, err)
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
		return nil, nil, stepErrorf("no %s file to digest: %w", churn.MLmodelFile, err)
	}
	var mlm map[string]any
	if err := yaml.Unmarshal(mlmodelData, &mlm); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", churn.MLmodelFile, err)
	}
	// The input examples MLflow writes (their names fixed by MLflow, not
	// taken from the model's MLmodel, which could name the weights).
	skip := map[string]bool{}
	if info, ok := mlm["saved_input_example_info"].(map[string]any); ok {
		for _, k := range []string{"artifact_path", "serving_input_path"} {
			if p, ok := info[k].(string); ok && inputExampleFiles[p] {
				skip[p] = true
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
		switch {
		case skip[rel]:
			skipped = append(skipped, rel)
			return nil
		case rel == churn.MLmodelFile:
			sum := sha256.Sum256(canon)
			d.Files[rel] = hex.EncodeToString(sum[:])
			return nil
		}
		sum, err := digestFile(path)
		if err != nil {
			return err
		}
		d.Files[rel] = sum
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

// inputExampleFiles are the names MLflow gives a model's input examples.
var inputExampleFiles = map[string]bool{"input_example.json": true, "serving_input_example.json": true}

// Bounds of the digest's memory: a zip archive is read by its entries
// only up to maxZipDigest bytes (a larger one, or one with more in its
// entries, is digested as bytes, streamed), and a JSON entry parsed only
// up to maxZipJSONEntry.
const (
	maxZipDigest    = 256 << 20
	maxZipJSONEntry = 32 << 20
)

// digestFile returns the SHA-256 of the file at path, streamed, or, for
// a zip archive within maxZipDigest, zipDigest's digest of its entries
// (not the times the archive stamps them with).
func digestFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	if n == 4 && bytes.Equal(head, []byte("PK\x03\x04")) && fi.Size() <= maxZipDigest {
		if sum, err := zipDigest(f, fi.Size()); err == nil {
			return sum, nil
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// zipDigest digests a zip archive by its entries' contents, not the times
// the archive stamps them with nor what names them after a process's
// memory: scikit-learn's model.skops (skops) names its arrays and numbers
// its objects (__id__) by Python's id(). A JSON entry is digested parsed,
// each string naming another entry replaced by that entry's SHA-256 and
// each __id__ by its rank of first appearance (keys in sorted order), and
// written back with sorted keys; another entry by its content alone. The
// digest is the SHA-256 of the sorted lines "HEX  NAME" (NAME "@" for an
// entry named by its content).
//
// An archive with two entries of one name, or whose entries hold more
// than maxZipDigest bytes (a JSON entry more than maxZipJSONEntry), is an
// error: the caller digests its bytes instead.
func zipDigest(r io.ReaderAt, size int64) (string, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return "", err
	}
	named := map[string]string{} // a non-JSON entry's name → its SHA-256
	contents := map[string][]byte{}
	budget := int64(maxZipDigest)
	for _, f := range zr.File {
		if _, dup := named[f.Name]; dup {
			return "", fmt.Errorf("two entries named %s", f.Name)
		}
		if _, dup := contents[f.Name]; dup {
			return "", fmt.Errorf("two entries named %s", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return "", err
		}
		limit := budget
		if strings.HasSuffix(f.Name, ".json") {
			limit = min(limit, maxZipJSONEntry)
		}
		lr := &io.LimitedReader{R: rc, N: limit + 1}
		if strings.HasSuffix(f.Name, ".json") {
			b, err := io.ReadAll(lr)
			if err == nil && int64(len(b)) > limit {
				err = fmt.Errorf("%s: over %d bytes", f.Name, limit)
			}
			rc.Close()
			if err != nil {
				return "", err
			}
			contents[f.Name] = b
			budget -= int64(len(b))
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, lr)
		rc.Close()
		if err == nil && n > limit {
			err = fmt.Errorf("%s: over %d bytes", f.Name, limit)
		}
		if err != nil {
			return "", err
		}
		named[f.Name] = "sha256:" + hex.EncodeToString(h.Sum(nil))
		budget -= n
	}
	var lines []string
	for _, h := range named {
		lines = append(lines, h+"  @")
	}
	for n, b := range contents {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return "", fmt.Errorf("%s: %w", n, err)
		}
		ids := map[string]int{}
		v = canonJSON(v, named, ids)
		canon, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("%s: %w", n, err)
		}
		sum := sha256.Sum256(canon)
		lines = append(lines, hex.EncodeToString(sum[:])+"  "+n)
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n") + "\n"))
	return "zip:" + hex.EncodeToString(sum[:]), nil
}

// canonJSON rewrites v for zipDigest: strings naming an entry become its
// digest, __id__ numbers their rank of first appearance.
func canonJSON(v any, named map[string]string, ids map[string]int) any {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if n, ok := x[k].(json.Number); ok && k == "__id__" {
				id, seen := ids[n.String()]
				if !seen {
					id = len(ids)
					ids[n.String()] = id
				}
				x[k] = id
				continue
			}
			x[k] = canonJSON(x[k], named, ids)
		}
		return x
	case []any:
		for i := range x {
			x[i] = canonJSON(x[i], named, ids)
		}
		return x
	case string:
		if h, ok := named[x]; ok {
			return h
		}
	}
	return v
}
