package control

import "time"

// DeliveryState is a delivery endpoint's health.
type DeliveryState string

// Delivery endpoint states (records.EndpointState).
const (
	DeliveryUnknown  DeliveryState = "unknown"  // nothing delivered to it yet in this run
	DeliveryUp       DeliveryState = "up"       // its last delivery went through
	DeliveryDegraded DeliveryState = "degraded" // it refused its last record, or failed in the last minute
	DeliveryDown     DeliveryState = "down"     // its last delivery could not reach it, or got no answer in time
)

// DeliveryEndpoint is one row of the delivery section of `wardgate status`:
// a route of records.deliver and its endpoint, as this box last saw it.
type DeliveryEndpoint struct {
	Route    string        `json:"route"`
	Endpoint string        `json:"endpoint"` // this box's own config; never sent to peers
	State    DeliveryState `json:"state"`
	// Since is when it entered State (zero: never used).
	Since       time.Time `json:"since,omitzero"`
	LastError   string    `json:"last_error,omitempty"` // refusal code, e.g. lan_endpoint_down, engine_error
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	InFlight    int64     `json:"in_flight"`
	Delivered   uint64    `json:"delivered"`
	Failed      uint64    `json:"failed"`
}
