// Package tunnel runs the wireguard-go device (kernel TUN configured with
// netlink, or a userspace netstack) and admits peers only from passing
// attestation verdicts.
package tunnel
