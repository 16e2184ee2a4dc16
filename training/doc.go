// Package training logs training runs of the churn model to an MLflow
// experiment: each run with distinct hyperparameters, its validation metrics
// and its model artifact under "model/". It serves playbook train
// (cmd/playbook) and the cell step steps.TrainRuns; cells do not see it.
package training
