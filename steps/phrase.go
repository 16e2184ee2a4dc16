package steps

// phrase is an error of the steps with its French: a sentinel that
// errors.Is finds, said in the scenario's language where a step's error
// wraps it (localizeArgs).
type phrase struct{ en, fr string }

func (p *phrase) Error() string { return p.en }

// Localize returns p in the words of lang: in French, an error that says
// p.fr and is still p for errors.Is.
func (p *phrase) Localize(lang string) error {
	if !french(lang) {
		return p
	}
	return &saidIn{p: p, text: p.fr}
}

// saidIn is a phrase said in another language.
type saidIn struct {
	p    *phrase
	text string
}

func (s *saidIn) Error() string        { return s.text }
func (s *saidIn) Is(target error) bool { return target == s.p }

// word is a noun group an error names (what a data file is for), said in
// the scenario's language from catalogTextFR.
type word string

// LocalizeText returns w in the words of lang.
func (w word) LocalizeText(lang string) string {
	return trIn(lang, string(w))
}
