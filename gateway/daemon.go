package gateway

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"golang.org/x/time/rate"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/firmware"
	"github.com/wardgate/wardgate/gateway/api"
	"github.com/wardgate/wardgate/gateway/config"
	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/ledger"
	"github.com/wardgate/wardgate/ledger/devchain"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records"
	"github.com/wardgate/wardgate/tunnel"
)

// Gateway is one running box. start builds all of it or none of it.
type Gateway struct {
	cfg     *config.Config
	log     *slog.Logger
	started time.Time
	bg      context.Context // lives until close
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	errc    chan error     // a server that stopped on its own
	servers []func() error // stop serving; closed before the goroutines are awaited
	closers []func() error // resources, closed in reverse order after that
	ready   atomic.Bool

	tpm        attest.TPM
	boot       []firmware.BootComponent
	quarantine string // why the box runs on ephemeral keys (sealed keys belong to another boot state)
	dataDir    string // state_dir, or state_dir/quarantine

	attester  *attest.Attester
	attMu     sync.Mutex // one attester command sequence at a time
	tpmLimit  *rate.Limiter
	ident     *attest.Identity
	verifier  *attest.Verifier
	manifests []*firmware.Manifest
	mfPaths   []string

	recordKey ed25519.PrivateKey
	wgKey     [32]byte
	chain     *ledger.Chain
	chainURL  string
	ledger    *ledger.Ledger
	reports   *reportStore
	dev       *tunnel.Device
	relay     *records.Relay
	peers     map[string]*peerState
	metrics   *api.Metrics

	selfMu   sync.Mutex
	self     control.SelfCheck
	selfComp []control.ComponentInfo
}

// start composes the daemon. On any error everything already opened is
// closed again: the box never half-starts.
func Start(ctx context.Context, cfg *config.Config, log *slog.Logger) (d *Gateway, err error) {
	log = log.With("box", cfg.Box)
	d = &Gateway{cfg: cfg, log: log, started: time.Now(), errc: make(chan error, 8), peers: map[string]*peerState{},
		tpmLimit: rate.NewLimiter(rate.Limit(50+10*len(cfg.Peers)), 100)}
	d.bg, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	built := d // the named result is nil by the time a failing return runs this
	defer func() {
		if err != nil {
			built.Close()
		}
	}()
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state_dir: %w", err)
	}
	step := func(what string, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}

	// 1. TPM, EK certificate (dev CA), measured boot.
	if err := step("tpm", d.openTPM(ctx, true)); err != nil {
		return nil, err
	}
	evlog, err := d.measuredBoot(ctx)
	if err := step("firmware", err); err != nil {
		return nil, err
	}

	// 2. Keys sealed to this boot state. If they were sealed to another
	// state (the firmware changed), run on ephemeral keys in quarantine:
	// the box still answers its peers, whose appraisal will refuse it.
	if err := step("keys", d.loadKeys(ctx)); err != nil {
		return nil, err
	}

	// 3. Attester and verifier.
	d.attester, err = attest.NewAttester(ctx, d.tpm, attest.AttesterConfig{StateDir: cfg.StateDir, EventLog: evlog, Logger: log})
	if err := step("attester", err); err != nil {
		return nil, err
	}
	d.closers = append(d.closers, d.attester.Close)
	if err := step("attestation", d.newVerifier()); err != nil {
		return nil, err
	}

	// 4. Ledger (and chain), report store.
	if err := step("chain", d.openChain(ctx)); err != nil {
		return nil, err
	}
	signer, err := proof.NewKeySigner(d.recordKey)
	if err != nil {
		return nil, err
	}
	lchain := d.chain
	if d.quarantine != "" {
		lchain = nil // never anchor under an ephemeral key
	}
	d.ledger, err = ledger.Open(ctx, ledger.Config{
		Box: cfg.Box, StateDir: d.dataDir, Signer: signer, Chain: lchain,
		CheckpointInterval: cfg.CheckpointInterval(), AnchorInterval: cfg.CheckpointInterval(), Logger: log,
		// Receipts answer each record at once: sign the checkpoint with
		// the commit rather than in a second fsync'd write.
		CheckpointEachCommit: true,
	})
	if err := step("ledger", err); err != nil {
		return nil, err
	}
	d.closers = append(d.closers, d.ledger.Close)
	d.reports, err = openReports(d.dataDir)
	if err := step("reports", err); err != nil {
		return nil, err
	}
	d.closers = append(d.closers, d.reports.close)

	// 5. Tunnel. Peers are admitted only from fresh verdicts of this run.
	d.dev, err = tunnel.New(ctx, tunnel.Config{
		Name: cfg.Box, Mode: cfg.Tunnel.Mode, Interface: cfg.Tunnel.Interface, ListenPort: cfg.Tunnel.ListenPort,
		Address: cfg.TunnelAddress(), MTU: cfg.Tunnel.MTU, StateDir: d.dataDir, Sealer: d.tpm, Logger: log,
		OnChange: d.onTunnelChange,
	})
	if err := step("tunnel", err); err != nil {
		return nil, err
	}
	d.closers = append(d.closers, d.dev.Close)
	d.wgKey = d.dev.PublicKey()
	for _, p := range cfg.Peers {
		d.peers[p.Name] = &peerState{cfg: p, client: newPeerClient(cfg.Box, p.Endpoint), kick: make(chan time.Time, 1)}
	}

	// 6. Listeners: all bound before anything is served, so a taken port
	// fails the start.
	var serve []func()
	add := func(name string, srv *http.Server, ln net.Listener, tlsOn bool) {
		// srv.Close closes only listeners being served; ln.Close covers a
		// start that fails before serving.
		d.servers = append(d.servers, srv.Close, ln.Close)
		serve = append(serve, func() {
			var err error
			if tlsOn {
				err = srv.ServeTLS(ln, "", "")
			} else {
				err = srv.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) && d.bg.Err() == nil {
				d.fail(fmt.Errorf("%s server: %w", name, err))
			}
		})
	}
	if err := step("records", d.startRelay(ctx, add)); err != nil {
		return nil, err
	}
	tc, err := selfSignedTLS(cfg.Box)
	if err != nil {
		return nil, err
	}
	aln, err := net.Listen("tcp", cfg.Attestation.Listen)
	if err := step("attestation.listen", err); err != nil {
		return nil, err
	}
	add("attestation", newAttestServer(d.attestHandler(), tc, log), aln, true)
	ctl, err := control.NewServer(control.ServerConfig{Path: cfg.Control.Socket, Group: cfg.Control.Group, Backend: d, Logger: log})
	if err := step("control", err); err != nil {
		aln.Close()
		return nil, err
	}
	d.servers = append(d.servers, ctl.Close, func() error {
		// http.Server.Close only closes listeners it is serving; after a
		// failed start the socket was never served, so unlink it here.
		if err := os.Remove(ctl.Path()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	d.metrics = api.NewMetrics(d, log)
	if d.relay != nil {
		d.metrics.Registry().MustRegister(relayCollector{d.relay})
	}
	addCtx := func(name string, serveCtx func(context.Context) error, ln net.Listener) {
		d.servers = append(d.servers, ln.Close)
		serve = append(serve, func() {
			if err := serveCtx(d.bg); err != nil && d.bg.Err() == nil {
				d.fail(fmt.Errorf("%s: %w", name, err))
			}
		})
	}
	if err := step("api/metrics", d.startAPI(addCtx)); err != nil {
		return nil, err
	}

	// 7. Self-check: appraise our own evidence, as a peer would.
	d.selfCheck(ctx)

	// 8. Serve, then contact the peers: say hello (so a peer that already
	// runs appraises us now rather than at its next interval) and appraise.
	for _, s := range serve {
		d.goDo(s)
	}
	d.goDo(func() {
		if err := ctl.Serve(d.bg); err != nil && d.bg.Err() == nil {
			d.fail(err)
		}
	})
	if d.ledger != nil && lchain != nil {
		d.goDo(func() { d.watchAnchoring(d.bg) })
	}
	for _, p := range d.peers {
		d.goDo(func() { d.peerLoop(d.bg, p) })
		d.goDo(func() {
			ctx, cancel := context.WithTimeout(d.bg, protoTimeout)
			defer cancel()
			if err := p.client.hello(ctx); err != nil {
				log.Debug("hello not delivered (peer not up yet?)", "peer", p.cfg.Name, "err", err)
			}
		})
	}
	// The log line comes first so that whoever sees status ready also finds it.
	defer d.ready.Store(true)
	log.Info("ready", "tpm", d.tpm.Kind(), "ek", d.attester.EKFingerprint(), "attestation", aln.Addr().String(),
		"tunnel", cfg.TunnelAddress(), "listen_port", d.dev.ListenPort(), "control", cfg.Control.Socket,
		"peers", len(d.peers), "quarantine", d.quarantine != "")
	return d, nil
}

// fail reports a server that stopped on its own; wait returns the first.
func (d *Gateway) fail(err error) {
	select {
	case d.errc <- err:
	default:
	}
}

func (d *Gateway) goDo(f func()) {
	d.wg.Add(1)
	go func() { defer d.wg.Done(); f() }()
}

// Wait blocks until ctx is done (SIGTERM) or a server fails.
func (d *Gateway) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		d.log.Info("shutting down", "cause", context.Cause(ctx))
		return nil
	case err := <-d.errc:
		return err
	}
}

// Close stops everything in reverse order of opening. Safe on a partly
// started daemon.
func (d *Gateway) Close() {
	d.ready.Store(false)
	d.cancel()
	for _, c := range d.servers {
		c()
	}
	d.wg.Wait() // peer loops, servers and journal writes have returned
	for i := len(d.closers) - 1; i >= 0; i-- {
		if err := d.closers[i](); err != nil {
			d.log.Warn("closing", "err", err)
		}
	}
}

// openTPM opens the configured TPM; boot power-cycles a swtpm first (a
// daemon start is a boot; --identity must not disturb a running box).
func (d *Gateway) openTPM(ctx context.Context, boot bool) error {
	c := d.cfg
	var err error
	switch c.TPM.Source {
	case config.TPMSimulator:
		d.tpm, err = attest.OpenSimulator(c.StateDir)
	case config.TPMSwtpm:
		if boot {
			if err := swtpmReboot(ctx, c.TPM.Address, c.TPM.CtrlAddress); err != nil {
				return err
			}
		}
		d.tpm, err = attest.OpenSWTPM(ctx, c.TPM.Address)
	case config.TPMDevice:
		d.tpm, err = attest.OpenDevice(c.TPM.Path)
	}
	if err != nil {
		return err
	}
	d.closers = append(d.closers, d.tpm.Close)
	if c.TPM.Source == config.TPMDevice {
		return nil
	}
	// Simulated TPMs get their EK certificate from the development CA.
	ca, err := openDevCA(c.TPM.DevCA)
	if err != nil {
		return fmt.Errorf("tpm.dev_ca: %w", err)
	}
	return ca.ProvisionEK(ctx, d.tpm)
}

// openDevCA opens (or, the first time, creates) the dev CA under a lock,
// so boxes started together do not race to create two CAs.
func openDevCA(dir string) (*attest.DevCA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	return attest.NewDevCA(dir)
}

// bootComponents is the simulated firmware image, then the running
// wardgated binary, last.
func bootComponents(cfg *config.Config) ([]firmware.BootComponent, error) {
	var comps []firmware.BootComponent
	for i, c := range cfg.Firmware.Image {
		if c.File != "" {
			bc, err := firmware.MeasureFile(c.Name, c.Version, c.PCR, c.File)
			if err != nil {
				return nil, fmt.Errorf("firmware.image[%d]: %w", i, err)
			}
			comps = append(comps, bc)
			continue
		}
		dg, err := hexDigest(c.SHA256)
		if err != nil {
			return nil, fmt.Errorf("firmware.image[%d].sha256: %w", i, err)
		}
		comps = append(comps, firmware.BootComponent{Name: c.Name, Version: c.Version, PCR: c.PCR, Digest: dg})
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the wardgated binary to measure: %w", err)
	}
	self, err := firmware.MeasureFile(firmware.DaemonComponent, version, daemonPCR, exe)
	if err != nil {
		return nil, err
	}
	return append(comps, self), nil
}

// daemonPCR is where the wardgated binary is measured (as IMA-style
// application measurements go to a PCR of their own).
const daemonPCR = 8

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

// measuredBoot plays the simulated boot into the TPM (or reads a real
// box's event log) and returns the event log.
func (d *Gateway) measuredBoot(ctx context.Context) ([]byte, error) {
	if d.cfg.TPM.Source == config.TPMDevice {
		return firmware.ReadEventLog(d.cfg.Firmware.EventLog)
	}
	comps, err := bootComponents(d.cfg)
	if err != nil {
		return nil, err
	}
	d.boot = comps
	return firmware.Boot(ctx, d.tpm, comps)
}

func (d *Gateway) newVerifier() error {
	c := d.cfg
	roots, err := attest.LoadRoots(c.Attestation.ManufacturerRoots)
	if err != nil {
		return fmt.Errorf("attestation.manufacturer_roots: %w", err)
	}
	var vks []ed25519.PublicKey
	for i, p := range c.Attestation.VendorKeys {
		k, err := readEd25519Public(p)
		if err != nil {
			return fmt.Errorf("attestation.vendor_keys[%d]: %w", i, err)
		}
		vks = append(vks, k)
	}
	for i, m := range c.Attestation.Manifests {
		mf, err := firmware.LoadManifest(m.Path, m.Signature, vks)
		if err != nil {
			return fmt.Errorf("attestation.manifests[%d]: %w", i, err)
		}
		d.manifests = append(d.manifests, mf)
		d.mfPaths = append(d.mfPaths, m.Path)
	}
	pol, err := loadPolicy(c.Attestation.Policy)
	if err != nil {
		return fmt.Errorf("attestation.policy: %w", err)
	}
	enr := c.EnrollmentMap()
	enr[c.Box] = d.attesterEK() // the self-check appraises this box like a peer
	d.verifier, err = attest.NewVerifier(attest.VerifierConfig{
		Name: c.Box, Roots: roots, Enrollment: enr, Manifests: d.manifests, Policy: pol,
		ReportKey: d.recordKey, VerdictLifetime: c.VerdictLifetime(), NonceTTL: c.NonceTTL(), Logger: d.log,
	})
	return err
}

func (d *Gateway) attesterEK() string { return d.attester.EKFingerprint() }

// openChain connects the chain per chain.mode. A box with
// chain.embedded.serve runs the dev chain; the others wait for it and join.
func (d *Gateway) openChain(ctx context.Context) error {
	c := d.cfg
	if c.Chain.Mode == config.ChainNone || (d.quarantine != "" && !(c.Chain.Mode == config.ChainEmbedded && c.Chain.Embedded.Serve)) {
		// A quarantined box keeps a journal-only log of its ephemeral key
		// (but still serves the dev chain if the others depend on it).
		return nil
	}
	switch c.Chain.Mode {
	case config.ChainEmbedded:
		e := c.Chain.Embedded
		pass, err := readSecret(e.PassphraseFile)
		if err != nil {
			return fmt.Errorf("chain.embedded.passphrase_file: %w", err)
		}
		addr := net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
		d.chainURL = "http://" + addr
		if !e.Serve {
			if err := waitTCP(ctx, addr, c.EmbeddedWait()); err != nil {
				return fmt.Errorf("chain.embedded: no box serves the dev chain on %s (set serve: true on exactly one box, and start it): %w", addr, err)
			}
		}
		d.chain, err = devchain.Start(ctx, devchain.Config{
			StateDir: c.StateDir, Port: e.Port, Host: e.Host, Period: c.ChainPeriod(),
			Passphrase: pass, Confirmations: e.Confirmations, Logger: d.log,
		})
		if err != nil {
			return err
		}
	case config.ChainRPC:
		r := c.Chain.RPC
		pass, err := readSecret(r.PassphraseFile)
		if err != nil {
			return fmt.Errorf("chain.rpc.passphrase_file: %w", err)
		}
		d.chainURL = r.URL
		d.chain, err = ledger.DialRPC(ctx, ledger.RPCConfig{
			URL: r.URL, ChainID: r.ChainID, Contract: common.HexToAddress(r.Contract),
			KeystoreFile: r.Keystore, Passphrase: pass, Confirmations: r.Confirmations,
		})
		if err != nil {
			return err
		}
	}
	d.closers = append(d.closers, d.chain.Close)
	return nil
}

// startRelay builds the record relay and binds its LAN, MLLP and tunnel
// listeners.
func (d *Gateway) startRelay(ctx context.Context, add func(string, *http.Server, net.Listener, bool)) error {
	c := d.cfg
	if d.quarantine != "" {
		// Records would be signed by a throw-away key into a log that is
		// never anchored: relay nothing until the approved state is back.
		d.log.Warn("quarantine: the record relay is off (no LAN intake, no peer delivery)")
		return nil
	}
	signer, err := proof.NewKeySigner(d.recordKey)
	if err != nil {
		return err
	}
	peerAddr := map[string]netip.AddrPort{}
	for _, p := range c.Peers {
		// A peer's relay listens on the first allowed IP (its tunnel address).
		if ips := c.PeerAllowedIPs(p.Name); len(ips) > 0 {
			peerAddr[p.Name] = netip.AddrPortFrom(ips[0].Addr(), uint16(c.Records.PeerPort))
		}
	}
	d.relay, err = records.New(records.Config{
		Box: c.Box, Ledger: d.ledger, RecordKey: signer, Verdicts: d,
		Dial: func(ctx context.Context, peer string) (net.Conn, error) {
			ap, ok := peerAddr[peer]
			if !ok {
				return nil, fmt.Errorf("unknown peer %q", peer)
			}
			return d.dev.DialContext(ctx, "tcp", ap.String())
		},
		Deliver:    records.Delivery{HTTPURL: c.Records.DeliverURL, MLLPAddr: c.Records.DeliverMLLP, FHIRBatch: c.Records.DeliverFHIRBatch},
		MLLPRoutes: c.Records.MLLPRoutes, MLLPPeer: c.Records.MLLPPeer,
		MaxBody: c.Records.MaxBody, Logger: d.log,
	})
	if err != nil {
		return err
	}
	d.closers = append(d.closers, func() error { d.relay.Close(); return nil })
	httpSrv := func(h http.Handler) *http.Server {
		return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
			ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelDebug)}
	}
	pln, err := d.dev.Listen("tcp", netip.AddrPortFrom(c.TunnelAddress().Addr(), uint16(c.Records.PeerPort)).String())
	if err != nil {
		return fmt.Errorf("records.peer_port %d on the tunnel address: %w", c.Records.PeerPort, err)
	}
	add("records-peer", httpSrv(d.relay.PeerHandler()), pln, false)
	if c.Records.LANListen != "" {
		srv := httpSrv(d.relay.LANHandler())
		if c.Records.TLSCert != "" {
			// Hospital systems authenticate with client certificates.
			tc, err := api.TLSConfig(c.Records.TLSCert, c.Records.TLSKey, c.Records.ClientCA)
			if err != nil {
				return fmt.Errorf("records.tls_cert/tls_key/client_ca: %w", err)
			}
			srv.TLSConfig = tc
		}
		ln, err := net.Listen("tcp", c.Records.LANListen)
		if err != nil {
			return fmt.Errorf("records.lan_listen: %w", err)
		}
		add("records-lan", srv, ln, srv.TLSConfig != nil)
	}
	if c.Records.MLLPListen != "" {
		ln, err := net.Listen("tcp", c.Records.MLLPListen)
		if err != nil {
			return fmt.Errorf("records.mllp_listen: %w", err)
		}
		d.servers = append(d.servers, ln.Close)
		d.goDo(func() {
			if err := d.relay.ServeMLLP(d.bg, ln); err != nil && d.bg.Err() == nil {
				d.fail(fmt.Errorf("mllp: %w", err))
			}
		})
	}
	return nil
}

// selfCheck appraises this box's own evidence with its own verifier.
func (d *Gateway) selfCheck(ctx context.Context) {
	sc := control.SelfCheck{Time: time.Now()}
	err := func() error {
		id, err := d.identity(ctx)
		if err != nil {
			return err
		}
		ch, err := d.verifier.Challenge(ctx, d.cfg.Box, id)
		if err != nil {
			return err
		}
		d.attMu.Lock()
		resp, err := d.attester.ActivateCredential(ctx, ch)
		d.attMu.Unlock()
		if err != nil {
			return err
		}
		if err := d.verifier.Activate(ctx, d.cfg.Box, resp); err != nil {
			return err
		}
		nonce, err := d.verifier.Nonce(d.cfg.Box)
		if err != nil {
			return err
		}
		d.attMu.Lock()
		ev, err := d.attester.Evidence(ctx, nonce, d.wgKey, d.recordKey.Public().(ed25519.PublicKey))
		d.attMu.Unlock()
		if err != nil {
			return err
		}
		v, rep, err := d.verifier.Appraise(ctx, d.cfg.Box, ev, d.wgKey, d.recordKey.Public().(ed25519.PublicKey))
		if err != nil {
			return err
		}
		if err := d.recordReport(ctx, rep); err != nil {
			return err
		}
		sc.Pass = v.Passed()
		sc.Reasons = controlReasons(v.Reasons())
		var comps []control.ComponentInfo
		for _, c := range rep.Components {
			comps = append(comps, control.ComponentInfo{Name: c.Name, Version: c.Version, PCR: c.PCR, Digest: c.Digest, Matched: c.Matched, Manifest: c.Manifest})
		}
		d.selfMu.Lock()
		d.selfComp = comps
		d.selfMu.Unlock()
		return nil
	}()
	if err != nil {
		sc.Pass = false
		sc.Reasons = append(sc.Reasons, control.Reason{Code: "self-check-error", Message: err.Error()})
	}
	if d.quarantine != "" {
		sc.Pass = false
		sc.Reasons = append(sc.Reasons, control.Reason{Code: "keys-sealed-to-other-state", Message: d.quarantine})
	}
	d.selfMu.Lock()
	d.self = sc
	d.selfMu.Unlock()
	if sc.Pass {
		d.log.Info("self-check passed")
	} else {
		d.log.Warn("self-check failed: peers will refuse this box", "reasons", sc.Reasons)
	}
}

// watchAnchoring counts anchoring failures for metrics: each time the
// ledger reports a new chain error (the ledger retries by itself).
func (d *Gateway) watchAnchoring(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e := d.ledger.Status(ctx).ChainError
		if e != "" && e != last {
			d.metrics.AnchorError()
			d.log.Warn("anchoring failed; the ledger keeps journaling and retries", "err", e)
		}
		last = e
	}
}

// waitTCP waits until addr accepts connections.
func waitTCP(ctx context.Context, addr string, max time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, max)
	defer cancel()
	for {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waited %s: %w", max, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
