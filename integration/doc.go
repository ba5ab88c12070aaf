// Package integration runs multi-hospital tests and benchmark drivers: each
// hospital is its own wardgated process with its own simulated TPM.
package integration
