package record

import "time"

// The kinds of evidence the promotion steps (package steps) keep, beside
// calls, snapshots and metrics: identify's leaderboard, validate's verdict,
// the pass/fail checks of validate and verify, and what promote (or a
// rollback) did to the production alias.

// Leaderboard is identify's ranking of an experiment's runs by a metric.
type Leaderboard struct {
	Experiment   string `json:"experiment"`
	ExperimentID string `json:"experiment_id"`
	Metric       string `json:"metric"`
	// Direction is "max" (greater is better) or "min".
	Direction string `json:"direction"`
	// Over is what was ranked: "runs" or "logged_models" (MLflow 3).
	Over string `json:"over,omitempty"`
	// TieBreak says how runs with equal metric values are ordered.
	TieBreak string `json:"tie_break"`
	// Finished counts the experiment's FINISHED runs (READY logged models
	// when Over is "logged_models"); Considered those of them that logged
	// the metric (a finite value).
	Finished   int `json:"finished"`
	Considered int `json:"considered"`
	// Tied counts the runs (logged models) that share the best value.
	Tied int `json:"tied"`
	// Rows are the top runs, best first; the first is the one selected.
	Rows []LeaderboardRow `json:"rows"`
}

// LeaderboardRow is one run of a Leaderboard.
type LeaderboardRow struct {
	Rank    int    `json:"rank"`
	RunID   string `json:"run_id"`
	RunName string `json:"run_name"`
	// ModelID is the logged model ranked, when logged models were.
	ModelID   string             `json:"model_id,omitempty"`
	Value     float64            `json:"value"`
	StartTime time.Time          `json:"start_time"`
	Metrics   map[string]float64 `json:"metrics,omitempty"`
}

// Validation is validate's verdict on a candidate model version.
type Validation struct {
	Model   string `json:"model"`
	Version string `json:"version"`
	// Alias is the alias the candidate was loaded through.
	Alias string `json:"alias"`
	// Champion is the production version compared with, "" when none.
	Champion      string `json:"champion,omitempty"`
	ChampionAlias string `json:"champion_alias,omitempty"`
	// Data describes the validation data; Rows counts its customers.
	Data string `json:"data"`
	Rows int    `json:"rows"`
	// Candidate and ChampionMetrics are the performance metrics on Data.
	Candidate       map[string]float64 `json:"candidate"`
	ChampionMetrics map[string]float64 `json:"champion_metrics,omitempty"`
	// Fairness is the candidate's fairness by protected attribute.
	Fairness []FairnessReport `json:"fairness,omitempty"`
	Passed   bool             `json:"passed"`
	// Failed names the checks that failed.
	Failed []string `json:"failed,omitempty"`
}

// FairnessReport is a model's fairness by one protected attribute.
type FairnessReport struct {
	Attribute                   string       `json:"attribute"`
	Groups                      []GroupRates `json:"groups"`
	DemographicParityDifference float64      `json:"demographic_parity_difference"`
	EqualizedOddsDifference     float64      `json:"equalized_odds_difference"`
}

// GroupRates are the rates of one group of a protected attribute.
type GroupRates struct {
	Group         string  `json:"group"`
	Count         int     `json:"count"`
	SelectionRate float64 `json:"selection_rate"`
	TPR           float64 `json:"tpr"`
	FPR           float64 `json:"fpr"`
}

// Check kinds.
const (
	CheckThreshold = "threshold" // a metric against a fixed bound
	CheckChampion  = "champion"  // a metric against the champion's
	CheckFairness  = "fairness"  // a fairness gap against a limit
	CheckState     = "state"     // a registry state verify expects
)

// Check is one pass/fail check of validate or verify.
type Check struct {
	Step string `json:"step,omitempty"`
	Kind string `json:"kind"`
	// Name says what is checked, e.g. "f1 >= 0.55".
	Name   string `json:"name"`
	Metric string `json:"metric,omitempty"`
	// Value is the candidate's value; Champion the champion's.
	Value    *float64 `json:"value,omitempty"`
	Champion *float64 `json:"champion,omitempty"`
	// Limit is the bound the value was held to.
	Limit *float64 `json:"limit,omitempty"`
	Pass  bool     `json:"pass"`
	// Skipped says the check could not apply (no champion to compare
	// with); Pass is then true.
	Skipped bool `json:"skipped,omitempty"`
	// Detail says what was seen, in words.
	Detail string `json:"detail,omitempty"`
}

// Repair kinds: what a run did to a promotion an earlier run left
// unfinished.
const (
	// RepairCompleted: the production alias had moved; the run set the
	// tags the interrupted promotion had not.
	RepairCompleted = "completed"
	// RepairReversed: the production alias had not moved; the run removed
	// the intent and any tag claiming the promotion.
	RepairReversed = "reversed"
)

// Repair is a promotion (or rollback) an earlier run left unfinished —
// killed, or its server gone, between writing its intent and clearing it —
// or a production version found without its promotion tags, and what this
// run did about it.
type Repair struct {
	Step  string    `json:"step,omitempty"`
	Time  time.Time `json:"time"`
	Kind  string    `json:"kind"`
	Model string    `json:"model"`
	Alias string    `json:"alias"`
	// From and To are the interrupted move's versions ("" for none);
	// Production is the version that held Alias when the run found it.
	From       string `json:"from,omitempty"`
	To         string `json:"to"`
	Production string `json:"production"`
	// Intent is the intent tag's value as found; "" when the repair came
	// from missing tags.
	Intent string `json:"intent,omitempty"`
	// Detail says what was found and done, in words.
	Detail string `json:"detail"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// Promotion kinds.
const (
	PromotionPromote  = "promote"
	PromotionRollback = "rollback"
)

// Promotion is what promote, or a rollback, did to the production alias.
type Promotion struct {
	Kind  string `json:"kind"`
	Model string `json:"model"`
	Alias string `json:"alias"`
	// CandidateAlias is the candidate's alias (promote only).
	CandidateAlias string `json:"candidate_alias,omitempty"`
	// Version holds Alias now; Previous held it just before; AtStart held
	// it when the run first read the model ("" for none).
	Version  string `json:"version"`
	Previous string `json:"previous,omitempty"`
	AtStart  string `json:"at_start,omitempty"`
	// Moved is false when Version already held the alias.
	Moved  bool `json:"moved"`
	Forced bool `json:"forced,omitempty"`
	DryRun bool `json:"dry_run,omitempty"`
	// Reason is a rollback's reason.
	Reason string    `json:"reason,omitempty"`
	Time   time.Time `json:"time"`
	By     string    `json:"by"`
	// Candidate is the version promote was asked to promote when it did
	// not move the alias to it; SameAs the version holding the alias
	// whose fitted model is the same (an unchanged promotion: production
	// stays on Version = SameAs).
	Candidate string `json:"candidate,omitempty"`
	SameAs    string `json:"same_as,omitempty"`
	// Comparison is promote's comparison of the candidate's model with
	// the production version's, when another version held the alias.
	Comparison *ModelComparison `json:"comparison,omitempty"`
}

// ModelComparison compares two versions' models by the digests of their
// files.
type ModelComparison struct {
	// Method says what was digested, in words.
	Method string `json:"method"`
	// IgnoredFields are the MLmodel fields left out of its digest (they
	// differ from run to run for the same fitted model); IgnoredFiles the
	// files left out (input examples).
	IgnoredFields []string    `json:"ignored_fields"`
	IgnoredFiles  []string    `json:"ignored_files,omitempty"`
	Candidate     ModelDigest `json:"candidate"`
	Production    ModelDigest `json:"production"`
	// Same says the two digests are equal: the same fitted model.
	Same bool `json:"same"`
	// Error says why the models could not be compared (then Same is
	// false and the promotion went on).
	Error string `json:"error,omitempty"`
}

// ModelDigest is the digest of one version's model files.
type ModelDigest struct {
	Version string `json:"version"`
	// Digest is "sha256:" and the SHA-256 of the lines "HEX  PATH\n" of
	// Files, in path order.
	Digest string `json:"digest"`
	// Files are the SHA-256 of each file digested, by its path in the
	// model's folder (MLmodel's without its ignored fields).
	Files map[string]string `json:"files"`
}
