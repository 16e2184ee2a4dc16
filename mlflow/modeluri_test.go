package mlflow_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

func TestParseModelURI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    mlflow.ModelURI
		wantErr string
	}{
		{in: "models:/ChurnPredictor/3", want: mlflow.ModelURI{Name: "ChurnPredictor", Version: "3"}},
		{in: "models:/ChurnPredictor@production-live", want: mlflow.ModelURI{Name: "ChurnPredictor", Alias: "production-live"}},
		{in: "models:/Churn Predictor@staging_candidate", want: mlflow.ModelURI{Name: "Churn Predictor", Alias: "staging_candidate"}},
		{in: "models:/team@churn@champion", want: mlflow.ModelURI{Name: "team@churn", Alias: "champion"}},
		{in: "models:/ChurnPredictor@latest", want: mlflow.ModelURI{Name: "ChurnPredictor", Alias: "latest"}},
		{in: "MODELS:/m/12", want: mlflow.ModelURI{Name: "m", Version: "12"}},
		{in: "models:/ChurnPredictor/Production", wantErr: "stages (\"Production\") are deprecated and not supported: use an alias, e.g. models:/ChurnPredictor@production"},
		{in: "models:/ChurnPredictor/Staging", wantErr: "use an alias"},
		{in: "models:/ChurnPredictor/latest", wantErr: "models:/ChurnPredictor/latest is not supported"},
		{in: "models:/ChurnPredictor", wantErr: "no version or alias"},
		{in: "models:/m-0123456789abcdef", want: mlflow.ModelURI{ModelID: "m-0123456789abcdef"}},
		{in: "models://profile@databricks/ChurnPredictor/1", wantErr: "registry hosts"},
		{in: "models:/a/b/1", wantErr: "too many path segments"},
		{in: "models:/ChurnPredictor/", wantErr: "no version"},
		{in: "models:/@champion", wantErr: "no model name"},
		{in: "models:/ChurnPredictor@", wantErr: "alias is empty"},
		{in: "models:/ChurnPredictor@bad alias", wantErr: "only letters, digits"},
		{in: "models:/", wantErr: "expected models:/NAME/VERSION"},
		{in: "runs:/abc/model", wantErr: "expected models:/NAME/VERSION"},
		{in: "ChurnPredictor", wantErr: "expected models:/NAME/VERSION"},
		{in: "models:/a:b/1", wantErr: "cannot contain ':'"},
		{in: "models:/m/1?x=y", wantErr: "query strings"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := mlflow.ParseModelURI(tc.in)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, mlflow.ErrInvalidParameter)
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			again, err := mlflow.ParseModelURI(got.String())
			require.NoError(t, err)
			assert.Equal(t, got, again, "String round-trips")
		})
	}
}
