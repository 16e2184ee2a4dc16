// Package steps is the API that scenario cells call: one function (or small
// group) per step of a model promotion (identify, register, alias, validate,
// promote, load, infer, verify) plus training, each recording its evidence.
package steps
