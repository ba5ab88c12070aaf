// Package relay is the NAT relay: boxes behind a hospital's NAT, which
// allows only outbound connections, each keep one TLS connection to a
// wardgate-relay and reach their peers through it.
//
// (Not to be confused with the record exchange engine in records/, which
// was once called tunnel/relay.)
//
// The relay forwards two kinds of traffic by destination box, and can read
// neither: WireGuard packets (encrypted and authenticated end to end by
// WireGuard) and the box-to-box attestation streams (TLS end to end between
// the boxes, and whose content is itself signed by each box's TPM). It
// keeps no state on disk beyond its config and certificate.
//
// A box authenticates to the relay with a client certificate issued at
// enrollment by the consortium's relay CA, whose common name is the box's
// name; the relay forwards only between the boxes of its allow list. The
// relay is never trusted for anything but delivery: see docs/design.md,
// "The NAT relay is never trusted".
//
// Wire format: frame.go. Server: server.go. Box side: client.go (the
// connection, packets and streams).
package relay
