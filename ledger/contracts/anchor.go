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

// AnchorKey is an auto generated low-level Go binding around an user-defined struct.
type AnchorKey struct {
	KeyHash    [32]byte
	FromBlock  uint64
	UntilBlock uint64
}

// AnchorMetaData contains all meta data concerning the Anchor contract.
var AnchorMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"address\",\"name\":\"admin_\",\"type\":\"address\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"},{\"internalType\":\"bytes32\",\"name\":\"logHash\",\"type\":\"bytes32\"}],\"name\":\"BoundToOtherBox\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"logHash\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"owner\",\"type\":\"address\"}],\"name\":\"BoxTaken\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"EmptyBox\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"caller\",\"type\":\"address\"}],\"name\":\"NotAdmin\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"caller\",\"type\":\"address\"}],\"name\":\"NotGateway\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint64\",\"name\":\"latest\",\"type\":\"uint64\"},{\"internalType\":\"uint64\",\"name\":\"size\",\"type\":\"uint64\"}],\"name\":\"SizeNotGrowing\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"bound\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"logHash\",\"type\":\"bytes32\"}],\"name\":\"WrongLog\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ZeroAddress\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ZeroKey\",\"type\":\"error\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"previous\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"next\",\"type\":\"address\"}],\"name\":\"AdminChanged\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"uint64\",\"name\":\"size\",\"type\":\"uint64\"},{\"indexed\":false,\"internalType\":\"bytes32\",\"name\":\"root\",\"type\":\"bytes32\"}],\"name\":\"Anchored\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"string\",\"name\":\"box\",\"type\":\"string\"},{\"indexed\":false,\"internalType\":\"bytes32\",\"name\":\"keyHash\",\"type\":\"bytes32\"}],\"name\":\"GatewayRegistered\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"}],\"name\":\"GatewayRevoked\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"bytes32\",\"name\":\"keyHash\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"uint64\",\"name\":\"fromBlock\",\"type\":\"uint64\"}],\"name\":\"KeyRotated\",\"type\":\"event\"},{\"inputs\":[],\"name\":\"admin\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint64\",\"name\":\"size\",\"type\":\"uint64\"},{\"internalType\":\"bytes32\",\"name\":\"root\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"logHash\",\"type\":\"bytes32\"}],\"name\":\"anchor\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"},{\"internalType\":\"bytes32\",\"name\":\"logHash\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"keyHash\",\"type\":\"bytes32\"},{\"internalType\":\"uint64\",\"name\":\"blockNumber\",\"type\":\"uint64\"}],\"name\":\"bound\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"}],\"name\":\"isGateway\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"}],\"name\":\"keysOf\",\"outputs\":[{\"components\":[{\"internalType\":\"bytes32\",\"name\":\"keyHash\",\"type\":\"bytes32\"},{\"internalType\":\"uint64\",\"name\":\"fromBlock\",\"type\":\"uint64\"},{\"internalType\":\"uint64\",\"name\":\"untilBlock\",\"type\":\"uint64\"}],\"internalType\":\"structAnchor.Key[]\",\"name\":\"\",\"type\":\"tuple[]\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"}],\"name\":\"latestSize\",\"outputs\":[{\"internalType\":\"uint64\",\"name\":\"\",\"type\":\"uint64\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"}],\"name\":\"logHashOf\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"},{\"internalType\":\"string\",\"name\":\"box\",\"type\":\"string\"},{\"internalType\":\"bytes32\",\"name\":\"keyHash\",\"type\":\"bytes32\"}],\"name\":\"register\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"}],\"name\":\"revoke\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"gateway\",\"type\":\"address\"},{\"internalType\":\"bytes32\",\"name\":\"keyHash\",\"type\":\"bytes32\"}],\"name\":\"rotateKey\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"next\",\"type\":\"address\"}],\"name\":\"transferAdmin\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	ID:  "Anchor",
	Bin: "0x6080604052348015600f57600080fd5b506040516112f93803806112f9833981016040819052602c91609f565b6001600160a01b03811660525760405163d92e233d60e01b815260040160405180910390fd5b600080546001600160a01b0319166001600160a01b03831690811782556040519091907f7e644d79422f17c01e4894b5f4f588d331ebfa28653d42ae832dc59e38c9798f908290a35060cd565b60006020828403121560b057600080fd5b81516001600160a01b038116811460c657600080fd5b9392505050565b61121d806100dc6000396000f3fe608060405234801561001057600080fd5b50600436106100c95760003560e01c806375829def11610081578063ded8b1801161005b578063ded8b180146101e9578063f588fe05146101fc578063f851a4401461025a57600080fd5b806375829def146101555780638cabaed214610168578063bfe69d9a146101b057600080fd5b806355032851116100b2578063550328511461011a5780637494b1af1461012f57806374a8f1031461014257600080fd5b80630e959b29146100ce578063364d5542146100f7575b600080fd5b6100e16100dc366004610f21565b61029f565b6040516100ee9190610f43565b60405180910390f35b61010a610105366004610fce565b61034f565b60405190151581526020016100ee565b61012d610128366004611014565b610498565b005b61012d61013d3660046110a0565b610893565b61012d610150366004610f21565b610a0b565b61012d610163366004610f21565b610af6565b6101a2610176366004610f21565b73ffffffffffffffffffffffffffffffffffffffff166000908152600160208190526040909120015490565b6040519081526020016100ee565b61010a6101be366004610f21565b73ffffffffffffffffffffffffffffffffffffffff1660009081526001602052604090205460ff1690565b61012d6101f73660046110d3565b610c23565b61024161020a366004610f21565b73ffffffffffffffffffffffffffffffffffffffff16600090815260016020526040902054610100900467ffffffffffffffff1690565b60405167ffffffffffffffff90911681526020016100ee565b60005461027a9073ffffffffffffffffffffffffffffffffffffffff1681565b60405173ffffffffffffffffffffffffffffffffffffffff90911681526020016100ee565b73ffffffffffffffffffffffffffffffffffffffff81166000908152600260209081526040808320805482518185028101850190935280835260609492939192909184015b8282101561034457600084815260209081902060408051606081018252600286029092018054835260019081015467ffffffffffffffff8082168587015268010000000000000000909104169183019190915290835290920191016102e4565b505050509050919050565b73ffffffffffffffffffffffffffffffffffffffff84166000908152600160205260408120805460ff161580610389575084816001015414155b15610398576000915050610490565b73ffffffffffffffffffffffffffffffffffffffff8616600090815260026020526040902080545b8015610488576000826103d460018461112c565b815481106103e4576103e4611145565b906000526020600020906002020190508681600001541480156104185750600181015467ffffffffffffffff808816911611155b80156104635750600181015468010000000000000000900467ffffffffffffffff1615806104635750600181015467ffffffffffffffff680100000000000000009091048116908716105b15610475576001945050505050610490565b508061048081611174565b9150506103c0565b506000925050505b949350505050565b60005473ffffffffffffffffffffffffffffffffffffffff1633146104f0576040517f17a842420000000000000000000000000000000000000000000000000000000081523360048201526024015b60405180910390fd5b73ffffffffffffffffffffffffffffffffffffffff841661053d576040517fd92e233d00000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b6000829003610578576040517fb6272d8400000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b806105af576040517ffbd849c600000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b600083836040516105c19291906111a9565b604080519182900390912073ffffffffffffffffffffffffffffffffffffffff8716600090815260016020819052929020918201549092501580159061060b575081816001015414155b156106675760018101546040517f2b632c5500000000000000000000000000000000000000000000000000000000815273ffffffffffffffffffffffffffffffffffffffff8816600482015260248101919091526044016104e7565b60008281526003602052604090205473ffffffffffffffffffffffffffffffffffffffff1680158015906106c757508673ffffffffffffffffffffffffffffffffffffffff168173ffffffffffffffffffffffffffffffffffffffff1614155b1561071d576040517fcb4db7910000000000000000000000000000000000000000000000000000000081526004810184905273ffffffffffffffffffffffffffffffffffffffff821660248201526044016104e7565b600083815260036020526040902080547fffffffffffffffffffffffff00000000000000000000000000000000000000001673ffffffffffffffffffffffffffffffffffffffff891617905581547fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff00166001908117835582018390556107a287610e19565b73ffffffffffffffffffffffffffffffffffffffff8716600081815260026020818152604080842081516060810183528a815267ffffffffffffffff438116828601908152828501888152845460018181018755958a52969098209251959096029091019384559351920180549451841668010000000000000000027fffffffffffffffffffffffffffffffff000000000000000000000000000000009095169290931691909117929092179055517f33c658b9bedeb3d02e88bd68fb7e3693cc078d58556aeb40ac0f4b87c176698690610882908990899089906111b9565b60405180910390a250505050505050565b336000908152600160205260409020805460ff166108df576040517f0b1c2e610000000000000000000000000000000000000000000000000000000081523360048201526024016104e7565b8181600101541461092c5760018101546040517f1f840c4f0000000000000000000000000000000000000000000000000000000081526004810191909152602481018390526044016104e7565b805467ffffffffffffffff6101009091048116908516116109955780546040517fcfd88f7d00000000000000000000000000000000000000000000000000000000815261010090910467ffffffffffffffff9081166004830152851660248201526044016104e7565b80547fffffffffffffffffffffffffffffffffffffffffffffff0000000000000000ff1661010067ffffffffffffffff861690810291909117825560405184815233907f0cd48d2f0de2b26babeaa563bc19f67e7b14bb998edeaabe4592e8b4472dda6b9060200160405180910390a350505050565b60005473ffffffffffffffffffffffffffffffffffffffff163314610a5e576040517f17a842420000000000000000000000000000000000000000000000000000000081523360048201526024016104e7565b73ffffffffffffffffffffffffffffffffffffffff8116600090815260016020526040902080547fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff00169055610ab281610e19565b60405173ffffffffffffffffffffffffffffffffffffffff8216907f3ab01fe5356cd9e5f966e94c7294a3a850b8e1c1b8f62e7293c3ea6a402309ca90600090a250565b60005473ffffffffffffffffffffffffffffffffffffffff163314610b49576040517f17a842420000000000000000000000000000000000000000000000000000000081523360048201526024016104e7565b73ffffffffffffffffffffffffffffffffffffffff8116610b96576040517fd92e233d00000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b6000805460405173ffffffffffffffffffffffffffffffffffffffff808516939216917f7e644d79422f17c01e4894b5f4f588d331ebfa28653d42ae832dc59e38c9798f91a3600080547fffffffffffffffffffffffff00000000000000000000000000000000000000001673ffffffffffffffffffffffffffffffffffffffff92909216919091179055565b60005473ffffffffffffffffffffffffffffffffffffffff163314610c76576040517f17a842420000000000000000000000000000000000000000000000000000000081523360048201526024016104e7565b73ffffffffffffffffffffffffffffffffffffffff821660009081526001602052604090205460ff16610ced576040517f0b1c2e6100000000000000000000000000000000000000000000000000000000815273ffffffffffffffffffffffffffffffffffffffff831660048201526024016104e7565b80610d24576040517ffbd849c600000000000000000000000000000000000000000000000000000000815260040160405180910390fd5b610d2d82610e19565b73ffffffffffffffffffffffffffffffffffffffff82166000818152600260208181526040808420815160608101835287815267ffffffffffffffff438116828601818152838601898152855460018082018855968b529988902094519990980290930197885591519690920180549551831668010000000000000000027fffffffffffffffffffffffffffffffff000000000000000000000000000000009096169690921695909517939093179092558151858152908101929092527fee0d133703a4b05903e7bfef2a8a4c596851d72d03601e32b393ed9d96aa1577910160405180910390a25050565b73ffffffffffffffffffffffffffffffffffffffff81166000908152600260205260409020805415801590610e95575080548190610e599060019061112c565b81548110610e6957610e69611145565b600091825260209091206002909102016001015468010000000000000000900467ffffffffffffffff16155b15610ef457805443908290610eac9060019061112c565b81548110610ebc57610ebc611145565b906000526020600020906002020160010160086101000a81548167ffffffffffffffff021916908367ffffffffffffffff1602179055505b5050565b803573ffffffffffffffffffffffffffffffffffffffff81168114610f1c57600080fd5b919050565b600060208284031215610f3357600080fd5b610f3c82610ef8565b9392505050565b602080825282518282018190526000918401906040840190835b81811015610fab5783518051845267ffffffffffffffff602082015116602085015267ffffffffffffffff604082015116604085015250606083019250602084019350600181019050610f5d565b509095945050505050565b803567ffffffffffffffff81168114610f1c57600080fd5b60008060008060808587031215610fe457600080fd5b610fed85610ef8565b9350602085013592506040850135915061100960608601610fb6565b905092959194509250565b6000806000806060858703121561102a57600080fd5b61103385610ef8565b9350602085013567ffffffffffffffff81111561104f57600080fd5b8501601f8101871361106057600080fd5b803567ffffffffffffffff81111561107757600080fd5b87602082840101111561108957600080fd5b949760209190910196509394604001359392505050565b6000806000606084860312156110b557600080fd5b6110be84610fb6565b95602085013595506040909401359392505050565b600080604083850312156110e657600080fd5b6110ef83610ef8565b946020939093013593505050565b7f4e487b7100000000000000000000000000000000000000000000000000000000600052601160045260246000fd5b8181038181111561113f5761113f6110fd565b92915050565b7f4e487b7100000000000000000000000000000000000000000000000000000000600052603260045260246000fd5b600081611183576111836110fd565b507fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0190565b8183823760009101908152919050565b6040815282604082015282846060830137600060608483010152600060607fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe0601f860116830101905082602083015294935050505056fea164736f6c634300081c000a",
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
// the contract method with ID 0x7494b1af.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function anchor(uint64 size, bytes32 root, bytes32 logHash) returns()
func (anchor *Anchor) PackAnchor(size uint64, root [32]byte, logHash [32]byte) []byte {
	enc, err := anchor.abi.Pack("anchor", size, root, logHash)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackAnchor is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x7494b1af.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function anchor(uint64 size, bytes32 root, bytes32 logHash) returns()
func (anchor *Anchor) TryPackAnchor(size uint64, root [32]byte, logHash [32]byte) ([]byte, error) {
	return anchor.abi.Pack("anchor", size, root, logHash)
}

// PackBound is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x364d5542.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function bound(address gateway, bytes32 logHash, bytes32 keyHash, uint64 blockNumber) view returns(bool)
func (anchor *Anchor) PackBound(gateway common.Address, logHash [32]byte, keyHash [32]byte, blockNumber uint64) []byte {
	enc, err := anchor.abi.Pack("bound", gateway, logHash, keyHash, blockNumber)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackBound is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x364d5542.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function bound(address gateway, bytes32 logHash, bytes32 keyHash, uint64 blockNumber) view returns(bool)
func (anchor *Anchor) TryPackBound(gateway common.Address, logHash [32]byte, keyHash [32]byte, blockNumber uint64) ([]byte, error) {
	return anchor.abi.Pack("bound", gateway, logHash, keyHash, blockNumber)
}

// UnpackBound is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x364d5542.
//
// Solidity: function bound(address gateway, bytes32 logHash, bytes32 keyHash, uint64 blockNumber) view returns(bool)
func (anchor *Anchor) UnpackBound(data []byte) (bool, error) {
	out, err := anchor.abi.Unpack("bound", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
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

// PackKeysOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x0e959b29.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function keysOf(address gateway) view returns((bytes32,uint64,uint64)[])
func (anchor *Anchor) PackKeysOf(gateway common.Address) []byte {
	enc, err := anchor.abi.Pack("keysOf", gateway)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackKeysOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x0e959b29.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function keysOf(address gateway) view returns((bytes32,uint64,uint64)[])
func (anchor *Anchor) TryPackKeysOf(gateway common.Address) ([]byte, error) {
	return anchor.abi.Pack("keysOf", gateway)
}

// UnpackKeysOf is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x0e959b29.
//
// Solidity: function keysOf(address gateway) view returns((bytes32,uint64,uint64)[])
func (anchor *Anchor) UnpackKeysOf(data []byte) ([]AnchorKey, error) {
	out, err := anchor.abi.Unpack("keysOf", data)
	if err != nil {
		return *new([]AnchorKey), err
	}
	out0 := *abi.ConvertType(out[0], new([]AnchorKey)).(*[]AnchorKey)
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

// PackLogHashOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8cabaed2.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function logHashOf(address gateway) view returns(bytes32)
func (anchor *Anchor) PackLogHashOf(gateway common.Address) []byte {
	enc, err := anchor.abi.Pack("logHashOf", gateway)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackLogHashOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8cabaed2.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function logHashOf(address gateway) view returns(bytes32)
func (anchor *Anchor) TryPackLogHashOf(gateway common.Address) ([]byte, error) {
	return anchor.abi.Pack("logHashOf", gateway)
}

// UnpackLogHashOf is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x8cabaed2.
//
// Solidity: function logHashOf(address gateway) view returns(bytes32)
func (anchor *Anchor) UnpackLogHashOf(data []byte) ([32]byte, error) {
	out, err := anchor.abi.Unpack("logHashOf", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackRegister is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x55032851.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function register(address gateway, string box, bytes32 keyHash) returns()
func (anchor *Anchor) PackRegister(gateway common.Address, box string, keyHash [32]byte) []byte {
	enc, err := anchor.abi.Pack("register", gateway, box, keyHash)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRegister is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x55032851.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function register(address gateway, string box, bytes32 keyHash) returns()
func (anchor *Anchor) TryPackRegister(gateway common.Address, box string, keyHash [32]byte) ([]byte, error) {
	return anchor.abi.Pack("register", gateway, box, keyHash)
}

// PackRevoke is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x74a8f103.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function revoke(address gateway) returns()
func (anchor *Anchor) PackRevoke(gateway common.Address) []byte {
	enc, err := anchor.abi.Pack("revoke", gateway)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRevoke is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x74a8f103.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function revoke(address gateway) returns()
func (anchor *Anchor) TryPackRevoke(gateway common.Address) ([]byte, error) {
	return anchor.abi.Pack("revoke", gateway)
}

// PackRotateKey is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xded8b180.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function rotateKey(address gateway, bytes32 keyHash) returns()
func (anchor *Anchor) PackRotateKey(gateway common.Address, keyHash [32]byte) []byte {
	enc, err := anchor.abi.Pack("rotateKey", gateway, keyHash)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRotateKey is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xded8b180.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function rotateKey(address gateway, bytes32 keyHash) returns()
func (anchor *Anchor) TryPackRotateKey(gateway common.Address, keyHash [32]byte) ([]byte, error) {
	return anchor.abi.Pack("rotateKey", gateway, keyHash)
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

// AnchorGatewayRegistered represents a GatewayRegistered event raised by the Anchor contract.
type AnchorGatewayRegistered struct {
	Gateway common.Address
	Box     string
	KeyHash [32]byte
	Raw     *types.Log // Blockchain specific contextual infos
}

const AnchorGatewayRegisteredEventName = "GatewayRegistered"

// ContractEventName returns the user-defined event name.
func (AnchorGatewayRegistered) ContractEventName() string {
	return AnchorGatewayRegisteredEventName
}

// UnpackGatewayRegisteredEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event GatewayRegistered(address indexed gateway, string box, bytes32 keyHash)
func (anchor *Anchor) UnpackGatewayRegisteredEvent(log *types.Log) (*AnchorGatewayRegistered, error) {
	event := "GatewayRegistered"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != anchor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(AnchorGatewayRegistered)
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

// AnchorGatewayRevoked represents a GatewayRevoked event raised by the Anchor contract.
type AnchorGatewayRevoked struct {
	Gateway common.Address
	Raw     *types.Log // Blockchain specific contextual infos
}

const AnchorGatewayRevokedEventName = "GatewayRevoked"

// ContractEventName returns the user-defined event name.
func (AnchorGatewayRevoked) ContractEventName() string {
	return AnchorGatewayRevokedEventName
}

// UnpackGatewayRevokedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event GatewayRevoked(address indexed gateway)
func (anchor *Anchor) UnpackGatewayRevokedEvent(log *types.Log) (*AnchorGatewayRevoked, error) {
	event := "GatewayRevoked"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != anchor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(AnchorGatewayRevoked)
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

// AnchorKeyRotated represents a KeyRotated event raised by the Anchor contract.
type AnchorKeyRotated struct {
	Gateway   common.Address
	KeyHash   [32]byte
	FromBlock uint64
	Raw       *types.Log // Blockchain specific contextual infos
}

const AnchorKeyRotatedEventName = "KeyRotated"

// ContractEventName returns the user-defined event name.
func (AnchorKeyRotated) ContractEventName() string {
	return AnchorKeyRotatedEventName
}

// UnpackKeyRotatedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event KeyRotated(address indexed gateway, bytes32 keyHash, uint64 fromBlock)
func (anchor *Anchor) UnpackKeyRotatedEvent(log *types.Log) (*AnchorKeyRotated, error) {
	event := "KeyRotated"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != anchor.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(AnchorKeyRotated)
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
	if bytes.Equal(raw[:4], anchor.abi.Errors["BoundToOtherBox"].ID.Bytes()[:4]) {
		return anchor.UnpackBoundToOtherBoxError(raw[4:])
	}
	if bytes.Equal(raw[:4], anchor.abi.Errors["BoxTaken"].ID.Bytes()[:4]) {
		return anchor.UnpackBoxTakenError(raw[4:])
	}
	if bytes.Equal(raw[:4], anchor.abi.Errors["EmptyBox"].ID.Bytes()[:4]) {
		return anchor.UnpackEmptyBoxError(raw[4:])
	}
	if bytes.Equal(raw[:4], anchor.abi.Errors["NotAdmin"].ID.Bytes()[:4]) {
		return anchor.UnpackNotAdminError(raw[4:])
	}
	if bytes.Equal(raw[:4], anchor.abi.Errors["NotGateway"].ID.Bytes()[:4]) {
		return anchor.UnpackNotGatewayError(raw[4:])
	}
	if bytes.Equal(raw[:4], anchor.abi.Errors["SizeNotGrowing"].ID.Bytes()[:4]) {
		return anchor.UnpackSizeNotGrowingError(raw[4:])
	}
	if bytes.Equal(raw[:4], anchor.abi.Errors["WrongLog"].ID.Bytes()[:4]) {
		return anchor.UnpackWrongLogError(raw[4:])
	}
	if bytes.Equal(raw[:4], anchor.abi.Errors["ZeroAddress"].ID.Bytes()[:4]) {
		return anchor.UnpackZeroAddressError(raw[4:])
	}
	if bytes.Equal(raw[:4], anchor.abi.Errors["ZeroKey"].ID.Bytes()[:4]) {
		return anchor.UnpackZeroKeyError(raw[4:])
	}
	return nil, errors.New("Unknown error")
}

// AnchorBoundToOtherBox represents a BoundToOtherBox error raised by the Anchor contract.
type AnchorBoundToOtherBox struct {
	Gateway common.Address
	LogHash [32]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error BoundToOtherBox(address gateway, bytes32 logHash)
func AnchorBoundToOtherBoxErrorID() common.Hash {
	return common.HexToHash("0x2b632c557ad8802a46fda6616d427656718591b493f37e9597483a10f3e8591e")
}

// UnpackBoundToOtherBoxError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error BoundToOtherBox(address gateway, bytes32 logHash)
func (anchor *Anchor) UnpackBoundToOtherBoxError(raw []byte) (*AnchorBoundToOtherBox, error) {
	out := new(AnchorBoundToOtherBox)
	if err := anchor.abi.UnpackIntoInterface(out, "BoundToOtherBox", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// AnchorBoxTaken represents a BoxTaken error raised by the Anchor contract.
type AnchorBoxTaken struct {
	LogHash [32]byte
	Owner   common.Address
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error BoxTaken(bytes32 logHash, address owner)
func AnchorBoxTakenErrorID() common.Hash {
	return common.HexToHash("0xcb4db791f161d6bc8b6d1d56f7ff8b346a0298b7852adcf0371b797725690da8")
}

// UnpackBoxTakenError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error BoxTaken(bytes32 logHash, address owner)
func (anchor *Anchor) UnpackBoxTakenError(raw []byte) (*AnchorBoxTaken, error) {
	out := new(AnchorBoxTaken)
	if err := anchor.abi.UnpackIntoInterface(out, "BoxTaken", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// AnchorEmptyBox represents a EmptyBox error raised by the Anchor contract.
type AnchorEmptyBox struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error EmptyBox()
func AnchorEmptyBoxErrorID() common.Hash {
	return common.HexToHash("0xb6272d841795c649aab83f228ed8cf80338faaf6442b89168be5fffd711b3014")
}

// UnpackEmptyBoxError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error EmptyBox()
func (anchor *Anchor) UnpackEmptyBoxError(raw []byte) (*AnchorEmptyBox, error) {
	out := new(AnchorEmptyBox)
	if err := anchor.abi.UnpackIntoInterface(out, "EmptyBox", raw); err != nil {
		return nil, err
	}
	return out, nil
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

// AnchorWrongLog represents a WrongLog error raised by the Anchor contract.
type AnchorWrongLog struct {
	Bound   [32]byte
	LogHash [32]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error WrongLog(bytes32 bound, bytes32 logHash)
func AnchorWrongLogErrorID() common.Hash {
	return common.HexToHash("0x1f840c4f5545c5ca41ff30a2f680cb0ad0a857ce3f8539c9ea640c46673e0aa4")
}

// UnpackWrongLogError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error WrongLog(bytes32 bound, bytes32 logHash)
func (anchor *Anchor) UnpackWrongLogError(raw []byte) (*AnchorWrongLog, error) {
	out := new(AnchorWrongLog)
	if err := anchor.abi.UnpackIntoInterface(out, "WrongLog", raw); err != nil {
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

// AnchorZeroKey represents a ZeroKey error raised by the Anchor contract.
type AnchorZeroKey struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ZeroKey()
func AnchorZeroKeyErrorID() common.Hash {
	return common.HexToHash("0xfbd849c64583c50579479efaac1ef44e6d9d78379a9ea28aa6150a3b683c09f5")
}

// UnpackZeroKeyError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ZeroKey()
func (anchor *Anchor) UnpackZeroKeyError(raw []byte) (*AnchorZeroKey, error) {
	out := new(AnchorZeroKey)
	if err := anchor.abi.UnpackIntoInterface(out, "ZeroKey", raw); err != nil {
		return nil, err
	}
	return out, nil
}
