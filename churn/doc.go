// Package churn is the churn domain of playbook: the Telco customer churn
// schema, a seeded generator of synthetic customers, a CSV loader for the real
// file, a stratified split, a feature encoding, L2-regularised logistic
// regression, validation metrics and fairness by group computed with gonum,
// and the model's MLflow artifact format.
//
// It imports no other package of this module.
package churn
