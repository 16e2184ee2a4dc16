package server

import "context"

// The model registry's handlers, in the shape of mlflow/server/handlers.py:
// decode the request, call the store, write the reply.

type registeredModelReply struct {
	RegisteredModel registeredModelJSON `json:"registered_model"`
}

type modelVersionReply struct {
	ModelVersion modelVersionJSON `json:"model_version"`
}

// modelReply is the reply of a call that returns a registered model.
func modelReply(m *registeredModel, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return registeredModelReply{m.json()}, nil
}

// versionReply is the reply of a call that returns a model version, with
// its aliases.
func versionReply(v *modelVersion, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return modelVersionReply{v.json(true)}, nil
}

// jsonOf converts the items of a reply to their JSON shapes.
func jsonOf[T, J any](items []T, conv func(T) J) []J {
	if len(items) == 0 {
		return nil
	}
	out := make([]J, len(items))
	for i, it := range items {
		out[i] = conv(it)
	}
	return out
}

// emptyReply is the reply of a write that returns nothing: {}.
func emptyReply(err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (s *Server) createRegisteredModel(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, tags, description := d.required("name"), d.pairs("tags"), d.str("description")
	return d.then(func() (any, error) { return modelReply(s.db.CreateRegisteredModel(ctx, name, tags, description)) })
}

func (s *Server) getRegisteredModel(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name := d.required("name")
	return d.then(func() (any, error) { return modelReply(s.db.GetRegisteredModel(ctx, name)) })
}

func (s *Server) updateRegisteredModel(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, description := d.required("name"), d.str("description")
	return d.then(func() (any, error) { return modelReply(s.db.UpdateRegisteredModel(ctx, name, description)) })
}

func (s *Server) renameRegisteredModel(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, newName := d.required("name"), d.required("new_name")
	return d.then(func() (any, error) { return modelReply(s.db.RenameRegisteredModel(ctx, name, newName)) })
}

func (s *Server) deleteRegisteredModel(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name := d.required("name")
	return d.then(func() (any, error) { return emptyReply(s.db.DeleteRegisteredModel(ctx, name)) })
}

func (s *Server) setRegisteredModelTag(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, key, value := d.required("name"), d.required("key"), d.str("value")
	return d.then(func() (any, error) { return emptyReply(s.db.SetRegisteredModelTag(ctx, name, key, value)) })
}

func (s *Server) deleteRegisteredModelTag(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, key := d.required("name"), d.required("key")
	return d.then(func() (any, error) { return emptyReply(s.db.DeleteRegisteredModelTag(ctx, name, key)) })
}

func (s *Server) deleteModelVersion(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, version := d.required("name"), d.required("version")
	return d.then(func() (any, error) { return emptyReply(s.db.DeleteModelVersion(ctx, name, version)) })
}

func (s *Server) transitionStage(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, version, stage, archive := d.required("name"), d.required("version"), d.required("stage"), d.bool("archive_existing_versions")
	return d.then(func() (any, error) {
		return versionReply(s.db.TransitionModelVersionStage(ctx, name, version, stage, archive))
	})
}

func (s *Server) getModelVersion(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, version := d.required("name"), d.required("version")
	return d.then(func() (any, error) { return versionReply(s.db.GetModelVersion(ctx, name, version)) })
}

func (s *Server) updateModelVersion(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, version, description := d.required("name"), d.required("version"), d.optional("description")
	return d.then(func() (any, error) { return versionReply(s.db.UpdateModelVersion(ctx, name, version, description)) })
}

func (s *Server) getDownloadURI(ctx context.Context, req *request) (any, error) {
	// MLflow reads these without its schema checks.
	name, _ := req.str("name", false)
	version, _ := req.str("version", false)
	uri, err := s.db.GetDownloadURI(ctx, name, version)
	if err != nil {
		return nil, err
	}
	return struct {
		ArtifactURI string `json:"artifact_uri"`
	}{uri}, nil
}

func (s *Server) createModelVersion(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	nv := newModelVersion{name: d.required("name"), source: d.required("source"), runID: d.str("run_id"),
		tags: d.pairs("tags"), runLink: d.str("run_link"), description: d.str("description"), modelID: d.str("model_id")}
	return d.then(func() (any, error) { return versionReply(s.db.CreateModelVersion(ctx, nv)) })
}

func (s *Server) setModelVersionTag(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, version, key, value := d.required("name"), d.required("version"), d.required("key"), d.str("value")
	return d.then(func() (any, error) { return emptyReply(s.db.SetModelVersionTag(ctx, name, version, key, value)) })
}

func (s *Server) deleteModelVersionTag(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, version, key := d.required("name"), d.required("version"), d.required("key")
	return d.then(func() (any, error) { return emptyReply(s.db.DeleteModelVersionTag(ctx, name, version, key)) })
}

func (s *Server) setAlias(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, alias, version := d.required("name"), d.required("alias"), d.required("version")
	return d.then(func() (any, error) { return emptyReply(s.db.SetAlias(ctx, name, alias, version)) })
}

func (s *Server) deleteAlias(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, alias := d.required("name"), d.required("alias")
	return d.then(func() (any, error) { return emptyReply(s.db.DeleteAlias(ctx, name, alias)) })
}

func (s *Server) getVersionByAlias(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, alias := d.required("name"), d.required("alias")
	return d.then(func() (any, error) { return versionReply(s.db.GetVersionByAlias(ctx, name, alias)) })
}

func (s *Server) getLatestVersions(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, stages := d.required("name"), d.strs("stages")
	return d.then(func() (any, error) {
		versions, err := s.db.GetLatestVersions(ctx, name, stages)
		return struct {
			ModelVersions []modelVersionJSON `json:"model_versions,omitempty"`
		}{jsonOf(versions, (*modelVersion).withAliases)}, err
	})
}

func (s *Server) searchRegisteredModels(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	a := d.search(defaultSearchModelsResults, maxSearchModelsResults)
	return d.then(func() (any, error) {
		models, next, err := s.db.SearchRegisteredModels(ctx, a)
		return struct {
			RegisteredModels []registeredModelJSON `json:"registered_models,omitempty"`
			NextPageToken    string                `json:"next_page_token,omitempty"`
		}{jsonOf(models, (*registeredModel).json), next}, err
	})
}

func (s *Server) searchModelVersions(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	a := d.search(defaultSearchVersionResults, maxSearchVersionResults)
	return d.then(func() (any, error) {
		versions, next, err := s.db.SearchModelVersions(ctx, a)
		return struct {
			ModelVersions []modelVersionJSON `json:"model_versions,omitempty"`
			NextPageToken string             `json:"next_page_token,omitempty"`
		}{jsonOf(versions, (*modelVersion).withoutAliases), next}, err
	})
}
