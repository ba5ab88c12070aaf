package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/spf13/cobra"

	"github.com/wardgate/wardgate/firmware"
	"github.com/wardgate/wardgate/ledger/proof"
	"github.com/wardgate/wardgate/records/receipt"
)

// maxRecord bounds a --record file read into memory to hash it.
const maxRecord = 1 << 30

// refusals names each way a receipt can fail, for scripts (--json "reason").
// A countersignature or header refusal comes first: it may wrap a ledger
// error (a bad signature inside the countersignature) that is not the
// receipt's own.
var refusals = []struct {
	err  error
	code string
}{
	{receipt.ErrBadCountersign, "bad_countersignature"},
	{receipt.ErrHeaderMismatch, "header_mismatch"},
	{errConsentMismatch, "consent_mismatch"},
	{proof.ErrReceiptTooLarge, "receipt_too_large"},
	{proof.ErrMalformedReceipt, "malformed_receipt"},
	{proof.ErrBadEntry, "malformed_receipt"},
	{proof.ErrWrongKey, "wrong_key"},
	{proof.ErrBadSignature, "bad_signature"},
	{proof.ErrDigestMismatch, "digest_mismatch"},
	{proof.ErrBadProof, "bad_proof"},
	{proof.ErrPending, "pending"},
	{proof.ErrWrongChain, "wrong_chain"},
	{proof.ErrAnchorReorged, "anchor_reorged"},
	{proof.ErrRootNotOnChain, "root_not_on_chain"},
	{proof.ErrUnregisteredGateway, "unregistered_gateway"},
	{proof.ErrGatewayNotBound, "gateway_not_bound"},
	{proof.ErrNotDeepEnough, "not_deep_enough"},
	{proof.ErrTooFewCosignatures, "too_few_cosignatures"},
}

func refusalCode(err error) string {
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			return r.code
		}
	}
	return "error"
}

// verifyOutput is `wardgate verify --json`.
type verifyOutput struct {
	OK             bool      `json:"ok"`
	Reason         string    `json:"reason,omitempty"` // refusal code
	Error          string    `json:"error,omitempty"`
	Mode           string    `json:"mode"` // offline | online
	Status         string    `json:"status,omitempty"`
	Log            string    `json:"log,omitempty"`
	LeafIndex      uint64    `json:"leaf_index"`
	Kind           string    `json:"kind,omitempty"`
	Digest         string    `json:"digest,omitempty"`
	Sender         string    `json:"sender,omitempty"`
	Receiver       string    `json:"receiver,omitempty"`
	ContentType    string    `json:"content_type,omitempty"`
	Time           time.Time `json:"time,omitzero"`
	CheckpointSize uint64    `json:"checkpoint_size,omitempty"`
	CheckpointRoot string    `json:"checkpoint_root,omitempty"`
	RecordChecked  bool      `json:"record_checked"`
	RecordKey      string    `json:"record_key,omitempty"`
	KeyFromReceipt bool      `json:"key_from_receipt"`
	Anchored       bool      `json:"anchored"`
	ChainID        uint64    `json:"chain_id,omitempty"`
	Contract       string    `json:"contract,omitempty"`
	Gateway        string    `json:"gateway,omitempty"`
	Block          uint64    `json:"block,omitempty"`
	Depth          uint64    `json:"depth,omitempty"`
	Countersigned  string    `json:"countersigned,omitempty"`
	Cosigners      []string  `json:"cosigners,omitempty"` // trusted witnesses that cosigned (verify_witness.go)
	Warnings       []string  `json:"warnings,omitempty"`

	// Consent is the entry's consent part (verify_consent.go).
	Consent *consentOutput `json:"consent,omitempty"`
}

// parseAnyReceipt reads either a ledger receipt or the receipt the sending
// box returns to its hospital (the ledger receipt under "ledger", with the
// receiver's countersignature), with the relay's own parser: every
// top-level field must agree with the signed entry (ErrHeaderMismatch).
func parseAnyReceipt(raw []byte) (*proof.Receipt, *receipt.Countersign, error) {
	rc, err := receipt.ParseReceipt(raw)
	if err != nil {
		return nil, nil, err
	}
	return rc.Ledger, rc.Countersign, nil
}

type verifyFlags struct {
	receipt, record, recordKey, rpc string
	receiverKey                     string
	chainID                         uint64
	contract, gateway               string
	minDepth                        uint64
	consent                         string // --consent FILE (verify_consent.go)

	witnesses   int      // --witnesses N (verify_witness.go)
	witnessKeys []string // --witness-key BOX=KEY
}

func (a *app) verifyCmd() *cobra.Command {
	var vf verifyFlags
	cmd := &cobra.Command{
		Use:   "verify --receipt FILE [--record FILE] [--rpc URL]",
		Short: "Verify a record receipt: offline (signatures, inclusion proof, record digest), and with --rpc on chain",
		Long: `verify checks a record receipt without the daemon.

Offline it checks the entry and checkpoint signatures, the inclusion proof to
the checkpoint and, with --record, that the record hashes to the entry's
digest. With --rpc it also checks on chain that the checkpoint root was
anchored by a registered gateway in the anchor contract, and how deep.

Pin what you trust: --record-key (the box's record key from its attestation
report), --chain-id and --contract. Without them the values in the receipt are
used and a warning says so. Exits 1 with the reason on any failure.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if vf.receipt == "" {
				return usageError{errors.New("verify needs --receipt FILE")}
			}
			out, err := runVerify(cmd.Context(), vf, a.timeout, cmd.InOrStdin())
			w := cmd.OutOrStdout()
			if err != nil {
				out.OK, out.Reason, out.Error = false, refusalCode(err), err.Error()
			}
			if a.json {
				if perr := printJSON(w, out); perr != nil {
					return perr
				}
			} else {
				printVerify(w, out)
			}
			if err != nil {
				return fmt.Errorf("receipt %s REFUSED (%s): %w", vf.receipt, out.Reason, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&vf.receipt, "receipt", "", "receipt file (JSON, as issued by the box); - reads stdin")
	f.StringVar(&vf.record, "record", "", "the record's bytes; must hash to the entry's digest")
	f.StringVar(&vf.recordKey, "record-key", "", "the box's Ed25519 record key: hex, base64, or a PEM file")
	f.StringVar(&vf.receiverKey, "receiver-key", "", "the receiving box's Ed25519 record key: also verify its countersignature")
	f.StringVar(&vf.rpc, "rpc", "", "JSON-RPC URL of the chain: also verify the anchor on chain")
	f.Uint64Var(&vf.chainID, "chain-id", 0, "trusted chain id (with --rpc; default: the one in the receipt)")
	f.StringVar(&vf.contract, "contract", "", "trusted anchor contract address (with --rpc; default: the one in the receipt)")
	f.StringVar(&vf.gateway, "gateway", "", "require the anchor to be sent by this gateway account (with --rpc)")
	f.Uint64Var(&vf.minDepth, "min-depth", 1, "blocks the anchor needs, counting its own (with --rpc)")
	addWitnessFlags(f, &vf)
	f.StringVar(&vf.consent, "consent", "", "a FHIR Consent file (from `wardgate consents show`): must be the consent the record was released under")
	return cmd
}

// runVerify checks the receipt offline and, with --rpc, on chain. out
// describes as much of the receipt as was read, even on error.
func runVerify(ctx context.Context, vf verifyFlags, timeout time.Duration, stdin io.Reader) (verifyOutput, error) {
	out := verifyOutput{Mode: "offline"}
	if vf.rpc != "" {
		out.Mode = "online"
	}
	r, cs, err := readReceipt(vf.receipt, stdin)
	if err != nil {
		return out, err
	}
	describeReceipt(&out, r)
	o, err := offlineOptions(vf)
	if err != nil {
		return out, err
	}
	out.RecordChecked = vf.record != ""
	if vf.rpc != "" {
		var closeChain func()
		if ctx, closeChain, err = chainOptions(ctx, vf, timeout, r, &o, &out); err != nil {
			return out, err
		}
		defer closeChain()
	}
	res, err := proof.Verify(ctx, r, o)
	if err != nil {
		return out, err
	}
	if out.Countersigned, err = checkCountersign(vf.receiverKey, r, cs); err != nil {
		return out, err
	}
	describeResult(&out, r, res)
	if err := checkConsentFile(vf.consent, &out); err != nil {
		return out, err
	}
	return out, nil
}

// readReceipt reads a receipt file, or stdin for "-", in either form.
func readReceipt(path string, stdin io.Reader) (*proof.Receipt, *receipt.Countersign, error) {
	var raw []byte
	var err error
	if path == "-" {
		raw, err = io.ReadAll(io.LimitReader(stdin, 2*proof.MaxReceiptSize+1))
	} else {
		raw, err = readBounded(path, 2*proof.MaxReceiptSize)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("--receipt: %w", err)
	}
	return parseAnyReceipt(raw)
}

// describeReceipt fills in what the receipt claims, before any check, so
// that a refusal still shows which record it was about.
func describeReceipt(out *verifyOutput, r *proof.Receipt) {
	out.Status, out.LeafIndex = r.Status, r.LeafIndex
	out.CheckpointSize, out.CheckpointRoot = r.Checkpoint.Size, r.Checkpoint.Root.String()
	if e, err := r.ParsedEntry(); err == nil {
		out.Log, out.Kind, out.Digest = e.Log, e.Kind.String(), hex.EncodeToString(e.Digest[:])
		out.Sender, out.Receiver, out.ContentType, out.Time = e.Sender, e.Receiver, e.ContentType, e.Time
		describeConsent(out, e)
	}
}

// offlineOptions are the pinned record key and the record to hash.
func offlineOptions(vf verifyFlags) (proof.VerifyOptions, error) {
	var o proof.VerifyOptions
	var err error
	if vf.recordKey != "" {
		if o.RecordKey, err = parseEd25519Key(vf.recordKey); err != nil {
			return o, fmt.Errorf("--record-key: %w", err)
		}
	}
	if vf.record != "" {
		if o.Record, err = readBounded(vf.record, maxRecord); err != nil {
			return o, fmt.Errorf("--record: %w", err)
		}
	}
	return o, witnessOptions(vf, &o)
}

// chainOptions pins the chain id, contract and gateway (warning where the
// receipt's own values are used) and dials --rpc. It returns the context
// bounded by --timeout for the chain queries and a func that closes the
// connection and releases the context.
func chainOptions(ctx context.Context, vf verifyFlags, timeout time.Duration, r *proof.Receipt, o *proof.VerifyOptions, out *verifyOutput) (context.Context, func(), error) {
	if r.Anchor == nil {
		return ctx, nil, fmt.Errorf("%w: no anchor in the receipt to check on %s; ask the box for an upgraded receipt", proof.ErrPending, vf.rpc)
	}
	o.ChainID, o.Contract, o.MinDepth = vf.chainID, r.Anchor.Contract, vf.minDepth
	if vf.chainID == 0 {
		o.ChainID = r.Anchor.ChainID
		out.Warnings = append(out.Warnings, "chain id taken from the receipt; pin it with --chain-id")
	}
	if vf.contract != "" {
		if !common.IsHexAddress(vf.contract) {
			return ctx, nil, usageError{fmt.Errorf("--contract %q is not a 0x… address", vf.contract)}
		}
		o.Contract = common.HexToAddress(vf.contract)
	} else {
		out.Warnings = append(out.Warnings, "contract taken from the receipt; pin it with --contract")
	}
	if vf.gateway != "" {
		if !common.IsHexAddress(vf.gateway) {
			return ctx, nil, usageError{fmt.Errorf("--gateway %q is not a 0x… address", vf.gateway)}
		}
		o.Gateway = common.HexToAddress(vf.gateway)
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	cl, err := ethclient.DialContext(dctx, vf.rpc)
	if err != nil {
		cancel()
		return ctx, nil, fmt.Errorf("--rpc %s: %w", vf.rpc, err)
	}
	o.Backend = cl
	return dctx, func() { cl.Close(); cancel() }, nil
}

// checkCountersign verifies the receiver's countersignature under
// --receiver-key, and says what was done with it.
func checkCountersign(receiverKey string, r *proof.Receipt, cs *receipt.Countersign) (string, error) {
	if receiverKey == "" {
		if cs != nil {
			return "present, not checked (use --receiver-key)", nil
		}
		return "", nil
	}
	rk, err := parseEd25519Key(receiverKey)
	if err != nil {
		return "", fmt.Errorf("--receiver-key: %w", err)
	}
	if cs == nil {
		return "", fmt.Errorf("%w: the receipt has no countersignature; use the receipt the sending box returned", receipt.ErrBadCountersign)
	}
	if err := cs.Verify(rk, r.Entry); err != nil {
		return "", err
	}
	return "verified", nil
}

// describeResult fills in what a passing verification established.
func describeResult(out *verifyOutput, r *proof.Receipt, res *proof.Result) {
	out.OK = true
	out.KeyFromReceipt = res.KeyFromReceipt
	out.Cosigners = res.Cosigners
	out.RecordKey = hex.EncodeToString(r.RecordKey)
	if res.KeyFromReceipt {
		out.Warnings = append(out.Warnings, "record key taken from the receipt; pin it with --record-key (from the box's attestation report)")
	}
	if res.Anchored {
		out.Anchored, out.Depth = true, res.Depth
		out.ChainID, out.Contract, out.Gateway, out.Block = r.Anchor.ChainID, r.Anchor.Contract.Hex(), res.Gateway.Hex(), r.Anchor.Block
	}
}

func printVerify(w io.Writer, v verifyOutput) {
	t := newTable(w)
	verdict := "OK"
	if !v.OK {
		verdict = "REFUSED: " + v.Reason
	}
	fmt.Fprintf(t, "receipt:\t%s (%s)\n", verdict, v.Mode)
	if v.Log != "" {
		fmt.Fprintf(t, "  log:\t%s, leaf %d of %d\n", v.Log, v.LeafIndex, v.CheckpointSize)
		fmt.Fprintf(t, "  entry:\t%s %s -> %s, %s, %s\n", v.Kind, orDash(v.Sender), orDash(v.Receiver), orDash(v.ContentType), v.Time.UTC().Format(time.RFC3339))
		fmt.Fprintf(t, "  digest:\tsha256:%s\n", v.Digest)
		fmt.Fprintf(t, "  checkpoint root:\t%s\n", v.CheckpointRoot)
		printConsent(t, v)
	}
	if v.OK {
		rec := "not checked (no --record)"
		if v.RecordChecked {
			rec = "matches the digest"
		}
		fmt.Fprintf(t, "  record:\t%s\n", rec)
		fmt.Fprintf(t, "  record key:\t%s\n", v.RecordKey)
		if v.Countersigned != "" {
			fmt.Fprintf(t, "  countersigned:\t%s\n", v.Countersigned)
		}
		if len(v.Cosigners) > 0 {
			fmt.Fprintf(t, "  witnessed by:\t%s\n", strings.Join(v.Cosigners, ", "))
		}
		switch {
		case v.Anchored:
			fmt.Fprintf(t, "  anchor:\tchain %d, contract %s, block %d, %d deep, by gateway %s\n", v.ChainID, v.Contract, v.Block, v.Depth, v.Gateway)
		case v.Status == proof.StatusPending:
			fmt.Fprintf(t, "  anchor:\tpending (not anchored yet; ask the box to upgrade the receipt)\n")
		default:
			fmt.Fprintf(t, "  anchor:\tpresent, not checked on chain (use --rpc URL)\n")
		}
	} else {
		fmt.Fprintf(t, "  error:\t%s\n", v.Error)
	}
	t.Flush()
	for _, s := range v.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
}

// parseEd25519Key reads a key given as hex, base64, or a file holding a
// PEM "PUBLIC KEY" (PKIX), hex or base64.
func parseEd25519Key(s string) (ed25519.PublicKey, error) {
	if k, ok := firmware.ParseRawPublicKey(s); ok {
		return k, nil
	}
	b, err := readBounded(s, 16<<10)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a 32-byte hex/base64 key nor a readable key file: %w", s, err)
	}
	k, err := firmware.ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	return k, nil
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is over %d bytes", path, limit)
	}
	return b, nil
}
