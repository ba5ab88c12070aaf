// Package tunnel runs the wireguard-go device (kernel TUN configured with
// netlink, or a userspace netstack) and admits peers only from passing
// attestation verdicts.
//
// A Device starts with no peers. Its WireGuard private key is created on
// first start and kept only sealed to the box's TPM (StateDir/wg.key.sealed),
// so a copied state directory or a box with changed boot measurements cannot
// use it. Admit installs a peer (its enrolled allowed IPs, and in tun mode a
// kernel route per allowed IP) only from an *attest.Verdict that passed, has
// not expired, names the peer and binds the peer's WireGuard key. The peer is
// removed again when that verdict expires without renewal, on Revoke, or when
// a failing verdict for it arrives. Status reports every peer the device has
// seen, with wireguard-go's handshake and byte counters.
//
// In userspace mode DialContext and Listen reach into the tunnel through
// gVisor's netstack, without root. In tun mode they are kernel sockets in the
// device's network namespace (Config.Netns, or the namespace of the thread
// that called New).
package tunnel
