// Package finding is the vocabulary every layer shares: the status of a check, its result
// (summary, details, evidence), and the fix intents a result asks for. Probes (package
// checks) and the live proof (runtime/proof) produce findings, the planner (package fixes)
// turns their intents into a plan, and the renderers (package report) print them. It imports
// nothing of this module: it is data and the small helpers that build it, so that none of
// those layers needs another to speak of a result (docs/architecture.md).
package finding
