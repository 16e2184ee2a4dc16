package server

import (
	"fmt"
	"math/rand/v2"
)

// Words of random run names, as MLflow gives runs created without one
// ("adjective-animal-123").
var (
	nameAdjectives = []string{
		"able", "bold", "brave", "bright", "calm", "clever", "crisp", "curious", "daring", "eager",
		"fair", "gentle", "glad", "grand", "happy", "honest", "keen", "kind", "lively", "loud",
		"lucky", "merry", "mighty", "neat", "nimble", "polite", "proud", "quick", "quiet", "rare",
		"sharp", "shy", "silent", "smart", "steady", "sunny", "swift", "tidy", "vast", "wise",
	}
	nameAnimals = []string{
		"ant", "bat", "bear", "bee", "bird", "cat", "colt", "crab", "crow", "deer",
		"doe", "dog", "dove", "duck", "eel", "elk", "finch", "fox", "frog", "goat",
		"hare", "hawk", "horse", "jay", "lark", "lion", "lynx", "mole", "moth", "mule",
		"newt", "owl", "panda", "roo", "seal", "shark", "snail", "swan", "toad", "wolf",
	}
)

// randomRunName returns a name like "swift-owl-417".
func randomRunName() string {
	return fmt.Sprintf("%s-%s-%d", nameAdjectives[rand.IntN(len(nameAdjectives))], nameAnimals[rand.IntN(len(nameAnimals))], rand.IntN(1000))
}
