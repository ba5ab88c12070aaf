// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package contracts

import (
	"bytes"
	"errors"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Reference imports to suppress errors if they are not otherwise used.
var (
	_ = bytes.Equal
	_ = errors.New
	_ = big.NewInt
	_ = common.Big1
	_ = types.BloomLookup
	_ = abi.ConvertType
)

// AnchorMetaData contains all meta data concerning the Anchor contract.
var AnchorMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"address\",\"name\":\"admin_\",\"type\":\"address\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"caller\",\"type\":\"address\"}],\"name\":\"NotAdmin\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"caller\",\"type\":\"address\"}],\"name\":\"NotGateway\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint64\",\"name\":\"latest\",\"type\":\"uint64\"},{\"internalType\":\"uint64\",\"name\":\"size\",\"type\":\"uint64\"}],\"name\":\"SizeNotGrowing\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ZeroAddress\",\"type\":\"error\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"previous\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"next\",\"type\":\"address\"}],\"name\":\"AdminChanged\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"uint64\",\"name\":\"size\",\"type\":\"uint64\"},{\"indexed\":false,\"internalType\":\"bytes32\",\"name\":\"root\",\"type\":\"bytes32\"}],\"name\":\"Anchored\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"}],\"name\":\"GatewayAdded\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"}],\"name\":\"GatewayRemoved\",\"type\":\"event\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"}],\"name\":\"addGateway\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"admin\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint64\",\"name\":\"size\",\"type\":\"uint64\"},{\"internalType\":\"bytes32\",\"name\":\"root\",\"type\":\"bytes32\"}],\"name\":\"anchor\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"}],\"name\":\"isGateway\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"}],\"name\":\"latestSize\",\"outputs\":[{\"internalType\":\"uint64\",\"name\":\"\",\"type\":\"uint64\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"}],\"name\":\"removeGateway\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"next\",\"type\":\"address\"}],\"name\":\"transferAdmin\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	ID:  "Anchor",
	Bin: "0x6080604052348015600e575f5ffd5b50604051610741380380610741833981016040819052602b91609d565b6001600160a01b03811660515760405163d92e233d60e01b815260040160405180910390fd5b5f80546001600160a01b0319166001600160a01b03831690811782556040519091907f7e644d79422f17c01e4894b5f4f588d331ebfa28653d42ae832dc59e38c9798f908290a35060c8565b5f6020828403121560ac575f5ffd5b81516001600160a01b038116811460c1575f5ffd5b9392505050565b61066c806100d55f395ff3fe608060405234801561000f575f5ffd5b506004361061007a575f3560e01c8063a685520811610058578063a6855208146100b9578063bfe69d9a146100cc578063f588fe0514610119578063f851a44014610176575f5ffd5b806368bb37951461007e57806375829def146100935780638a885e35146100a6575b5f5ffd5b61009161008c3660046105ef565b6101ba565b005b6100916100a13660046105ef565b6102d7565b6100916100b43660046105ef565b610401565b6100916100c7366004610629565b6104c6565b6101046100da3660046105ef565b73ffffffffffffffffffffffffffffffffffffffff165f9081526001602052604090205460ff1690565b60405190151581526020015b60405180910390f35b61015d6101273660046105ef565b73ffffffffffffffffffffffffffffffffffffffff165f90815260016020526040902054610100900467ffffffffffffffff1690565b60405167ffffffffffffffff9091168152602001610110565b5f546101959073ffffffffffffffffffffffffffffffffffffffff1681565b60405173ffffffffffffffffffffffffffffffffffffffff9091168152602001610110565b5f5473ffffffffffffffffffffffffffffffffffffffff163314610211576040517f17a842420000000000000000000000000000000000000000000000000000000081523360048201526024015b60405180910390fd5b73ffffffffffffffffffffffffffffffffffffffff811661025e576040517fd92e233d00000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b73ffffffffffffffffffffffffffffffffffffffff81165f81815260016020819052604080832080547fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0016909217909155517f7137528d21fb7b0b9462886348954009edac49570e27ef9dba8bb3a676fc11e29190a250565b5f5473ffffffffffffffffffffffffffffffffffffffff163314610329576040517f17a84242000000000000000000000000000000000000000000000000000000008152336004820152602401610208565b73ffffffffffffffffffffffffffffffffffffffff8116610376576040517fd92e233d00000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b5f805460405173ffffffffffffffffffffffffffffffffffffffff808516939216917f7e644d79422f17c01e4894b5f4f588d331ebfa28653d42ae832dc59e38c9798f91a35f80547fffffffffffffffffffffffff00000000000000000000000000000000000000001673ffffffffffffffffffffffffffffffffffffffff92909216919091179055565b5f5473ffffffffffffffffffffffffffffffffffffffff163314610453576040517f17a84242000000000000000000000000000000000000000000000000000000008152336004820152602401610208565b73ffffffffffffffffffffffffffffffffffffffff81165f8181526001602052604080822080547fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff00169055517f6ad07cb5676ab639fa3821550f0ec4379900d542e2d8bd8f0f8158d8bd352da29190a250565b335f908152600160205260409020805460ff16610511576040517f0b1c2e61000000000000000000000000000000000000000000000000000000008152336004820152602401610208565b805467ffffffffffffffff61010090910481169084161161057a5780546040517fcfd88f7d00000000000000000000000000000000000000000000000000000000815261010090910467ffffffffffffffff908116600483015284166024820152604401610208565b80547fffffffffffffffffffffffffffffffffffffffffffffff0000000000000000ff1661010067ffffffffffffffff851690810291909117825560405183815233907f0cd48d2f0de2b26babeaa563bc19f67e7b14bb998edeaabe4592e8b4472dda6b9060200160405180910390a3505050565b5f602082840312156105ff575f5ffd5b813573ffffffffffffffffffffffffffffffffffffffff81168114610622575f5ffd5b9392505050565b5f5f6040838503121561063a575f5ffd5b823567ffffffffffffffff81168114610651575f5ffd5b94602093909301359350505056fea164736f6c634300081c000a",
}

// Anchor is an auto generated Go binding around an Ethereum contract.
type Anchor struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *Anchor) GetABI() abi.ABI {
	return c.abi
}

// NewAnchor creates a new instance of Anchor.
func NewAnchor() *Anchor {
	parsed, err := AnchorMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &Anchor{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *Anchor) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackConstructor is the Go binding used to pack the parameters required for
// contract deployment.
//
// Solidity: constructor(address admin_) returns()
func (anchor *Anchor) PackConstructor(admin_ common.Address) []byte {
	enc, err := anchor.abi.Pack("", admin_)
	if err != nil {
		panic(err)
	}
	return enc
}

// PackAddGateway is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x68bb3795.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function addGateway(address gateway) returns()
func (anchor *Anchor) PackAddGateway(gateway common.Address) []byte {
	enc, err := anchor.abi.Pack("addGateway", gateway)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackAddGateway is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x68bb3795.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function addGateway(address gateway) returns()
func (anchor *Anchor) TryPackAddGateway(gateway common.Address) ([]byte, error) {
	return anchor.abi.Pack("addGateway", gateway)
}

// PackAdmin is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf851a440.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function admin() view returns(address)
func (anchor *Anchor) PackAdmin() []byte {
	enc, err := anchor.abi.Pack("admin")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackAdmin is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf851a440.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function admin() view returns(address)
func (anchor *Anchor) TryPackAdmin() ([]byte, error) {
	return anchor.abi.Pack("admin")
}

// UnpackAdmin is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xf851a440.
//
// Solidity: function admin() view returns(address)
func (anchor *Anchor) UnpackAdmin(data []byte) (common.Address, error) {
	out, err := anchor.abi.Unpack("admin", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackAnchor is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa6855208.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function anchor(uint64 size, bytes32 root) returns()
func (anchor *Anchor) PackAnchor(size uint64, root [32]byte) []byte {
	enc, err := anchor.abi.Pack("anchor", size, root)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackAnchor is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa6855208.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function anchor(uint64 size, bytes32 root) returns()
func (anchor *Anchor) TryPackAnchor(size uint64, root [32]byte) ([]byte, error) {
	return anchor.abi.Pack("anchor", size, root)
}

// PackIsGateway is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xbfe69d9a.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function isGateway(address gateway) view returns(bool)
func (anchor *Anchor) PackIsGateway(gateway common.Address) []byte {
	enc, err := anchor.abi.Pack("isGateway", gateway)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackIsGateway is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xbfe69d9a.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function isGateway(address gateway) view returns(bool)
func (anchor *Anchor) TryPackIsGateway(gateway common.Address) ([]byte, error) {
	return anchor.abi.Pack("isGateway", gateway)
}

// UnpackIsGateway is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xbfe69d9a.
//
// Solidity: function isGateway(address gateway) view returns(bool)
func (anchor *Anchor) UnpackIsGateway(data []byte) (bool, error) {
	out, err := anchor.abi.Unpack("isGateway", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackLatestSize is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf588fe05.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function latestSize(address gateway) view returns(uint64)
func (anchor *Anchor) PackLatestSize(gateway common.Address) []byte {
	enc, err := anchor.abi.Pack("latestSize", gateway)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackLatestSize is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf588fe05.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function latestSize(address gateway) view returns(uint64)
func (anchor *Anchor) TryPackLatestSize(gateway common.Address) ([]byte, error) {
	return anchor.abi.Pack("latestSize", gateway)
}

// UnpackLatestSize is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xf588fe05.
//
// Solidity: function latestSize(address gateway) view returns(uint64)
func (anchor *Anchor) UnpackLatestSize(data []byte) (uint64, error) {
	out, err := anchor.abi.Unpack("latestSize", data)
	if err != nil {
		return *new(uint64), err
	}
	out0 := *abi.ConvertType(out[0], new(uint64)).(*uint64)
	return out0, nil
}

// PackRemoveGateway is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8a885e35.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function removeGateway(address gateway) returns()
func (anchor *Anchor) PackRemoveGateway(gateway common.Address) []byte {
	enc, err := anchor.abi.Pack("removeGateway", gateway)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRemoveGateway is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8a885e35.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function removeGateway(address gateway) returns()
func (anchor *Anchor) TryPackRemoveGateway(gateway common.Address) ([]byte, error) {
	return anchor.abi.Pack("removeGateway", gateway)
}

// PackTransferAdmin is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x75829def.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function transferAdmin(address next) returns()
func (anchor *Anchor) PackTransferAdmin(next common.Address) []byte {
	enc, err := anchor.abi.Pack("transferAdmin", next)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackTransferAdmin is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x75829def.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function transferAdmin(address next) returns()
func (anchor *Anchor) TryPackTransferAdmin(next common.Address) ([]byte, error) {
	return anchor.abi.Pack("transferAdmin", next)
}

// AnchorAdminChanged represents a AdminChanged event raised by the Anchor contract.
type AnchorAdminChanged struct {
	Previous common.Address
	Next     common.Address
	Raw      *types.Log // Blockchain specific contextual infos
}

const AnchorAdminChangedEventName = "AdminChanged"

// ContractEventName returns the user-defined event name.
func (AnchorAdminChanged) ContractEventName() string {
	return AnchorAdminChangedEventName
}

// UnpackAdminChangedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event AdminChanged(address indexed previous, address indexed next)
func (anchor *Anchor) UnpackAdminChangedEvent(log *types.Log) (*AnchorAdminChanged, error) {
	event := "AdminChanged"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != anchor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(AnchorAdminChanged)
	if len(log.Data) > 0 {
		if err := anchor.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range anchor.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// AnchorAnchored represents a Anchored event raised by the Anchor contract.
type AnchorAnchored struct {
	Gateway common.Address
	Size    uint64
	Root    [32]byte
	Raw     *types.Log // Blockchain specific contextual infos
}

const AnchorAnchoredEventName = "Anchored"

// ContractEventName returns the user-defined event name.
func (AnchorAnchored) ContractEventName() string {
	return AnchorAnchoredEventName
}

// UnpackAnchoredEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Anchored(address indexed gateway, uint64 indexed size, bytes32 root)
func (anchor *Anchor) UnpackAnchoredEvent(log *types.Log) (*AnchorAnchored, error) {
	event := "Anchored"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != anchor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(AnchorAnchored)
	if len(log.Data) > 0 {
		if err := anchor.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range anchor.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// AnchorGatewayAdded represents a GatewayAdded event raised by the Anchor contract.
type AnchorGatewayAdded struct {
	Gateway common.Address
	Raw     *types.Log // Blockchain specific contextual infos
}

const AnchorGatewayAddedEventName = "GatewayAdded"

// ContractEventName returns the user-defined event name.
func (AnchorGatewayAdded) ContractEventName() string {
	return AnchorGatewayAddedEventName
}

// UnpackGatewayAddedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event GatewayAdded(address indexed gateway)
func (anchor *Anchor) UnpackGatewayAddedEvent(log *types.Log) (*AnchorGatewayAdded, error) {
	event := "GatewayAdded"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != anchor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(AnchorGatewayAdded)
	if len(log.Data) > 0 {
		if err := anchor.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range anchor.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// AnchorGatewayRemoved represents a GatewayRemoved event raised by the Anchor contract.
type AnchorGatewayRemoved struct {
	Gateway common.Address
	Raw     *types.Log // Blockchain specific contextual infos
}

const AnchorGatewayRemovedEventName = "GatewayRemoved"

// ContractEventName returns the user-defined event name.
func (AnchorGatewayRemoved) ContractEventName() string {
	return AnchorGatewayRemovedEventName
}

// UnpackGatewayRemovedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event GatewayRemoved(address indexed gateway)
func (anchor *Anchor) UnpackGatewayRemovedEvent(log *types.Log) (*AnchorGatewayRemoved, error) {
	event := "GatewayRemoved"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != anchor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(AnchorGatewayRemoved)
	if len(log.Data) > 0 {
		if err := anchor.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range anchor.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// UnpackError attempts to decode the provided error data using user-defined
// error definitions.
func (anchor *Anchor) UnpackError(raw []byte) (any, error) {
	if bytes.Equal(raw[:4], anchor.abi.Errors["NotAdmin"].ID.Bytes()[:4]) {
		return anchor.UnpackNotAdminError(raw[4:])
	}
	if bytes.Equal(raw[:4], anchor.abi.Errors["NotGateway"].ID.Bytes()[:4]) {
		return anchor.UnpackNotGatewayError(raw[4:])
	}
	if bytes.Equal(raw[:4], anchor.abi.Errors["SizeNotGrowing"].ID.Bytes()[:4]) {
		return anchor.UnpackSizeNotGrowingError(raw[4:])
	}
	if bytes.Equal(raw[:4], anchor.abi.Errors["ZeroAddress"].ID.Bytes()[:4]) {
		return anchor.UnpackZeroAddressError(raw[4:])
	}
	return nil, errors.New("Unknown error")
}

// AnchorNotAdmin represents a NotAdmin error raised by the Anchor contract.
type AnchorNotAdmin struct {
	Caller common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NotAdmin(address caller)
func AnchorNotAdminErrorID() common.Hash {
	return common.HexToHash("0x17a8424239494df835a470bd5e48f10a94b5febfef662a1917fe31decebbedeb")
}

// UnpackNotAdminError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NotAdmin(address caller)
func (anchor *Anchor) UnpackNotAdminError(raw []byte) (*AnchorNotAdmin, error) {
	out := new(AnchorNotAdmin)
	if err := anchor.abi.UnpackIntoInterface(out, "NotAdmin", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// AnchorNotGateway represents a NotGateway error raised by the Anchor contract.
type AnchorNotGateway struct {
	Caller common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NotGateway(address caller)
func AnchorNotGatewayErrorID() common.Hash {
	return common.HexToHash("0x0b1c2e61e63311e52da70db96b5acff02375ab8c96a8d5ff8946bf0b42439070")
}

// UnpackNotGatewayError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NotGateway(address caller)
func (anchor *Anchor) UnpackNotGatewayError(raw []byte) (*AnchorNotGateway, error) {
	out := new(AnchorNotGateway)
	if err := anchor.abi.UnpackIntoInterface(out, "NotGateway", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// AnchorSizeNotGrowing represents a SizeNotGrowing error raised by the Anchor contract.
type AnchorSizeNotGrowing struct {
	Latest uint64
	Size   uint64
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error SizeNotGrowing(uint64 latest, uint64 size)
func AnchorSizeNotGrowingErrorID() common.Hash {
	return common.HexToHash("0xcfd88f7dd36902f879d3272f0f0fbfa3032fd2b2a22ae7a3e1ace745bc16f459")
}

// UnpackSizeNotGrowingError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error SizeNotGrowing(uint64 latest, uint64 size)
func (anchor *Anchor) UnpackSizeNotGrowingError(raw []byte) (*AnchorSizeNotGrowing, error) {
	out := new(AnchorSizeNotGrowing)
	if err := anchor.abi.UnpackIntoInterface(out, "SizeNotGrowing", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// AnchorZeroAddress represents a ZeroAddress error raised by the Anchor contract.
type AnchorZeroAddress struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ZeroAddress()
func AnchorZeroAddressErrorID() common.Hash {
	return common.HexToHash("0xd92e233df2717d4a40030e20904abd27b68fcbeede117eaaccbbdac9618c8c73")
}

// UnpackZeroAddressError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ZeroAddress()
func (anchor *Anchor) UnpackZeroAddressError(raw []byte) (*AnchorZeroAddress, error) {
	out := new(AnchorZeroAddress)
	if err := anchor.abi.UnpackIntoInterface(out, "ZeroAddress", raw); err != nil {
		return nil, err
	}
	return out, nil
}
