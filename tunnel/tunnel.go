package tunnel

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/vishvananda/netns"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/netstack"

	"github.com/wardgate/wardgate/relay"
)

// Mode is how a Device reaches the network. It is a string type so that
// the config's tunnel.mode reads and writes unchanged in YAML and JSON;
// the tunnel is its home because only the tunnel acts on it.
type Mode string

// Modes of a Device.
const (
	ModeTUN       Mode = "tun"       // kernel TUN configured with netlink; needs root
	ModeUserspace Mode = "userspace" // gVisor netstack; no root
)

// Modes lists the valid modes, in the order error messages give them.
func Modes() []Mode { return []Mode{ModeTUN, ModeUserspace} }

// DefaultInterface is the TUN name used when Config.Interface is empty.
const DefaultInterface = "wg-wardgate"

// DefaultMTU leaves room for the WireGuard header on a 1500-byte path.
const DefaultMTU = 1420

// Config configures a Device.
type Config struct {
	Name       string // this box's name, for logs
	Mode       Mode   // ModeTUN or ModeUserspace
	Interface  string // TUN name (tun mode); default DefaultInterface
	ListenPort int    // UDP port; 0 picks a free one (see Device.ListenPort)
	Address    netip.Prefix
	MTU        int    // default DefaultMTU
	StateDir   string // holds SealedKeyFile
	Sealer     Sealer
	Logger     *slog.Logger
	// OnChange is called after every admission, revocation and expiry, and
	// after a refused first admission. It must not call back into the Device
	// synchronously for long.
	OnChange func(PeerStatus)
	// Keepalive is WireGuard's persistent keepalive for every peer, for boxes
	// behind NAT (25s is the usual value). Zero, WireGuard's default, sends
	// none; either way the handshake starts at admission.
	Keepalive time.Duration
	// Netns is the network namespace (a path such as /var/run/netns/NAME)
	// that the TUN and the UDP socket live in (tun mode only). Empty means
	// the namespace of the calling thread.
	Netns string
	// Relay, if set, carries the packets of peers whose endpoint is a
	// relay stand-in address (relaybind.go).
	Relay *relay.Client
}

// Device is one wireguard-go device whose peers are admitted only from
// passing attestation verdicts.
type Device struct {
	cfg  Config
	log  *slog.Logger
	wg   *device.Device
	bind conn.Bind // wireguard-go's, with the relay path when Config.Relay is set
	tdev tun.Device
	tnet *netstack.Net // userspace mode
	ns   netns.NsHandle
	link *kernelLink // tun mode
	pub  [32]byte
	port int

	mu     sync.Mutex
	peers  map[string]*peer
	closed bool
}

func (c *Config) validate() error {
	switch c.Mode {
	case ModeTUN, ModeUserspace:
	case "":
		return errors.New(`tunnel: Config.Mode is empty; set "tun" (kernel TUN, root) or "userspace" (netstack)`)
	default:
		return fmt.Errorf(`tunnel: Config.Mode %q is unknown; use "tun" or "userspace"`, c.Mode)
	}
	if c.Interface == "" {
		c.Interface = DefaultInterface
	}
	if len(c.Interface) > 15 {
		return fmt.Errorf("tunnel: Config.Interface %q is longer than 15 bytes (the kernel's IFNAMSIZ)", c.Interface)
	}
	if c.ListenPort < 0 || c.ListenPort > 65535 {
		return fmt.Errorf("tunnel: Config.ListenPort %d is out of range 0-65535", c.ListenPort)
	}
	if !c.Address.IsValid() {
		return errors.New("tunnel: Config.Address is not set; give this box's tunnel address as a prefix, e.g. 10.77.0.1/24")
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.MTU < 1280 || c.MTU > 9000 {
		return fmt.Errorf("tunnel: Config.MTU %d is out of range 1280-9000", c.MTU)
	}
	if c.Keepalive != 0 && (c.Keepalive < time.Second || c.Keepalive > 65535*time.Second) {
		return fmt.Errorf("tunnel: Config.Keepalive %s is out of range 1s-65535s (0 disables)", c.Keepalive)
	}
	if c.StateDir == "" {
		return errors.New("tunnel: Config.StateDir is empty; the sealed WireGuard key is kept there")
	}
	if c.Sealer == nil {
		return errors.New("tunnel: Config.Sealer is nil; pass the box's TPM (attest.TPM) so the WireGuard key is sealed to it")
	}
	if c.Netns != "" && c.Mode != ModeTUN {
		return errors.New("tunnel: Config.Netns is only supported in tun mode")
	}
	return nil
}

// New loads (or creates and seals) the WireGuard key, creates the device and
// brings it up with no peers.
func New(ctx context.Context, cfg Config) (*Device, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "tunnel", "box", cfg.Name, "mode", cfg.Mode)
	priv, pub, err := deviceKey(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	d, err := newDevice(cfg, log, pub)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	bind, err := d.createTUN()
	if err != nil {
		return nil, err
	}
	d.bind = bind
	d.wg = device.NewDevice(d.tdev, bind, wgLogger(log))
	if err := d.up(priv); err != nil {
		return nil, err
	}
	if cfg.Mode == ModeTUN {
		if err := d.openLink(); err != nil {
			return nil, err
		}
	}
	ok = true
	log.Info("tunnel device up", "address", cfg.Address, "listen_port", d.port, "interface", cfg.Interface)
	return d, nil
}

// deviceKey loads the sealed WireGuard key, or creates and seals one.
func deviceKey(ctx context.Context, cfg Config, log *slog.Logger) (priv, pub [32]byte, err error) {
	priv, created, err := loadOrCreateKey(ctx, cfg.Sealer, cfg.StateDir)
	if err != nil {
		return priv, pub, err
	}
	if pub, err = publicKey(priv); err != nil {
		return priv, pub, err
	}
	if created {
		log.Info("generated and sealed a new WireGuard key", "public_key", hex.EncodeToString(pub[:]))
	}
	return priv, pub, nil
}

// newDevice is a Device with no WireGuard device yet, holding the network
// namespace it will live in.
func newDevice(cfg Config, log *slog.Logger, pub [32]byte) (*Device, error) {
	// netns.None, not the zero value: fd 0 would look like an open handle.
	d := &Device{cfg: cfg, log: log, pub: pub, peers: map[string]*peer{}, ns: netns.None()}
	if cfg.Netns != "" {
		var err error
		if d.ns, err = netns.GetFromPath(cfg.Netns); err != nil {
			return nil, fmt.Errorf("tunnel: Config.Netns %q: %w", cfg.Netns, err)
		}
	} else if cfg.Mode == ModeTUN {
		d.ns = callerNetns()
	}
	return d, nil
}

// createTUN creates the netstack or kernel TUN and returns the UDP bind to
// go with it.
func (d *Device) createTUN() (conn.Bind, error) {
	bind := conn.NewDefaultBind()
	var err error
	switch d.cfg.Mode {
	case ModeUserspace:
		d.tdev, d.tnet, err = netstack.CreateNetTUN([]netip.Addr{d.cfg.Address.Addr()}, nil, d.cfg.MTU)
		if err != nil {
			return nil, fmt.Errorf("tunnel: netstack: %w", err)
		}
	case ModeTUN:
		err = inNetns(d.ns, func() error {
			var err error
			d.tdev, err = tun.CreateTUN(d.cfg.Interface, d.cfg.MTU)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("tunnel: create TUN %s (needs root, and the name must not be in use by another process): %w", d.cfg.Interface, err)
		}
		if d.ns.IsOpen() {
			bind = &netnsBind{Bind: bind, ns: d.ns}
			d.tdev = &netnsTUN{Device: d.tdev, ns: d.ns}
		}
	}
	return wrapRelay(bind, d.cfg.Relay), nil
}

// up gives the WireGuard device its key and port and brings it up.
func (d *Device) up(priv [32]byte) error {
	uapi := "private_key=" + hex.EncodeToString(priv[:]) + "\nlisten_port=" + strconv.Itoa(d.cfg.ListenPort) + "\nreplace_peers=true\n"
	if err := d.wg.IpcSet(uapi); err != nil {
		return fmt.Errorf("tunnel: configure device (listen port %d): %w", d.cfg.ListenPort, err)
	}
	// Bring the device up before the link: the TUN's up event then finds it
	// already up and does not rebind.
	if err := d.wg.Up(); err != nil {
		return fmt.Errorf("tunnel: bring device up (listen port %d in use?): %w", d.cfg.ListenPort, err)
	}
	if st, err := d.ipcState(); err == nil {
		d.port = st.listenPort
	}
	return nil
}

// openLink gives the kernel TUN its address, MTU and link state.
func (d *Device) openLink() error {
	name, err := d.tdev.Name()
	if err != nil {
		return fmt.Errorf("tunnel: TUN name: %w", err)
	}
	d.link, err = openKernelLink(d.ns, name, d.cfg.Address, d.cfg.MTU)
	return err
}

// netnsBind opens the UDP sockets inside the device's network namespace,
// whichever goroutine (for example the TUN up/down event reader) asks.
type netnsBind struct {
	conn.Bind
	ns netns.NsHandle
}

func (b *netnsBind) Open(port uint16) (fns []conn.ReceiveFunc, actual uint16, err error) {
	err = inNetns(b.ns, func() error {
		var err error
		fns, actual, err = b.Bind.Open(port)
		return err
	})
	return fns, actual, err
}

// netnsTUN asks the TUN's MTU inside its namespace: wireguard-go looks the
// interface up by name, from whichever thread handles the link event.
type netnsTUN struct {
	tun.Device
	ns netns.NsHandle
}

func (t *netnsTUN) MTU() (mtu int, err error) {
	err = inNetns(t.ns, func() error {
		var err error
		mtu, err = t.Device.MTU()
		return err
	})
	return mtu, err
}

// wgLogger routes wireguard-go's logs to slog. Verbose logging is dropped
// before formatting unless debug is on: it sits on wireguard-go's hot paths.
func wgLogger(log *slog.Logger) *device.Logger {
	l := &device.Logger{
		Verbosef: device.DiscardLogf,
		Errorf:   func(format string, args ...any) { log.Warn(fmt.Sprintf(format, args...)) },
	}
	if log.Enabled(context.Background(), slog.LevelDebug) {
		l.Verbosef = func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...)) }
	}
	return l
}

// PublicKey is this box's WireGuard public key (bound into its evidence).
func (d *Device) PublicKey() [32]byte { return d.pub }

// ListenPort is the UDP port the device listens on.
func (d *Device) ListenPort() int { return d.port }

// Interface is the kernel interface name (tun mode) or "" (userspace).
func (d *Device) Interface() string {
	if d.link == nil {
		return ""
	}
	return d.link.name
}

func (d *Device) ipcState() (*wgState, error) {
	s, err := d.wg.IpcGet()
	if err != nil {
		return nil, fmt.Errorf("tunnel: uapi get: %w", err)
	}
	return parseIpcGet(s)
}

// DialContext dials through the tunnel: over netstack in userspace mode, or a
// kernel socket in the device's namespace in tun mode.
func (d *Device) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if ctx == nil {
		return nil, errors.New("tunnel: DialContext: nil context")
	}
	if d.tnet != nil {
		return d.tnet.DialContext(ctx, network, addr)
	}
	var c net.Conn
	err := inNetns(d.ns, func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen listens on this box's tunnel address. An empty host in addr means
// the tunnel address. Only TCP is supported.
func (d *Device) Listen(network, addr string) (net.Listener, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("tunnel: Listen: network %q not supported; use tcp", network)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("tunnel: Listen %q: %w", addr, err)
	}
	ip := d.cfg.Address.Addr()
	if host != "" {
		if ip, err = netip.ParseAddr(host); err != nil {
			return nil, fmt.Errorf("tunnel: Listen %q: host must be an IP address: %w", addr, err)
		}
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("tunnel: Listen %q: port: %w", addr, err)
	}
	ap := netip.AddrPortFrom(ip, uint16(pn))
	if d.tnet != nil {
		return d.tnet.ListenTCPAddrPort(ap)
	}
	var ln net.Listener
	err = inNetns(d.ns, func() error {
		var err error
		ln, err = net.Listen(network, ap.String())
		return err
	})
	return ln, err
}

// Close removes every peer, the routes and address netlink installed, and
// the device itself.
func (d *Device) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	var routes []netip.Prefix
	for _, p := range d.peers {
		if p.timer != nil {
			p.timer.Stop()
		}
		if p.state == StateAdmitted {
			routes = append(routes, p.cfg.AllowedIPs...)
		}
	}
	d.mu.Unlock()

	var err error
	if d.link != nil {
		err = d.link.teardown(routes)
		d.link.close()
	}
	if d.wg != nil {
		d.wg.Close() // closes the TUN too
	} else if d.tdev != nil {
		err = errors.Join(err, d.tdev.Close())
	}
	if d.ns.IsOpen() {
		d.ns.Close()
	}
	d.log.Info("tunnel device closed")
	return err
}
