package server

import "context"

// The tracking handlers (experiments and runs), in the shape of
// mlflow/server/handlers.py: decode the request, call the store, write
// the reply.

type experimentReply struct {
	Experiment experimentJSON `json:"experiment"`
}

// experimentReplyOf is the reply of a call that returns an experiment.
func experimentReplyOf(e *experiment, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return experimentReply{e.json()}, nil
}

// runReply is the reply of a call that returns a run; outputs only where
// MLflow includes them.
func runReply(r *run, err error, outputs bool) (any, error) {
	if err != nil {
		return nil, err
	}
	return struct {
		Run runJSON `json:"run"`
	}{r.json(outputs)}, nil
}

func (s *Server) createExperiment(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name, location, tags := d.required("name"), d.str("artifact_location"), d.pairs("tags")
	return d.then(func() (any, error) {
		id, err := s.db.CreateExperiment(ctx, name, location, tags)
		if err != nil {
			return nil, err
		}
		return struct {
			ExperimentID string `json:"experiment_id"`
		}{itoa(id)}, nil
	})
}

func (s *Server) getExperiment(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	id := d.required("experiment_id")
	return d.then(func() (any, error) { return experimentReplyOf(s.db.GetExperiment(ctx, id)) })
}

func (s *Server) getExperimentByName(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	name := d.required("experiment_name")
	return d.then(func() (any, error) { return experimentReplyOf(s.db.GetExperimentByName(ctx, name)) })
}

func (s *Server) updateExperiment(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	id, newName := d.required("experiment_id"), d.required("new_name")
	return d.then(func() (any, error) { return emptyReply(s.db.RenameExperiment(ctx, id, newName)) })
}

func (s *Server) setExperimentTag(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	id, key, value := d.required("experiment_id"), d.required("key"), d.str("value")
	return d.then(func() (any, error) { return emptyReply(s.db.SetExperimentTag(ctx, id, key, value)) })
}

func (s *Server) deleteExperimentTag(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	id, key := d.required("experiment_id"), d.required("key")
	return d.then(func() (any, error) { return emptyReply(s.db.DeleteExperimentTag(ctx, id, key)) })
}

func (s *Server) deleteExperiment(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	id := d.required("experiment_id")
	return d.then(func() (any, error) { return emptyReply(s.db.DeleteExperiment(ctx, id)) })
}

func (s *Server) restoreExperiment(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	id := d.required("experiment_id")
	return d.then(func() (any, error) { return emptyReply(s.db.RestoreExperiment(ctx, id)) })
}

func (s *Server) createRun(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	nr := newRun{experimentID: d.str("experiment_id")}
	nr.startTime, _ = d.int64("start_time")
	nr.name, nr.userID, nr.tags = d.str("run_name"), d.str("user_id"), d.pairs("tags")
	return d.then(func() (any, error) {
		r, err := s.db.CreateRun(ctx, nr)
		return runReply(r, err, false)
	})
}

func (s *Server) getRun(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	id := d.runID()
	return d.then(func() (any, error) {
		r, err := s.db.GetRun(ctx, id)
		return runReply(r, err, true)
	})
}

func (s *Server) updateRun(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	id := d.runID()
	end, hasEnd := d.int64("end_time")
	status, name := d.str("status"), d.str("run_name")
	return d.then(func() (any, error) {
		var endTime *int64
		if hasEnd {
			endTime = &end
		}
		r, err := s.db.UpdateRun(ctx, id, status, endTime, name)
		if err != nil {
			return nil, err
		}
		return struct {
			RunInfo runInfoJSON `json:"run_info"`
		}{r.infoJSON()}, nil
	})
}

func (s *Server) deleteRun(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	id := d.required("run_id")
	return d.then(func() (any, error) { return emptyReply(s.db.DeleteRun(ctx, id)) })
}

func (s *Server) restoreRun(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	id := d.required("run_id")
	return d.then(func() (any, error) { return emptyReply(s.db.RestoreRun(ctx, id)) })
}

func (s *Server) logBatch(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	runID, metrics, params, tags := d.required("run_id"), d.metrics("metrics"), d.pairs("params"), d.pairs("tags")
	d.keysGiven("params", params)
	d.keysGiven("tags", tags)
	for _, m := range metrics {
		d.fail(checkMetricDataset(m))
	}
	return d.then(func() (any, error) { return emptyReply(s.db.LogBatch(ctx, runID, metrics, params, tags)) })
}

func (s *Server) logMetric(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	runID := d.runID()
	d.required("key")
	d.present("value")
	d.present("timestamp")
	d.str("model_id")
	d.str("dataset_name")
	d.str("dataset_digest")
	m := parseMetric(req.body)
	d.fail(checkMetricDataset(m))
	return d.then(func() (any, error) { return emptyReply(s.db.LogMetric(ctx, runID, m)) })
}

func (s *Server) logParam(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	runID, key, value := d.runID(), d.required("key"), d.str("value")
	return d.then(func() (any, error) { return emptyReply(s.db.LogParam(ctx, runID, key, value)) })
}

func (s *Server) setRunTag(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	runID, key, value := d.runID(), d.required("key"), d.str("value")
	return d.then(func() (any, error) { return emptyReply(s.db.SetRunTag(ctx, runID, key, value)) })
}

func (s *Server) deleteRunTag(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	runID, key := d.required("run_id"), d.required("key")
	return d.then(func() (any, error) { return emptyReply(s.db.DeleteRunTag(ctx, runID, key)) })
}

func (s *Server) getMetricHistory(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	runID, key := d.runID(), d.required("metric_key")
	return d.then(func() (any, error) {
		history, err := s.db.GetMetricHistory(ctx, runID, key)
		return struct {
			Metrics []metricJSON `json:"metrics,omitempty"`
		}{jsonOf(history, metric.json)}, err
	})
}

func (s *Server) searchExperiments(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	var a searchArgs
	a.maxResults, _ = d.int64("max_results")
	a.filter, a.orderBy, a.pageToken = d.str("filter"), d.strs("order_by"), d.str("page_token")
	a.stages = d.viewType("view_type")
	return d.then(func() (any, error) {
		exps, next, err := s.db.SearchExperiments(ctx, a)
		return struct {
			Experiments   []experimentJSON `json:"experiments,omitempty"`
			NextPageToken string           `json:"next_page_token,omitempty"`
		}{jsonOf(exps, (*experiment).json), next}, err
	})
}

func (s *Server) searchRuns(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	ids := d.strs("experiment_ids")
	a := d.search(defaultSearchRunsResults, maxSearchResults)
	a.experiment, a.stages = ids, d.viewType("run_view_type")
	return d.then(func() (any, error) {
		runs, next, err := s.db.SearchRuns(ctx, a)
		return struct {
			Runs          []runJSON `json:"runs,omitempty"`
			NextPageToken string    `json:"next_page_token,omitempty"`
		}{jsonOf(runs, func(r *run) runJSON { return r.json(true) }), next}, err
	})
}

func (s *Server) logInputs(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	runID, datasets, models := d.required("run_id"), d.datasetInputs("datasets"), d.modelInputs("models")
	return d.then(func() (any, error) { return emptyReply(s.db.LogInputs(ctx, runID, datasets, models)) })
}

func (s *Server) logOutputs(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	runID := d.required("run_id")
	d.present("models")
	models := d.modelOutputs("models")
	return d.then(func() (any, error) { return emptyReply(s.db.LogOutputs(ctx, runID, models)) })
}

// Limits of get-history-bulk-interval (mlflow/server/handlers.py).
const (
	maxBulkIntervalRuns    = 100
	maxBulkIntervalResults = 2500
)

func (s *Server) getMetricHistoryBulkInterval(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	a := bulkInterval{runIDs: d.strs("run_ids")}
	if d.err == nil && !req.has("run_ids") {
		d.fail(missing("run_ids"))
	}
	if n := len(a.runIDs); n > maxBulkIntervalRuns {
		d.fail(errInvalid("GetMetricHistoryBulkInterval request must specify at most %d run_ids. Received %d run_ids. See the API docs for more information about request parameters.", maxBulkIntervalRuns, n))
	}
	a.key = d.required("metric_key")
	a.start, a.end = d.int64Ptr("start_step"), d.int64Ptr("end_step")
	n, given := d.int64("max_results")
	if !given {
		n = maxBulkIntervalResults
	} else if n < 1 || n > maxBulkIntervalResults {
		d.fail(errInvalid("max_results must be between 1 and %d. See the API docs for more information about request parameters.", maxBulkIntervalResults))
	}
	a.maxResults = n
	return d.then(func() (any, error) {
		points, err := s.db.GetMetricHistoryBulkInterval(ctx, a)
		return struct {
			Metrics []metricWithRunJSON `json:"metrics,omitempty"`
		}{points}, err
	})
}

// checkMetricDataset is mlflow.entities.Metric's check: a metric names a
// dataset by both its name and its digest, or not at all.
func checkMetricDataset(m requestMetric) *apiError {
	if (m.datasetName == "") != (m.datasetDigest == "") {
		return errInvalid("Both dataset_name and dataset_digest must be provided if one is provided")
	}
	return nil
}
