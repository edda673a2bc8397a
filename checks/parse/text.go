package parse

// maxText bounds a piece of host text quoted in an error or a report: a hostile file may hold
// a megabyte on one line.
const maxText = 160
