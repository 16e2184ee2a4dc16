package server_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/server"
)

// An embedded server on a data directory, used through the MLflow client
// as any MLflow tracking server would be.
func Example() {
	dir, err := os.MkdirTemp("", "playbook-data")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	srv, err := server.Open(ctx, server.Config{DataDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	uri, err := srv.Start("127.0.0.1:0") // a free port on loopback
	if err != nil {
		log.Fatal(err)
	}

	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	if err != nil {
		log.Fatal(err)
	}
	version, err := c.ServerVersion(ctx)
	if err != nil {
		log.Fatal(err)
	}
	exp, err := c.GetOrCreateExperiment(ctx, "churn-training")
	if err != nil {
		log.Fatal(err)
	}
	run, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: exp.ExperimentID, RunName: "baseline"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.CreateRegisteredModel(ctx, "ChurnPredictor", nil, ""); err != nil {
		log.Fatal(err)
	}
	mv, err := c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{
		Name: "ChurnPredictor", Source: run.Info.ArtifactURI + "/model", RunID: run.Info.RunID,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.SetRegisteredModelAlias(ctx, "ChurnPredictor", "production-live", mv.Version); err != nil {
		log.Fatal(err)
	}
	prod, err := c.ResolveModelURI(ctx, "models:/ChurnPredictor@production-live")
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.GetModelVersionByAlias(ctx, "ChurnPredictor", "staging-candidate")
	fmt.Println("server:", version)
	fmt.Println("experiment:", exp.ExperimentID, exp.ArtifactLocation)
	fmt.Println("production-live:", prod.Version, prod.Status)
	fmt.Println("missing alias:", err)
	// Output:
	// server: 3.18.0+playbook
	// experiment: 1 mlflow-artifacts:/1
	// production-live: 1 READY
	// missing alias: mlflow: GET /api/2.0/mlflow/registered-models/alias: 400 INVALID_PARAMETER_VALUE: Registered model alias staging-candidate not found.
}
