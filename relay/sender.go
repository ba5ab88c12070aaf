package relay

import (
	"bufio"
	"context"
	"io"
	"sync/atomic"
	"time"
)

// sendQueue bounds what waits to go out on one connection: at most
// queueBytes of frames (and queueLen frames). One goroutine writes,
// flushing when the queue runs empty, so a burst of packets shares TLS
// records and system calls.
type sendQueue struct {
	out     chan []byte
	done    chan struct{}
	room    chan struct{} // signalled after each flush, for senders waiting for room
	queued  atomic.Int64  // bytes in out
	dropped atomic.Uint64
	bytes   atomic.Uint64
}

const (
	queueLen   = 2048
	queueBytes = 1 << 20
)

// readBuffer is each connection's read buffer: frames are read in few
// system calls and TLS records.
const readBuffer = 64 << 10

// streamWait is how long a stream frame waits for room before the
// connection is considered stuck: stream frames are not dropped silently
// (the stream would break), so a stuck connection is closed instead.
const streamWait = 5 * time.Second

// packetWait is how long a box's own datagram waits for room, as a
// socket's send buffer would make WireGuard wait, before it is dropped.
const packetWait = 50 * time.Millisecond

func newSendQueue() *sendQueue {
	return &sendQueue{out: make(chan []byte, queueLen), done: make(chan struct{}), room: make(chan struct{}, 1)}
}

// tryPut queues b if it fits in the byte budget and the channel.
func (q *sendQueue) tryPut(b []byte) bool {
	if q.queued.Add(int64(len(b))) > queueBytes {
		q.queued.Add(-int64(len(b)))
		return false
	}
	select {
	case q.out <- b:
		return true
	default:
		q.queued.Add(-int64(len(b)))
		return false
	}
}

// packet queues an encoded datagram, or drops it when the queue is full:
// on the relay a slow receiver must not hold the sender's other traffic,
// and WireGuard's TCP inside retransmits what matters.
func (q *sendQueue) packet(b []byte) bool {
	if q.tryPut(b) {
		return true
	}
	q.dropped.Add(1)
	return false
}

// wait queues b, waiting up to d (or ctx) for room; it reports false when
// b could not be queued.
func (q *sendQueue) wait(ctx context.Context, b []byte, d time.Duration) bool {
	if q.tryPut(b) {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-q.room:
			if q.tryPut(b) {
				return true
			}
			continue
		case <-q.done:
		case <-ctx.Done():
		case <-t.C:
		}
		q.dropped.Add(1)
		return false
	}
}

// frame queues an encoded stream frame, waiting for room up to streamWait.
func (q *sendQueue) frame(ctx context.Context, b []byte) bool {
	return q.wait(ctx, b, streamWait)
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
			q.queued.Add(-int64(len(b)))
			if _, err := bw.Write(b); err != nil {
				return err
			}
			q.bytes.Add(uint64(len(b)))
			putBuf(b)
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
		select {
		case q.room <- struct{}{}:
		default:
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
