package churn

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// rng is a seeded source of the few distributions the package draws from.
// Every draw is derived here from the PCG's 64-bit outputs, whose sequence is
// specified, so a seed gives the same customers and splits on every platform
// and Go release (math/rand/v2 does not promise that of its own helpers).
type rng struct{ src *rand.PCG }

// newRNG returns a generator for seed; stream separates independent uses of
// the same seed (generation, splitting).
func newRNG(seed, stream uint64) rng {
	return rng{src: rand.NewPCG(seed, stream^0x9e3779b97f4a7c15)}
}

// float returns a uniform value in [0, 1).
func (r rng) float() float64 { return float64(r.src.Uint64()>>11) * 0x1p-53 }

// intn returns a value in [0, n), n > 0, by Lemire's multiply-shift with
// rejection (unbiased).
func (r rng) intn(n int) int {
	un := uint64(n)
	for {
		hi, lo := bits.Mul64(r.src.Uint64(), un)
		if lo >= un || lo >= -un%un {
			return int(hi)
		}
	}
}

// bernoulli returns true with probability p.
func (r rng) bernoulli(p float64) bool { return r.float() < p }

// normal returns a standard normal value (Box-Muller).
func (r rng) normal() float64 {
	u1 := 1 - r.float() // (0, 1]
	u2 := r.float()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// exponential returns an exponential value of mean 1.
func (r rng) exponential() float64 { return -math.Log(1 - r.float()) }

// choice returns values[i] with probability weights[i] (weights sum to 1).
func (r rng) choice(values []string, weights []float64) string {
	u := r.float()
	for i, w := range weights {
		if u < w {
			return values[i]
		}
		u -= w
	}
	return values[len(values)-1]
}

// shuffle permutes x uniformly (Fisher-Yates).
func (r rng) shuffle(x []int) {
	for i := len(x) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		x[i], x[j] = x[j], x[i]
	}
}
