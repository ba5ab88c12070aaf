package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/wardgate/wardgate/internal/tick"
)

// healthInterval is how often every endpoint is probed.
const healthInterval = 3 * time.Second

// EndpointHealth is one chain endpoint as the box last saw it.
type EndpointHealth struct {
	URL     string    `json:"url"`
	Healthy bool      `json:"healthy"`
	Active  bool      `json:"active"` // the endpoint calls go to now
	Head    uint64    `json:"head,omitempty"`
	Error   string    `json:"error,omitempty"`
	Checked time.Time `json:"checked,omitzero"`
}

type endpoint struct {
	url     string
	cl      *ethclient.Client
	healthy bool
	head    uint64
	err     string
	checked time.Time
}

// failover is a proof.Backend over several JSON-RPC endpoints of one chain
// (one per consortium validator or RPC node). Calls go to the first healthy
// endpoint in the configured order; a transport failure marks it unhealthy
// and the call is retried on the next. A probe loop re-checks every
// endpoint, so a recovered one is used again. Answers from a node (a JSON-RPC
// error, a revert, "not found") are returned as they are: another node
// would say the same.
type failover struct {
	mu   sync.Mutex
	eps  []*endpoint
	cur  int
	log  *slog.Logger
	stop context.CancelFunc
	done chan struct{}
}

// dialFailover dials every url (HTTP dialling does not need the node up)
// and starts probing them.
func dialFailover(ctx context.Context, urls []string, log *slog.Logger) (*failover, error) {
	if len(urls) == 0 {
		return nil, errors.New("ledger: no chain rpc endpoints; set chain.rpc.endpoints")
	}
	f := &failover{log: log, done: make(chan struct{})}
	for _, u := range urls {
		cl, err := ethclient.DialContext(ctx, u)
		if err != nil {
			f.closeClients()
			return nil, fmt.Errorf("ledger: dialling chain rpc endpoint %q: %w", u, err)
		}
		f.eps = append(f.eps, &endpoint{url: u, cl: cl, healthy: true})
	}
	pctx, cancel := context.WithCancel(context.Background())
	f.stop = cancel
	go f.probeLoop(pctx)
	return f, nil
}

func (f *failover) closeClients() {
	for _, e := range f.eps {
		e.cl.Close()
	}
}

// Close stops probing and closes every client.
func (f *failover) Close() error {
	f.stop()
	<-f.done
	f.closeClients()
	return nil
}

func (f *failover) probeLoop(ctx context.Context) {
	defer close(f.done)
	tick.NowAndEvery(ctx, healthInterval, f.probe)
}

// probe asks every endpoint for its head and switches back to the first
// healthy one.
func (f *failover) probe(ctx context.Context) {
	for i, e := range f.eps {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		head, err := e.cl.BlockNumber(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		f.mark(i, head, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, e := range f.eps {
		if e.healthy {
			if i != f.cur {
				f.log.Info("chain endpoint switched", "from", f.eps[f.cur].url, "to", e.url)
				f.cur = i
			}
			return
		}
	}
}

// mark records the outcome of a call or probe on endpoint i.
func (f *failover) mark(i int, head uint64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.eps[i]
	e.checked = time.Now()
	if err != nil {
		if e.healthy {
			f.log.Warn("chain endpoint unhealthy", "url", e.url, "err", err)
		}
		e.healthy, e.err = false, err.Error()
		return
	}
	if !e.healthy {
		f.log.Info("chain endpoint healthy again", "url", e.url)
	}
	e.healthy, e.err = true, ""
	if head > 0 {
		e.head = head
	}
}

// Health is every endpoint's last known state, in the configured order.
func (f *failover) Health() []EndpointHealth {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]EndpointHealth, len(f.eps))
	for i, e := range f.eps {
		out[i] = EndpointHealth{URL: e.url, Healthy: e.healthy, Active: i == f.cur, Head: e.head, Error: e.err, Checked: e.checked}
	}
	return out
}

// order is the endpoints to try: the current one first, then the others.
func (f *failover) order() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []int{f.cur}
	for i := range f.eps {
		if i != f.cur {
			out = append(out, i)
		}
	}
	return out
}

// transportFailure reports whether err says the endpoint could not be
// asked, rather than what the node answered.
func transportFailure(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || errors.Is(err, ethereum.NotFound) {
		return false
	}
	var re rpc.Error
	var de rpc.DataError
	return !errors.As(err, &re) && !errors.As(err, &de)
}

// do runs fn on the current endpoint, failing over on transport failures.
func do[T any](ctx context.Context, f *failover, fn func(*ethclient.Client) (T, error)) (T, error) {
	var zero T
	var errs []error
	for _, i := range f.order() {
		v, err := fn(f.eps[i].cl)
		if !transportFailure(ctx, err) {
			return v, err
		}
		f.mark(i, 0, err)
		errs = append(errs, fmt.Errorf("%s: %w", f.eps[i].url, err))
	}
	f.mu.Lock()
	for i, e := range f.eps {
		if e.healthy {
			f.cur = i
			break
		}
	}
	f.mu.Unlock()
	return zero, fmt.Errorf("ledger: every chain endpoint failed: %w", errors.Join(errs...))
}

func (f *failover) CodeAt(ctx context.Context, a common.Address, n *big.Int) ([]byte, error) {
	return do(ctx, f, func(c *ethclient.Client) ([]byte, error) { return c.CodeAt(ctx, a, n) })
}

func (f *failover) CallContract(ctx context.Context, m ethereum.CallMsg, n *big.Int) ([]byte, error) {
	return do(ctx, f, func(c *ethclient.Client) ([]byte, error) { return c.CallContract(ctx, m, n) })
}

func (f *failover) EstimateGas(ctx context.Context, m ethereum.CallMsg) (uint64, error) {
	return do(ctx, f, func(c *ethclient.Client) (uint64, error) { return c.EstimateGas(ctx, m) })
}

func (f *failover) SuggestGasPrice(ctx context.Context) (*big.Int, error) {
	return do(ctx, f, func(c *ethclient.Client) (*big.Int, error) { return c.SuggestGasPrice(ctx) })
}

func (f *failover) SuggestGasTipCap(ctx context.Context) (*big.Int, error) {
	return do(ctx, f, func(c *ethclient.Client) (*big.Int, error) { return c.SuggestGasTipCap(ctx) })
}

func (f *failover) SendTransaction(ctx context.Context, tx *types.Transaction) error {
	_, err := do(ctx, f, func(c *ethclient.Client) (struct{}, error) { return struct{}{}, c.SendTransaction(ctx, tx) })
	return err
}

func (f *failover) HeaderByNumber(ctx context.Context, n *big.Int) (*types.Header, error) {
	return do(ctx, f, func(c *ethclient.Client) (*types.Header, error) { return c.HeaderByNumber(ctx, n) })
}

func (f *failover) PendingCodeAt(ctx context.Context, a common.Address) ([]byte, error) {
	return do(ctx, f, func(c *ethclient.Client) ([]byte, error) { return c.PendingCodeAt(ctx, a) })
}

func (f *failover) PendingNonceAt(ctx context.Context, a common.Address) (uint64, error) {
	return do(ctx, f, func(c *ethclient.Client) (uint64, error) { return c.PendingNonceAt(ctx, a) })
}

func (f *failover) FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error) {
	return do(ctx, f, func(c *ethclient.Client) ([]types.Log, error) { return c.FilterLogs(ctx, q) })
}

func (f *failover) SubscribeFilterLogs(ctx context.Context, q ethereum.FilterQuery, ch chan<- types.Log) (ethereum.Subscription, error) {
	return do(ctx, f, func(c *ethclient.Client) (ethereum.Subscription, error) { return c.SubscribeFilterLogs(ctx, q, ch) })
}

func (f *failover) TransactionByHash(ctx context.Context, h common.Hash) (*types.Transaction, bool, error) {
	type r struct {
		tx      *types.Transaction
		pending bool
	}
	v, err := do(ctx, f, func(c *ethclient.Client) (r, error) { tx, p, err := c.TransactionByHash(ctx, h); return r{tx, p}, err })
	return v.tx, v.pending, err
}

func (f *failover) TransactionReceipt(ctx context.Context, h common.Hash) (*types.Receipt, error) {
	return do(ctx, f, func(c *ethclient.Client) (*types.Receipt, error) { return c.TransactionReceipt(ctx, h) })
}

func (f *failover) ChainID(ctx context.Context) (*big.Int, error) {
	return do(ctx, f, func(c *ethclient.Client) (*big.Int, error) { return c.ChainID(ctx) })
}

func (f *failover) BlockNumber(ctx context.Context) (uint64, error) {
	return do(ctx, f, func(c *ethclient.Client) (uint64, error) { return c.BlockNumber(ctx) })
}

func (f *failover) BalanceAt(ctx context.Context, a common.Address, n *big.Int) (*big.Int, error) {
	return do(ctx, f, func(c *ethclient.Client) (*big.Int, error) { return c.BalanceAt(ctx, a, n) })
}

func (f *failover) StorageAt(ctx context.Context, a common.Address, k common.Hash, n *big.Int) ([]byte, error) {
	return do(ctx, f, func(c *ethclient.Client) ([]byte, error) { return c.StorageAt(ctx, a, k, n) })
}

func (f *failover) NonceAt(ctx context.Context, a common.Address, n *big.Int) (uint64, error) {
	return do(ctx, f, func(c *ethclient.Client) (uint64, error) { return c.NonceAt(ctx, a, n) })
}

func (f *failover) SubscribeTransactionReceipts(ctx context.Context, q *ethereum.TransactionReceiptsQuery, ch chan<- []*types.Receipt) (ethereum.Subscription, error) {
	return do(ctx, f, func(c *ethclient.Client) (ethereum.Subscription, error) {
		return c.SubscribeTransactionReceipts(ctx, q, ch)
	})
}
