package relay

import (
	"bufio"
	"context"
	"io"
	"sync/atomic"
	"time"
)

// sendQueue bounds what waits to go out on one connection: at most
// queueLen frames of at most MaxFrame bytes each. One goroutine writes,
// flushing when the queue runs empty, so a burst of packets shares TLS
// records and system calls.
type sendQueue struct {
	out     chan []byte
	done    chan struct{}
	dropped atomic.Uint64
	bytes   atomic.Uint64
}

const queueLen = 256

// readBuffer is each connection's read buffer: frames are read in few
// system calls and TLS records.
const readBuffer = 64 << 10

// streamWait is how long a stream frame waits for room before the
// connection is considered stuck: stream frames are not dropped silently
// (the stream would break), so a stuck connection is closed instead.
const streamWait = 5 * time.Second

func newSendQueue() *sendQueue {
	return &sendQueue{out: make(chan []byte, queueLen), done: make(chan struct{})}
}

// packet queues an encoded datagram, or drops it when the queue is full:
// WireGuard retransmits what matters, and a slow receiver must not hold
// the sender's other traffic.
func (q *sendQueue) packet(b []byte) bool {
	select {
	case q.out <- b:
		return true
	case <-q.done:
	default:
	}
	q.dropped.Add(1)
	return false
}

// frame queues an encoded stream frame, waiting for room up to streamWait
// (or ctx). It reports false when the frame could not be queued.
func (q *sendQueue) frame(ctx context.Context, b []byte) bool {
	select {
	case q.out <- b:
		return true
	default:
	}
	t := time.NewTimer(streamWait)
	defer t.Stop()
	select {
	case q.out <- b:
		return true
	case <-q.done:
	case <-ctx.Done():
	case <-t.C:
	}
	q.dropped.Add(1)
	return false
}

// run writes queued frames to w until the queue is stopped or a write
// fails.
func (q *sendQueue) run(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	for {
		var b []byte
		select {
		case b = <-q.out:
		case <-q.done:
			return nil
		}
		for {
			if _, err := bw.Write(b); err != nil {
				return err
			}
			q.bytes.Add(uint64(len(b)))
			select {
			case b = <-q.out:
				continue
			default:
			}
			break
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	}
}

func (q *sendQueue) stop() {
	select {
	case <-q.done:
	default:
		close(q.done)
	}
}
