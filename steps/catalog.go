package steps

// catalogFR is the French of the steps' refusals, keyed by their English
// format (Refuse's): a French scenario's refusal is said in French
// (GateError.Localize, called by the runner with the scenario's lang).
// Each entry keeps its format's verbs, in order (TestCatalogFR).
var catalogFR = map[string]string{
	"pointing %s of %s at version %s failed (%s), and it now points to version %s: someone moved it meanwhile (MLflow has no compare-and-swap on aliases); rerun the scenario": "pointer %s de %s vers la version %s a échoué (%s), et il pointe maintenant vers la version %s : quelqu'un l'a déplacé entre-temps (MLflow n'a pas de compare-and-swap sur les alias) ; relancez le scénario",

	"writing the intent of moving %s of %s to version %s failed (%s), and the model now holds another one (to version %s, by %s): another promotion is moving it meanwhile; nothing was moved; check the model's page and rerun": "écrire l'intention de déplacer %s de %s vers la version %s a échoué (%s), et le modèle en porte maintenant une autre (vers la version %s, par %s) : une autre promotion le déplace en ce moment ; rien n'a été déplacé ; consultez la page du modèle et relancez",

	"%s version %s has no %s tag (read back from the registry): validate it first": "%s version %s n'a pas de tag %s (relu dans le registre) : validez-la d'abord",

	"%s version %s has %s=%s (read back from the registry): only a version that passed validation is promoted": "%s version %s porte %s=%s (relu dans le registre) : seule une version qui a réussi la validation est promue",

	"%s points to %s, not to version %s that this scenario validated: someone moved it meanwhile; rerun the scenario, or pass force=true": "%s pointe vers %s, et non vers la version %s que ce scénario a validée : quelqu'un l'a déplacé entre-temps ; relancez le scénario, ou passez force=true",

	"%s of %s moved from %s (when this scenario started) to %s since: someone else changed production meanwhile; nothing was changed; rerun the scenario, or pass force=true to override": "%s de %s pointait vers %s au début de ce scénario, et vers %s depuis : quelqu'un d'autre a changé la production entre-temps ; rien n'a été changé ; relancez le scénario, ou passez force=true pour passer outre",

	"moving %s of %s from %s to version %s failed (%s), and the alias now points to %s: another promotion moved it meanwhile (MLflow has no compare-and-swap on aliases); version %s is not in production; check the model's page and rerun": "déplacer %s de %s (qui pointait vers %s) vers la version %s a échoué (%s), et l'alias pointe maintenant vers %s : une autre promotion l'a déplacé entre-temps (MLflow n'a pas de compare-and-swap sur les alias) ; la version %s n'est pas en production ; consultez la page du modèle et relancez",

	"right after this scenario moved %s of %s from %s to version %s, the alias pointed to %s: another promotion moved it meanwhile (MLflow has no compare-and-swap on aliases); version %s is not in production; check the model's page and rerun": "juste après que ce scénario a déplacé %s de %s (qui pointait vers %s) vers la version %s, l'alias pointait vers %s : une autre promotion l'a déplacé entre-temps (MLflow n'a pas de compare-and-swap sur les alias) ; la version %s n'est pas en production ; consultez la page du modèle et relancez",

	"%s now points to version %s, not to version %s that this scenario made the candidate: someone moved it meanwhile; nothing was validated": "%s pointe maintenant vers la version %s, et non vers la version %s dont ce scénario a fait la candidate : quelqu'un l'a déplacé entre-temps ; rien n'a été validé",

	"%s resolved to version %s while loading, not %s: someone moved it meanwhile": "%s a désigné la version %s au chargement, et non %s : quelqu'un l'a déplacé entre-temps",

	"%s is now on a version that failed validation: %s version %s failed %d check(s): %s (re-validated as asked, tagged %s=%s); roll back (steps.Rollback) or promote a better version": "%s est maintenant sur une version qui a échoué à la validation : %s version %s a échoué à %d contrôle(s) : %s (revalidée comme demandé, taguée %s=%s) ; revenez en arrière (steps.Rollback) ou promouvez une meilleure version",

	"%s version %s failed %d check(s): %s (tagged %s=%s)": "%s version %s a échoué à %d contrôle(s) : %s (taguée %s=%s)",

	"%s version %s, which holds %s, fails %d check(s) now: %s; its tags were kept (%s=%s): pass Revalidate to record the failure, or roll back": "%s version %s, qui porte %s, échoue maintenant à %d contrôle(s) : %s ; ses tags sont gardés (%s=%s) : passez Revalidate pour enregistrer l'échec, ou revenez en arrière",
}
