// Command hello is the floor of bench/startup.sh: a static Go program that only prints, built
// the way `make build` builds rootless-doctor, so the difference between the two is what
// rootless-doctor's own start-up costs.
package main

import "os"

func main() { _, _ = os.Stdout.WriteString("hello\n") }
