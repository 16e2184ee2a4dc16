package churn

import (
	"fmt"
	"math"
	"slices"
)

// StratifiedSplit splits d into a training and a validation set, stratified
// on the label: each class is shuffled (seeded by seed) and round(validFrac ×
// class size) of its customers go to the validation set, so both sets keep
// d's churn rate to within one row per class. The same (d, validFrac, seed)
// always gives the same split. Each set keeps d's row order, and shares no
// memory with d.
//
// validFrac must be in [0, 1]: StratifiedSplit panics otherwise.
func StratifiedSplit(d *Dataset, validFrac float64, seed uint64) (train, valid *Dataset) {
	if !(validFrac >= 0 && validFrac <= 1) {
		panic(fmt.Sprintf("churn: StratifiedSplit: validFrac %v is not in [0, 1]", validFrac))
	}
	var pos, neg []int
	for i := range d.Customers {
		if d.Customers[i].Churn {
			pos = append(pos, i)
		} else {
			neg = append(neg, i)
		}
	}
	r := newRNG(seed, 2)
	var validIdx []int
	for _, class := range [][]int{neg, pos} {
		r.shuffle(class)
		k := int(math.Round(validFrac * float64(len(class))))
		validIdx = append(validIdx, class[:k]...)
	}
	slices.Sort(validIdx)
	trainIdx := make([]int, 0, len(d.Customers)-len(validIdx))
	j := 0
	for i := range d.Customers {
		if j < len(validIdx) && validIdx[j] == i {
			j++
			continue
		}
		trainIdx = append(trainIdx, i)
	}
	train, valid = d.Subset(trainIdx), d.Subset(validIdx)
	train.Name = d.Name + " (train)"
	valid.Name = d.Name + " (valid)"
	return train, valid
}
