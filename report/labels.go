package report

import "strings"

// labels are the words of a report, in the scenario's language.
type labels struct {
	Lang string // the HTML lang attribute

	Report, Generated                                          string
	VerdictPromoted, VerdictNotPromoted, VerdictFailed         string
	VerdictDone, VerdictRolledBack                             string
	VerdictStopped, StoppedAt, NotRunStopped                   string
	WouldHoldDetail, TicketCut, TicketFull                     string
	Ticket, Approver, Reason                                   string
	PromotedDetail, FirstProduction, AlreadyHeld               string
	DryRunDetail, RefusedAt, FailedAt, DoneDetail              string
	Summary, Model, Candidate, Champion, ProductionAlias       string
	Validation, Verification, Cells, ExitStatus, Duration      string
	Date, Server, EmbeddedRegistry, NoServer                   string
	ChecksPassed, CellsCount                                   string
	Scenario, Step, Status, Line, Output, Truncated            string
	StatusOK, StatusFailed, StatusNotRun                       string
	NotRunNote, ErrorAt                                        string
	Registry, RegistryNote, NoSnapshot, OnlyBefore             string
	Before, After, Change, Alias, Version, Tag, Tags           string
	Aliases, Added, Removed, Changed, Moved, Unchanged         string
	None, NewVersion, RemovedVersion, UnchangedTags            string
	Leaderboard, LeaderboardNote, Rank, Run, RunID, Start      string
	Selected, TieBreak, Experiment, Metric, Direction          string
	ValidationNote, Data, Customers, Threshold, Result         string
	Pass, Fail, Skipped, Check, Kind, Limit, Detail, Delta     string
	Metrics, Checks, Fairness, Attribute, Group, Count         string
	SelectionRate, TPR, FPR, DPDiff, EODiff                    string
	Passed, FailedWord, NoValidation, NoLeaderboard            string
	Capture, CaptureNote, NoCapture, CaptureOf                 string
	WhyNoServer, WhyNotRun, WhyNone, WhyDryRun                 string
	Audit, User, Host, End, PlaybookVersion, GoVersion         string
	MLflowVersion, Unknown, ScenarioFile, SHA256               string
	Params, Name, Value, Type, Source                          string
	Calls, CallsNote, NoCalls, Time, Endpoint, Args            string
	Outcome, DryRun, Unrestricted, Yes, No, Files, Size        string
	Error, Plot, Plots, Contents, Evidence                     string
	VerifyChecks, Seen, Previously, StartTime, Colon           string
	Isolation, KernelProcess, CellEnv, NoCredentials           string
	Timeouts, TimeoutsEnforced, NotApplied, Limits             string
	ExitCodeWord                                               string
	Actor, TheChange, Decided, RollbackLabel, NoRollbackNeeded string
	NoPrevious, RollbackReason, VerdictUnchanged, CallsCount   string
	Network, NoNetwork, RegistryCalls, CellTokens              string
	// The Landlock and seccomp rows, worded from record.Isolation's data.
	LandlockRules, LandlockFiles, LandlockTCP, LandlockScoped string
	ExecRefused, PrivilegedRefused, NoProcesses               string
	SocketsNone, SocketsTCP, SocketsUnixTCP, Unavailable      string
	Semicolon                                                 string // "; ", " ; " in French
	// MLflowUser and OSUser name the MLflow user the run acted as
	// (record.Actor) and the operating system's user beside it; the
	// Actor* words say how the name was known.
	MLflowUser, OSUser                       string
	ActorVerified, ActorUnverified, ActorJWT string
	// SameParams says why an unchanged promotion left production where
	// it was: the candidate's version, and the production version whose
	// fitted model is the same.
	SameParams string
	// ExitWords are the words of record.Exit.Status (record.Outcome*).
	ExitWords map[string]string
}

// exitWord returns the word of an exit status in l's language, the status
// itself when l has none for it.
func (l *labels) exitWord(status string) string {
	if w, ok := l.ExitWords[status]; ok {
		return w
	}
	return status
}

var english = labels{
	Lang:      "en",
	Isolation: "Isolation of the cells", KernelProcess: "a kernel process of their own, started in %s; its end: %s",
	CellEnv: "Environment of the cells", NoCredentials: "no credentials",
	Timeouts: "Cell timeouts", TimeoutsEnforced: "enforced by playbook: the kernel is ended %s past a cell's",
	NotApplied: "not applied", Limits: "Limits", ExitCodeWord: "exit status",
	Network: "Network of the cells", NoNetwork: "none: only connections to playbook's registry proxy, which playbook hands the kernel",
	RegistryCalls: "Registry calls", CellTokens: "each attributed to the cell whose code made it (a token per cell); a goroutine that outlived its cell is refused",
	LandlockRules: "ABI %d: rules on %s", LandlockFiles: "files", LandlockTCP: "TCP", LandlockScoped: "scoped: abstract unix sockets, signals",
	ExecRefused: "execve refused", PrivilegedRefused: "%d privileged syscalls, namespaces and other processes' limits refused",
	NoProcesses: "no child process (threads only)", SocketsNone: "no socket created (inherited and received ones only)",
	SocketsTCP: "sockets: TCP only", SocketsUnixTCP: "sockets: unix and TCP only", Unavailable: "unavailable", Semicolon: "; ",
	Report: "Run report", Generated: "Report of the run of",
	VerdictPromoted: "Promoted", VerdictNotPromoted: "Not promoted", VerdictFailed: "Failed",
	VerdictDone: "Completed", VerdictRolledBack: "Rolled back",
	VerdictStopped: "Stopped", StoppedAt: "the presenter stopped the run before step %s", NotRunStopped: "not run: the presenter stopped the run",
	PromotedDetail: "%s version %s now holds %s", WouldHoldDetail: "%s version %s would hold %s",
	Ticket: "Ticket", Approver: "Approver", Reason: "Reason",
	TicketCut: "left out to fit a ticket's field: see the full report", TicketFull: "The full report, attached:", FirstProduction: "the first version in production",
	AlreadyHeld: "it already held it", DryRunDetail: "dry run: the registry was not changed",
	RefusedAt: "refused at step %s", FailedAt: "failed at step %s", DoneDetail: "every cell ran; this scenario promotes nothing",
	Summary: "Summary", Model: "Model", Candidate: "Candidate", Champion: "Champion", ProductionAlias: "Production alias",
	Validation: "Validation", Verification: "Verification", Cells: "Cells", ExitStatus: "Exit status", Duration: "Duration",
	Date: "Date", Server: "Tracking server", EmbeddedRegistry: "embedded registry", NoServer: "none",
	ChecksPassed: "%d of %d checks passed", CellsCount: "%d ok, %d failed, %d not run",
	Scenario: "Scenario", Step: "Step", Status: "Status", Line: "line", Output: "Output", Truncated: "output truncated",
	StatusOK: "ok", StatusFailed: "failed", StatusNotRun: "not run",
	NotRunNote: "not run: an earlier cell failed", ErrorAt: "error",
	Registry:     "Registry before and after",
	RegistryNote: "Where each alias points and the tags of each version, when the run first read the model and at the end; differences are marked.",
	NoSnapshot:   "The run recorded no registry snapshot.", OnlyBefore: "Only one snapshot was recorded: the run stopped before the final one.",
	Before: "before", After: "after", Change: "change", Alias: "alias", Version: "version", Tag: "tag", Tags: "tags",
	Aliases: "Aliases", Added: "added", Removed: "removed", Changed: "changed", Moved: "moved", Unchanged: "unchanged",
	None: "none", NewVersion: "new version", RemovedVersion: "version gone", UnchangedTags: "unchanged tags",
	Leaderboard: "Leaderboard", LeaderboardNote: "Runs of experiment %s ranked by %s (%s): %d finished, %d with the metric, %d tied for best.",
	Rank: "rank", Run: "run", RunID: "run id", Start: "start",
	Selected: "selected", TieBreak: "Ties broken by", Experiment: "Experiment", Metric: "metric", Direction: "direction",
	ValidationNote: "%s version %s, loaded through %s, on %s (%d customers).",
	Data:           "data", Customers: "customers", Threshold: "threshold", Result: "result",
	Pass: "pass", Fail: "FAIL", Skipped: "skipped", Check: "check", Kind: "kind", Limit: "limit", Detail: "detail", Delta: "Δ",
	Metrics: "Metrics", Checks: "Checks", Fairness: "Fairness by group", Attribute: "attribute", Group: "group", Count: "customers",
	SelectionRate: "selection rate", TPR: "TPR", FPR: "FPR", DPDiff: "demographic parity difference", EODiff: "equalized odds difference",
	Passed: "passed", FailedWord: "failed", NoValidation: "The run recorded no validation.", NoLeaderboard: "The run recorded no leaderboard.",
	Capture: "The model's page in the registry", CaptureNote: "The exercise's last section: the model's page, aliases visible (in the MLflow UI, Models; on the embedded registry, its read-only page).",
	NoCapture: "No capture of the model's page", CaptureOf: "Capture of %s",
	WhyNoServer: "the run used playbook's embedded registry and recorded no capture of its page",
	WhyNotRun:   "the verify step did not run", WhyNone: "the run record holds no capture of the model's page",
	WhyDryRun: "dry run",
	Audit:     "Audit", User: "User", Host: "Host", End: "End", PlaybookVersion: "playbook version", GoVersion: "Go version",
	MLflowVersion: "MLflow server version", Unknown: "unknown", ScenarioFile: "Scenario file", SHA256: "SHA-256",
	Params: "Parameters", Name: "name", Value: "value", Type: "type", Source: "source",
	Calls: "Registry changes", CallsNote: "Every call that changed (or tried to change) the registry, in order.",
	NoCalls: "No call changed the registry.", Time: "time", Endpoint: "endpoint", Args: "arguments",
	Outcome: "outcome", DryRun: "Dry run", Unrestricted: "Unrestricted imports", Yes: "yes", No: "no", Files: "Files written", Size: "size",
	Error: "Error", Plot: "plot", Plots: "Plots", Contents: "Contents", Evidence: "Evidence",
	MLflowUser: "MLflow user", OSUser: "OS user",
	ActorVerified: "verified by the server, basic auth", ActorUnverified: "basic auth user name, not verified by the server",
	ActorJWT: "the bearer token's sub claim (JWT), not verified",
	Actor:    "Who", TheChange: "The change", Decided: "What decided it", RollbackLabel: "Rollback",
	NoRollbackNeeded: "none needed: production was not changed", NoPrevious: "none: no version held the alias before",
	RollbackReason: "why production goes back", VerdictUnchanged: "Unchanged", CallsCount: "%d calls",
	SameParams:   "candidate version %s: same fitted parameters as version %s",
	VerifyChecks: "End state checks", Seen: "seen", Previously: "previously version %s", StartTime: "Start", Colon: ": ",
}

var french = labels{
	Lang:      "fr",
	Isolation: "Isolation des cellules", KernelProcess: "un processus noyau à part, démarré en %s ; sa fin : %s",
	CellEnv: "Environnement des cellules", NoCredentials: "aucun identifiant",
	Timeouts: "Délais des cellules", TimeoutsEnforced: "imposés par playbook : le noyau est arrêté %s après celui d'une cellule",
	NotApplied: "non appliqué", Limits: "Limites", ExitCodeWord: "code de sortie",
	Network: "Réseau des cellules", NoNetwork: "aucun : seulement des connexions au proxy du registre de playbook, que playbook donne au noyau",
	RegistryCalls: "Appels au registre", CellTokens: "chacun attribué à la cellule dont le code l'a fait (un jeton par cellule) ; une goroutine qui survit à sa cellule est refusée",
	LandlockRules: "ABI %d : règles sur %s", LandlockFiles: "les fichiers", LandlockTCP: "TCP", LandlockScoped: "portée limitée : sockets unix abstraites, signaux",
	ExecRefused: "execve refusé", PrivilegedRefused: "%d appels système privilégiés, espaces de noms et limites des autres processus refusés",
	NoProcesses: "aucun processus enfant (des threads seulement)", SocketsNone: "aucune socket créée (seulement celles héritées ou reçues)",
	SocketsTCP: "sockets : TCP seulement", SocketsUnixTCP: "sockets : unix et TCP seulement", Unavailable: "indisponible", Semicolon: " ; ",
	Report: "Rapport d'exécution", Generated: "Rapport de l'exécution de",
	VerdictPromoted: "Promu", VerdictNotPromoted: "Non promu", VerdictFailed: "Échec",
	VerdictDone: "Terminé", VerdictRolledBack: "Retour arrière",
	VerdictStopped: "Arrêté", StoppedAt: "le présentateur a arrêté l'exécution avant l'étape %s", NotRunStopped: "non exécutée : le présentateur a arrêté l'exécution",
	PromotedDetail: "%s version %s porte maintenant %s", WouldHoldDetail: "%s version %s porterait %s",
	Ticket: "Ticket", Approver: "Approbateur", Reason: "Motif",
	TicketCut: "laissé de côté pour tenir dans le champ d'un ticket : voir le rapport complet", TicketFull: "Le rapport complet, en pièce jointe :", FirstProduction: "la première version en production",
	AlreadyHeld: "elle le portait déjà", DryRunDetail: "essai à blanc : le registre n'a pas été modifié",
	RefusedAt: "refusé à l'étape %s", FailedAt: "échec à l'étape %s", DoneDetail: "toutes les cellules ont tourné ; ce scénario ne promeut rien",
	Summary: "Résumé", Model: "Modèle", Candidate: "Candidat", Champion: "Champion", ProductionAlias: "Alias de production",
	Validation: "Validation", Verification: "Vérification", Cells: "Cellules", ExitStatus: "Statut de sortie", Duration: "Durée",
	Date: "Date", Server: "Serveur de suivi", EmbeddedRegistry: "registre embarqué", NoServer: "aucun",
	ChecksPassed: "%d contrôles réussis sur %d", CellsCount: "%d ok, %d en échec, %d non exécutées",
	Scenario: "Scénario", Step: "Étape", Status: "Statut", Line: "ligne", Output: "Sortie", Truncated: "sortie tronquée",
	StatusOK: "ok", StatusFailed: "échec", StatusNotRun: "non exécutée",
	NotRunNote: "non exécutée : une cellule précédente a échoué", ErrorAt: "erreur",
	Registry:     "Le registre avant et après",
	RegistryNote: "Où pointe chaque alias et les tags de chaque version, à la première lecture du modèle et à la fin ; les différences sont marquées.",
	NoSnapshot:   "L'exécution n'a enregistré aucun instantané du registre.", OnlyBefore: "Un seul instantané a été enregistré : l'exécution s'est arrêtée avant le dernier.",
	Before: "avant", After: "après", Change: "changement", Alias: "alias", Version: "version", Tag: "tag", Tags: "tags",
	Aliases: "Alias", Added: "ajouté", Removed: "supprimé", Changed: "modifié", Moved: "déplacé", Unchanged: "inchangé",
	None: "aucune", NewVersion: "nouvelle version", RemovedVersion: "version disparue", UnchangedTags: "tags inchangés",
	Leaderboard: "Classement", LeaderboardNote: "Runs de l'expérience %s classés selon %s (%s) : %d terminés, %d avec la métrique, %d ex æquo en tête.",
	Rank: "rang", Run: "run", RunID: "id du run", Start: "début",
	Selected: "choisi", TieBreak: "Départage", Experiment: "Expérience", Metric: "métrique", Direction: "sens",
	ValidationNote: "%s version %s, chargé par %s, sur %s (%d clients).",
	Data:           "données", Customers: "clients", Threshold: "seuil", Result: "résultat",
	Pass: "réussi", Fail: "ÉCHEC", Skipped: "ignoré", Check: "contrôle", Kind: "type", Limit: "limite", Detail: "détail", Delta: "Δ",
	Metrics: "Métriques", Checks: "Contrôles", Fairness: "Équité par groupe", Attribute: "attribut", Group: "groupe", Count: "clients",
	SelectionRate: "taux de sélection", TPR: "TVP", FPR: "TFP", DPDiff: "écart de parité démographique", EODiff: "écart d'égalité des chances",
	Passed: "réussie", FailedWord: "échouée", NoValidation: "L'exécution n'a enregistré aucune validation.", NoLeaderboard: "L'exécution n'a enregistré aucun classement.",
	Capture: "La page du modèle dans le registre", CaptureNote: "La dernière section de l'exercice : la page du modèle, alias visibles (dans l'interface MLflow, Models ; sur le registre embarqué, sa page en lecture seule).",
	NoCapture: "Pas de capture de la page du modèle", CaptureOf: "Capture de %s",
	WhyNoServer: "l'exécution a utilisé le registre embarqué de playbook et n'a enregistré aucune capture de sa page",
	WhyNotRun:   "l'étape verify n'a pas été exécutée", WhyNone: "l'enregistrement de l'exécution ne contient aucune capture de la page du modèle",
	WhyDryRun: "essai à blanc",
	Audit:     "Audit", User: "Utilisateur", Host: "Machine", End: "Fin", PlaybookVersion: "version de playbook", GoVersion: "version de Go",
	MLflowVersion: "version du serveur MLflow", Unknown: "inconnue", ScenarioFile: "Fichier du scénario", SHA256: "SHA-256",
	Params: "Paramètres", Name: "nom", Value: "valeur", Type: "type", Source: "source",
	Calls: "Modifications du registre", CallsNote: "Chaque appel qui a modifié (ou tenté de modifier) le registre, dans l'ordre.",
	NoCalls: "Aucun appel n'a modifié le registre.", Time: "heure", Endpoint: "point d'accès", Args: "arguments",
	Outcome: "résultat", DryRun: "Essai à blanc", Unrestricted: "Imports sans restriction", Yes: "oui", No: "non", Files: "Fichiers écrits", Size: "taille",
	Error: "Erreur", Plot: "graphique", Plots: "Graphiques", Contents: "Sommaire", Evidence: "Preuves",
	MLflowUser: "Utilisateur MLflow", OSUser: "Utilisateur du système",
	ActorVerified: "vérifié par le serveur, authentification basic", ActorUnverified: "nom d'utilisateur de l'authentification basic, non vérifié par le serveur",
	ActorJWT: "revendication sub du jeton (JWT), non vérifiée",
	Actor:    "Qui", TheChange: "Le changement", Decided: "Ce qui a décidé", RollbackLabel: "Retour arrière",
	NoRollbackNeeded: "inutile : la production n'a pas changé", NoPrevious: "aucun : aucune version ne portait l'alias avant",
	RollbackReason: "pourquoi la production revient en arrière", VerdictUnchanged: "Inchangé", CallsCount: "%d appels",
	ExitWords:    map[string]string{"ok": "ok", "failed": "échec", "refused": "refus", "error": "erreur", "stopped": "arrêté"},
	SameParams:   "version candidate %s : mêmes paramètres ajustés que la version %s",
	VerifyChecks: "Contrôles de l'état final", Seen: "constaté", Previously: "auparavant la version %s", StartTime: "Début", Colon: " : ",
}

// labelsFor returns the labels of a scenario's language: French for fr
// (fr, fr-FR, ...), English otherwise.
func labelsFor(lang string) *labels {
	l := strings.ToLower(strings.TrimSpace(lang))
	if l == "fr" || strings.HasPrefix(l, "fr-") || strings.HasPrefix(l, "fr_") {
		return &french
	}
	return &english
}
