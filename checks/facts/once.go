package facts

import "sync"

// once holds one fact of a run: computed by the first caller of get, at most once, and
// shared by every later caller (who waits while it is being computed).
type once[T any] struct {
	once sync.Once
	v    T
}

func (o *once[T]) get(compute func() T) T {
	o.once.Do(func() { o.v = compute() })
	return o.v
}
