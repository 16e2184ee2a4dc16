// Package training logs training runs of the churn model to an MLflow
// experiment: each run with distinct hyperparameters, its validation metrics
// and its model, which runs:/RUN/model names: an MLflow 3 logged model
// called "model" on a server that has logged models, the run's artifacts
// under "model/" on one that has not (see Train). It serves playbook train
// (cmd/playbook) and the cell step steps.TrainRuns; cells do not see it.
package training
