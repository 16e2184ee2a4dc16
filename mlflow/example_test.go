package mlflow_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/playbook-mlops/playbook/mlflow"
)

func ExampleParseModelURI() {
	u, err := mlflow.ParseModelURI("models:/ChurnPredictor@production-live")
	fmt.Println(u.Name, u.Alias, err)

	_, err = mlflow.ParseModelURI("models:/ChurnPredictor/Production")
	fmt.Println(errors.Is(err, mlflow.ErrInvalidParameter))
	// Output:
	// ChurnPredictor production-live <nil>
	// true
}

func ExampleRedactURL() {
	fmt.Println(mlflow.RedactURL("https://alice:s3cret@mlflow.example.com/base?token=abc&page=2"))
	// Output: https://mlflow.example.com/base?page=2&token=REDACTED
}

// Promote a version: move the production alias to it, then load through the
// alias alone, as a service would.
func ExampleClient_SetRegisteredModelAlias() {
	ctx := context.Background()
	c, err := mlflow.NewFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	if err := c.SetRegisteredModelAlias(ctx, "ChurnPredictor", "production-live", "4"); err != nil {
		log.Fatal(err)
	}
	mv, err := c.ResolveModelURI(ctx, "models:/ChurnPredictor@production-live")
	if errors.Is(err, mlflow.ErrNotFound) {
		log.Fatal("no production model")
	} else if err != nil {
		log.Fatal(err)
	}
	fmt.Println(mv.Version, mv.Source)
}
