package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
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
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardgate/wardgate/attest"
	"github.com/wardgate/wardgate/attest/peerproto"
	"github.com/wardgate/wardgate/records/consent"

	// devtpm links the cgo TPM simulator. The daemon may use it (tpm.source
	// simulator or swtpm); the wardgate CLI must not, and does not import
	// gateway.
	"github.com/wardgate/wardgate/attest/devtpm"
	"github.com/wardgate/wardgate/firmware"
	"github.com/wardgate/wardgate/gateway/api"
	"github.com/wardgate/wardgate/gateway/config"
	"github.com/wardgate/wardgate/gateway/control"
	"github.com/wardgate/wardgate/internal/netlimit"
	"github.com/wardgate/wardgate/internal/tick"
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
	scale     scaleState // batched quotes and runtime integrity (scale.go)
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
	consent   *consent.Gate // the relay's consent gate, for the privacy officer's verbs
	peers     map[string]*peerState
	metrics   *api.Metrics
	audit     *auditLog            // the audit trail (audit.go)
	syncHist  prometheus.Histogram // wardgate_journal_sync_seconds, fed by the ledger

	selfMu   sync.Mutex
	self     control.SelfCheck
	selfComp []control.ComponentInfo

	relayPaths *relayPaths // the NAT relay client and each peer's path (relay.go)

	witness *gatewayWitness // C2SP witnessing (witness.go); nil when witness.off
}

// Start composes the box, step by step. On any error everything already
// opened is closed again: the box never half-starts.
func Start(ctx context.Context, cfg *config.Config, log *slog.Logger) (d *Gateway, err error) {
	d = newGateway(ctx, cfg, log)
	built := d // the named result is nil by the time a failing return runs this
	defer func() {
		if err != nil {
			built.Close()
		}
	}()
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state_dir: %w", err)
	}
	if err := d.openAudit(); err != nil {
		return nil, err
	}
	// 1. TPM, EK certificate (dev CA), measured boot.
	evlog, err := d.bootTPM(ctx)
	if err != nil {
		return nil, err
	}
	// 2. Keys sealed to this boot state. If they were sealed to another
	// state (the firmware changed), run on ephemeral keys in quarantine:
	// the box still answers its peers, whose appraisal will refuse it.
	if err := d.loadKeys(ctx); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	d.auditQuarantine()
	// 3. Attester and verifier.
	if err := d.startAttestation(ctx, evlog); err != nil {
		return nil, err
	}
	// 4. Ledger (and chain), report store.
	if err := d.openLedger(ctx); err != nil {
		return nil, err
	}
	// 5. Tunnel. Peers are admitted only from fresh verdicts of this run.
	if err := d.openTunnel(ctx); err != nil {
		return nil, fmt.Errorf("tunnel: %w", err)
	}
	// 6. Listeners: all bound before anything is served, so a taken port
	// fails the start.
	l, err := d.bind(ctx)
	if err != nil {
		return nil, err
	}
	// 7. Self-check: appraise our own evidence, as a peer would.
	d.selfCheck(ctx)
	// 8. Serve, then contact the peers.
	d.serve(l)
	// The log line comes first so that whoever sees status ready also finds it.
	defer d.ready.Store(true)
	d.log.Info("ready", "tpm", d.tpm.Kind(), "ek", d.attester.EKFingerprint(), "attestation", l.attestAddr.String(),
		"tunnel", cfg.TunnelAddress(), "listen_port", d.dev.ListenPort(), "control", cfg.Control.Socket,
		"peers", len(d.peers), "quarantine", d.quarantine != "")
	return d, nil
}

// newGateway is the box before any step has run: nothing open yet, so
// Close on it is a no-op.
func newGateway(ctx context.Context, cfg *config.Config, log *slog.Logger) *Gateway {
	d := &Gateway{cfg: cfg, log: log.With("box", cfg.Box), started: time.Now(), errc: make(chan error, 8), peers: map[string]*peerState{}}
	// The box outlives the context it was started with (that one may be a
	// start timeout); Close ends it.
	d.bg, d.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return d
}

// bootTPM opens the TPM (step 1) and plays or reads the measured boot; it
// returns the event log the attester hands to verifiers.
func (d *Gateway) bootTPM(ctx context.Context) ([]byte, error) {
	if err := d.openTPM(ctx, true); err != nil {
		return nil, fmt.Errorf("tpm: %w", err)
	}
	evlog, err := d.measuredBoot(ctx)
	if err != nil {
		return nil, fmt.Errorf("firmware: %w", err)
	}
	return evlog, nil
}

// startAttestation starts the attester on the TPM and the verifier that
// appraises the peers (step 3).
func (d *Gateway) startAttestation(ctx context.Context, evlog []byte) error {
	var err error
	ac, err := d.attesterConfig(ctx, evlog)
	if err != nil {
		return err
	}
	d.attester, err = attest.NewAttester(ctx, d.tpm, ac)
	if err != nil {
		return fmt.Errorf("attester: %w", err)
	}
	d.closers = append(d.closers, d.attester.Close)
	if err := d.newVerifier(); err != nil {
		return fmt.Errorf("attestation: %w", err)
	}
	return nil
}

// anchorChain is the chain the ledger anchors on: none in quarantine,
// where the record key is ephemeral.
func (d *Gateway) anchorChain() *ledger.Chain {
	if d.quarantine != "" {
		return nil
	}
	return d.chain
}

// openLedger connects the chain and opens the ledger and the report store
// (step 4).
func (d *Gateway) openLedger(ctx context.Context) error {
	if err := d.openChain(ctx); err != nil {
		return fmt.Errorf("chain: %w", err)
	}
	signer, err := proof.NewKeySigner(d.recordKey)
	if err != nil {
		return err
	}
	cfg := d.cfg
	d.syncHist = newJournalSyncHistogram()
	d.ledger, err = ledger.Open(ctx, ledger.Config{
		Box: cfg.Box, StateDir: d.dataDir, Signer: signer, Chain: d.anchorChain(),
		CheckpointInterval: cfg.CheckpointInterval(), AnchorInterval: cfg.CheckpointInterval(), Logger: d.log,
		// Receipts answer each record at once: sign the checkpoint with
		// the commit rather than in a second fsync'd write.
		CheckpointEachCommit: true,
		OnSync:               func(t time.Duration) { d.syncHist.Observe(t.Seconds()) },
	})
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	d.closers = append(d.closers, d.ledger.Close)
	d.reports, err = openReports(d.dataDir)
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	d.closers = append(d.closers, d.reports.close)
	return nil
}

// openTunnel brings up the WireGuard device with no peers (step 5), and
// the state of each configured peer, not yet admitted.
func (d *Gateway) openTunnel(ctx context.Context) error {
	cfg := d.cfg
	if err := d.openRelay(); err != nil {
		return err
	}
	var err error
	d.dev, err = tunnel.New(ctx, tunnel.Config{
		Name: cfg.Box, Mode: cfg.Tunnel.Mode, Interface: cfg.Tunnel.Interface, ListenPort: cfg.Tunnel.ListenPort,
		Address: cfg.TunnelAddress(), MTU: cfg.Tunnel.MTU, StateDir: d.dataDir, Sealer: d.tpm, Logger: d.log,
		OnChange: d.onTunnelChange, Relay: d.relayClient(),
	})
	if err != nil {
		return err
	}
	d.closers = append(d.closers, d.dev.Close)
	d.wgKey = d.dev.PublicKey()
	for _, p := range cfg.Peers {
		d.peers[p.Name] = &peerState{cfg: p, client: d.peerClient(p).WithBatching(d.cfg.BatchWindow() > 0), kick: make(chan time.Time, 1)}
	}
	return nil
}

// listeners are bound but not yet served: Start serves them only once
// every step has succeeded.
type listeners struct {
	d          *Gateway
	serve      []func()
	attestAddr net.Addr
}

// http registers an HTTP server on a bound listener.
func (l *listeners) http(name string, srv *http.Server, ln net.Listener, tlsOn bool) {
	d := l.d
	// srv.Close closes only listeners being served; ln.Close covers a
	// start that fails before serving.
	d.servers = append(d.servers, srv.Close, ln.Close)
	l.serve = append(l.serve, func() {
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

// withContext registers a server that serves ln until its context ends.
func (l *listeners) withContext(name string, serveCtx func(context.Context) error, ln net.Listener) {
	d := l.d
	d.servers = append(d.servers, ln.Close)
	l.serve = append(l.serve, func() {
		if err := serveCtx(d.bg); err != nil && d.bg.Err() == nil {
			d.fail(fmt.Errorf("%s: %w", name, err))
		}
	})
}

// bind binds every listener (step 6): records, attestation, the control
// socket, the report API and metrics.
func (d *Gateway) bind(ctx context.Context) (*listeners, error) {
	l := &listeners{d: d}
	if err := d.startRelay(ctx, l); err != nil {
		return nil, fmt.Errorf("records: %w", err)
	}
	if err := d.bindAttestation(l); err != nil {
		return nil, err
	}
	if err := d.bindControl(l); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	d.metrics = api.NewMetrics(d, d.log)
	d.metrics.Registry().MustRegister(d.audit.Collector())
	d.metrics.Registry().MustRegister(d.syncHist)
	if d.relay != nil {
		d.metrics.Registry().MustRegister(relayCollector{d.relay}, deliveryCollector{d.relay})
	}
	d.registerRelayMetrics()
	d.registerWitnessMetrics()
	d.registerScaleMetrics()
	if err := d.startAPI(l.withContext); err != nil {
		return nil, fmt.Errorf("api/metrics: %w", err)
	}
	return l, nil
}

// bindAttestation binds the peers' attestation listener (TLS with a
// self-signed certificate: the evidence, not TLS, authenticates a box).
func (d *Gateway) bindAttestation(l *listeners) error {
	tc, err := peerproto.SelfSignedTLS(d.cfg.Box)
	if err != nil {
		return err
	}
	aln, err := net.Listen("tcp", d.cfg.Attestation.Listen)
	if err != nil {
		return fmt.Errorf("attestation.listen: %w", err)
	}
	srv := peerproto.NewServer(d.attestHandler(), tc, d.log)
	l.http("attestation", srv, peerproto.ListenShared(aln, d.cfg.PeersPerUnderlay()), true)
	d.serveRelayed(l, srv)
	l.attestAddr = aln.Addr()
	return nil
}

// bindControl creates the control socket of the wardgate CLI.
func (d *Gateway) bindControl(l *listeners) error {
	ctl, err := control.NewServer(control.ServerConfig{Path: d.cfg.Control.Socket, Group: d.cfg.Control.Group, Backend: d, Logger: d.log,
		Wrap: d.auditControl, ConnContext: controlConnContext})
	if err != nil {
		return err
	}
	d.servers = append(d.servers, ctl.Close, func() error {
		// http.Server.Close only closes listeners it is serving; after a
		// failed start the socket was never served, so unlink it here.
		if err := os.Remove(ctl.Path()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	l.serve = append(l.serve, func() {
		if err := ctl.Serve(d.bg); err != nil && d.bg.Err() == nil {
			d.fail(err)
		}
	})
	return nil
}

// serve starts serving the bound listeners, watches anchoring, and starts
// one loop per peer (step 8).
func (d *Gateway) serve(l *listeners) {
	for _, s := range l.serve {
		d.goDo(s)
	}
	if d.ledger != nil && d.anchorChain() != nil {
		d.goDo(func() { d.watchAnchoring(d.bg) })
	}
	d.startPathWatch()
	d.startWitnessing()
	if d.relay != nil {
		d.goDo(func() { d.relay.WatchEndpoints(d.bg, records.ProbeEvery) })
	}
	d.goDo(func() { d.watchRuntime(d.bg) })
	for _, p := range d.peers {
		d.goDo(func() { d.peerLoop(d.bg, p) })
		d.goDo(func() { d.hello(p) })
	}
}

// hello tells p that this box (re)started, so a peer that already runs
// appraises it now rather than at its next interval.
func (d *Gateway) hello(p *peerState) {
	ctx, cancel := context.WithTimeout(d.bg, peerproto.Timeout)
	defer cancel()
	if err := p.client.Hello(ctx); err != nil {
		d.log.Debug("hello not delivered (peer not up yet?)", "peer", p.cfg.Name, "err", err)
	}
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
		d.tpm, err = openSimulator(c)
	case config.TPMSwtpm:
		if boot {
			if err := devtpm.SWTPMReboot(ctx, c.TPM.Address, c.TPM.CtrlAddress); err != nil {
				return err
			}
		}
		d.tpm, err = devtpm.OpenSWTPM(ctx, c.TPM.Address)
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
func openDevCA(dir string) (*devtpm.DevCA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	return devtpm.NewDevCA(dir)
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
	rp, err := d.runtimePolicy(vks)
	if err != nil {
		return err
	}
	enr := c.EnrollmentMap()
	enr[c.Box] = d.attesterEK() // the self-check appraises this box like a peer
	d.verifier, err = attest.NewVerifier(attest.VerifierConfig{
		Name: c.Box, Roots: roots, Enrollment: enr, Manifests: d.manifests, Policy: pol,
		ReportKey: d.recordKey, VerdictLifetime: c.VerdictLifetime(), NonceTTL: c.NonceTTL(), Logger: d.log,
		RuntimePolicy: rp,
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
			Passphrase: pass, Confirmations: c.Chain.MinDepth, Logger: d.log,
			Box: c.Box, RecordKey: d.recordKey.Public().(ed25519.PublicKey),
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
		if d.chainURL == "" {
			d.chainURL = r.Endpoints[0] // validation asks for one of them
		}
		d.chain, err = ledger.DialRPC(ctx, ledger.RPCConfig{
			URL: r.URL, Endpoints: r.Endpoints, ChainID: r.ChainID, Contract: common.HexToAddress(r.Contract),
			KeystoreFile: r.Keystore, Passphrase: pass, Confirmations: c.Chain.MinDepth, Logger: d.log,
		})
		if err != nil {
			return err
		}
	}
	d.closers = append(d.closers, d.chain.Close)
	return nil
}

// startRelay builds the record relay and binds its tunnel, LAN and MLLP
// listeners.
func (d *Gateway) startRelay(ctx context.Context, l *listeners) error {
	if d.quarantine != "" {
		// Records would be signed by a throw-away key into a log that is
		// never anchored: relay nothing until the approved state is back.
		d.log.Warn("quarantine: the record relay is off (no LAN intake, no peer delivery)")
		return nil
	}
	if err := d.newRelay(); err != nil {
		return err
	}
	if err := d.newWitness(); err != nil {
		return err
	}
	for _, w := range d.cfg.Warnings() {
		d.log.Warn("INSECURE: " + w)
	}
	for _, w := range d.cfg.RouteWarnings() {
		d.log.Warn("delivery routes: " + w)
	}
	if err := d.listenRelayPeers(l.http); err != nil {
		return err
	}
	tc, err := d.recordsTLS()
	if err != nil {
		return err
	}
	if err := d.listenRelayLAN(l.http, tc); err != nil {
		return err
	}
	return d.listenRelayMLLP(l, tc)
}

// newRelay builds the relay: records signed with the record key, sent to
// peers through the tunnel only.
func (d *Gateway) newRelay() error {
	c := d.cfg
	signer, err := proof.NewKeySigner(d.recordKey)
	if err != nil {
		return err
	}
	peerAddr := d.peerRelayAddrs()
	gate, err := c.ConsentGate()
	if err != nil {
		return err
	}
	d.consent = gate
	routes, err := d.deliveryRoutes()
	if err != nil {
		return err
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
		Routes:     routes,
		MLLPRoutes: c.Records.MLLPRoutes, MLLPPeer: c.Records.MLLPPeer,
		ClientPeers: c.Records.ClientPeers,
		MaxBody:     c.Records.MaxBody, Consent: gate, Logger: d.log,
		OnRecord: d.auditRecord,
	})
	if err != nil {
		return err
	}
	d.closers = append(d.closers, func() error { d.relay.Close(); return nil })
	return nil
}

// peerRelayAddrs is where each peer's relay listens: on its first allowed
// IP (its tunnel address), records.peer_port.
func (d *Gateway) peerRelayAddrs() map[string]netip.AddrPort {
	c := d.cfg
	out := map[string]netip.AddrPort{}
	for _, p := range c.Peers {
		if ips := c.PeerAllowedIPs(p.Name); len(ips) > 0 {
			out[p.Name] = netip.AddrPortFrom(ips[0].Addr(), uint16(c.Records.PeerPort))
		}
	}
	return out
}

// relayHTTPServer bounds a relay listener's headers, reads and idle
// connections (netlimit defaults); serve it on a netlimit.Listen listener.
func (d *Gateway) relayHTTPServer(h http.Handler) *http.Server {
	srv := netlimit.Limits{}.HTTPServer(h)
	srv.ErrorLog = slog.NewLogLogger(d.log.Handler(), slog.LevelDebug)
	return srv
}

// recordsTLS is the hospital systems' mTLS config (records.tls_cert,
// tls_key, client_ca), or nil when they are not set.
func (d *Gateway) recordsTLS() (*tls.Config, error) {
	c := d.cfg.Records
	if c.TLSCert == "" {
		return nil, nil
	}
	tc, err := api.TLSConfig(c.TLSCert, c.TLSKey, c.ClientCA)
	if err != nil {
		return nil, fmt.Errorf("records.tls_cert/tls_key/client_ca: %w", err)
	}
	return tc, nil
}

// listenRelayPeers binds the peers' record listener on the tunnel address:
// only admitted peers can reach it.
func (d *Gateway) listenRelayPeers(add func(string, *http.Server, net.Listener, bool)) error {
	c := d.cfg
	pln, err := d.dev.Listen("tcp", netip.AddrPortFrom(c.TunnelAddress().Addr(), uint16(c.Records.PeerPort)).String())
	if err != nil {
		return fmt.Errorf("records.peer_port %d on the tunnel address: %w", c.Records.PeerPort, err)
	}
	add("records-peer", d.relayHTTPServer(d.peerHandler()), netlimit.Listen(pln, netlimit.Limits{}), false)
	return nil
}

// listenRelayLAN binds the hospital systems' record intake, if configured.
func (d *Gateway) listenRelayLAN(add func(string, *http.Server, net.Listener, bool), tc *tls.Config) error {
	c := d.cfg
	if c.Records.LANListen == "" {
		return nil
	}
	srv := d.relayHTTPServer(d.relay.LANHandler())
	srv.TLSConfig = tc // hospital systems authenticate with client certificates
	ln, err := net.Listen("tcp", c.Records.LANListen)
	if err != nil {
		return fmt.Errorf("records.lan_listen: %w", err)
	}
	add("records-lan", srv, netlimit.Listen(ln, netlimit.Limits{}), tc != nil)
	return nil
}

// listenRelayMLLP binds the HL7 MLLP intake, if configured: MLLPS (TLS
// with client certificates from records.client_ca) when records.mllp_tls
// is set. It is served with the other listeners, once all are bound.
func (d *Gateway) listenRelayMLLP(l *listeners, tc *tls.Config) error {
	addr := d.cfg.Records.MLLPListen
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("records.mllp_listen: %w", err)
	}
	if d.cfg.Records.MLLPTLS {
		ln = tls.NewListener(ln, tc)
	}
	l.withContext("mllp", func(ctx context.Context) error { return d.relay.ServeMLLP(ctx, ln) }, ln)
	return nil
}

// selfCheck appraises this box's own evidence with its own verifier, as a
// peer would, and keeps the outcome for `wardgate status` and `firmware
// show`. A quarantined box fails it whatever its evidence says.
func (d *Gateway) selfCheck(ctx context.Context) {
	sc := control.SelfCheck{Time: time.Now()}
	v, rep, err := d.appraiseSelf(ctx)
	if err == nil {
		err = d.recordReport(ctx, rep)
	}
	if err != nil {
		sc.Reasons = append(sc.Reasons, control.Reason{Code: "self-check-error", Message: err.Error()})
	} else {
		sc.Pass = v.Passed()
		sc.Reasons = controlReasons(v.Reasons())
		d.keepSelfComponents(rep)
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

// appraiseSelf runs the peer protocol against this box's own attester:
// first contact (credential activation), then fresh evidence bound to the
// box's own keys, appraised.
func (d *Gateway) appraiseSelf(ctx context.Context) (*attest.Verdict, *attest.Report, error) {
	if err := d.activateSelf(ctx); err != nil {
		return nil, nil, err
	}
	nonce, err := d.verifier.Nonce(d.cfg.Box)
	if err != nil {
		return nil, nil, err
	}
	rk := d.recordKey.Public().(ed25519.PublicKey)
	d.attMu.Lock()
	ev, err := d.evidence(ctx, nonce, d.verifier.RuntimeFrom(d.cfg.Box))
	d.attMu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	return d.verifier.Appraise(ctx, d.cfg.Box, nonce, ev, d.wgKey, rk)
}

// activateSelf proves to the verifier that the AK lives in this TPM.
func (d *Gateway) activateSelf(ctx context.Context) error {
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
	return d.verifier.Activate(ctx, d.cfg.Box, resp)
}

// keepSelfComponents keeps the self-check's per-component outcome for
// `wardgate firmware show`.
func (d *Gateway) keepSelfComponents(rep *attest.Report) {
	var comps []control.ComponentInfo
	for _, c := range rep.Components {
		comps = append(comps, control.ComponentInfo{Name: c.Name, Version: c.Version, PCR: c.PCR, Digest: c.Digest, Matched: c.Matched, Manifest: c.Manifest})
	}
	d.selfMu.Lock()
	d.selfComp = comps
	d.selfMu.Unlock()
}

// watchAnchoring counts anchoring failures for metrics: each time the
// ledger reports a new chain error (the ledger retries by itself).
func (d *Gateway) watchAnchoring(ctx context.Context) {
	last := ""
	tick.Every(ctx, 2*time.Second, func(ctx context.Context) {
		e := d.ledger.Status(ctx).ChainError
		if e != "" && e != last {
			d.metrics.AnchorError()
			d.log.Warn("anchoring failed; the ledger keeps journaling and retries", "err", e)
		}
		last = e
	})
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
