// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title wardgate checkpoint anchor
/// @notice Each registered gateway (one per hospital box) anchors the signed
/// checkpoints of its Merkle log here: one transaction per checkpoint. The log
/// size must grow per gateway, so a box cannot roll its log back on chain.
///
/// The consortium admin binds each gateway account to one box name (its log
/// name) and to the hash of the box's record key. anchor() refuses a
/// checkpoint of another box's log, and verifiers ask bound() whether the
/// anchoring gateway was bound to the receipt's log and record key at the
/// anchor block. A rotated key stays valid for the blocks before the
/// rotation, so receipts anchored under it keep verifying.
///
/// Roots live in the Anchored event; per gateway only the registered flag,
/// the latest size and the log hash are stored, so a checkpoint costs one
/// warm slot write and two cold reads.
contract Anchor {
    struct Gateway {
        bool registered;
        uint64 size;
        bytes32 logHash; // keccak256 of the box (log) name; never changes once set
    }

    /// @notice A record key hash, valid for blocks [fromBlock, untilBlock);
    /// untilBlock 0 means still valid.
    struct Key {
        bytes32 keyHash;
        uint64 fromBlock;
        uint64 untilBlock;
    }

    address public admin;
    mapping(address => Gateway) private gateways;
    mapping(address => Key[]) private keys;
    mapping(bytes32 => address) private boxOwner;

    event Anchored(address indexed gateway, uint64 indexed size, bytes32 root);
    event GatewayRegistered(address indexed gateway, string box, bytes32 keyHash);
    event KeyRotated(address indexed gateway, bytes32 keyHash, uint64 fromBlock);
    event GatewayRevoked(address indexed gateway);
    event AdminChanged(address indexed previous, address indexed next);

    error NotAdmin(address caller);
    error NotGateway(address caller);
    error SizeNotGrowing(uint64 latest, uint64 size);
    error ZeroAddress();
    error EmptyBox();
    error ZeroKey();
    error BoundToOtherBox(address gateway, bytes32 logHash);
    error BoxTaken(bytes32 logHash, address owner);
    error WrongLog(bytes32 bound, bytes32 logHash);

    constructor(address admin_) {
        if (admin_ == address(0)) revert ZeroAddress();
        admin = admin_;
        emit AdminChanged(address(0), admin_);
    }

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        _;
    }

    /// @notice Registers gateway as the anchoring account of box, whose
    /// record key hashes to keyHash. A box name belongs to one gateway for
    /// good; a revoked gateway may be registered again for the same box
    /// only, and keeps its latest size, so re-adding cannot reset its log.
    function register(address gateway, string calldata box, bytes32 keyHash) external onlyAdmin {
        if (gateway == address(0)) revert ZeroAddress();
        if (bytes(box).length == 0) revert EmptyBox();
        if (keyHash == bytes32(0)) revert ZeroKey();
        bytes32 h = keccak256(bytes(box));
        Gateway storage g = gateways[gateway];
        if (g.logHash != bytes32(0) && g.logHash != h) revert BoundToOtherBox(gateway, g.logHash);
        address owner = boxOwner[h];
        if (owner != address(0) && owner != gateway) revert BoxTaken(h, owner);
        boxOwner[h] = gateway;
        g.registered = true;
        g.logHash = h;
        closeKey(gateway);
        keys[gateway].push(Key(keyHash, uint64(block.number), 0));
        emit GatewayRegistered(gateway, box, keyHash);
    }

    /// @notice Replaces the gateway's record key from this block on (after
    /// an approved firmware upgrade); the old key stays valid for the
    /// blocks before.
    function rotateKey(address gateway, bytes32 keyHash) external onlyAdmin {
        if (!gateways[gateway].registered) revert NotGateway(gateway);
        if (keyHash == bytes32(0)) revert ZeroKey();
        closeKey(gateway);
        keys[gateway].push(Key(keyHash, uint64(block.number), 0));
        emit KeyRotated(gateway, keyHash, uint64(block.number));
    }

    /// @notice Revokes a gateway: it can no longer anchor, and verifiers stop
    /// trusting everything it anchored.
    function revoke(address gateway) external onlyAdmin {
        gateways[gateway].registered = false;
        closeKey(gateway);
        emit GatewayRevoked(gateway);
    }

    function transferAdmin(address next) external onlyAdmin {
        if (next == address(0)) revert ZeroAddress();
        emit AdminChanged(admin, next);
        admin = next;
    }

    function closeKey(address gateway) private {
        Key[] storage ks = keys[gateway];
        if (ks.length > 0 && ks[ks.length - 1].untilBlock == 0) {
            ks[ks.length - 1].untilBlock = uint64(block.number);
        }
    }

    /// @notice Anchors checkpoint (size, root) of the caller's log, whose
    /// name hashes to logHash.
    function anchor(uint64 size, bytes32 root, bytes32 logHash) external {
        Gateway storage g = gateways[msg.sender];
        if (!g.registered) revert NotGateway(msg.sender);
        if (g.logHash != logHash) revert WrongLog(g.logHash, logHash);
        if (size <= g.size) revert SizeNotGrowing(g.size, size);
        g.size = size;
        emit Anchored(msg.sender, size, root);
    }

    /// @notice Whether gateway is registered, bound to the log hashing to
    /// logHash, and held the record key hashing to keyHash at blockNumber.
    function bound(address gateway, bytes32 logHash, bytes32 keyHash, uint64 blockNumber) external view returns (bool) {
        Gateway storage g = gateways[gateway];
        if (!g.registered || g.logHash != logHash) return false;
        Key[] storage ks = keys[gateway];
        for (uint256 i = ks.length; i > 0; i--) {
            Key storage k = ks[i - 1];
            if (k.keyHash == keyHash && k.fromBlock <= blockNumber && (k.untilBlock == 0 || blockNumber < k.untilBlock)) {
                return true;
            }
        }
        return false;
    }

    function isGateway(address gateway) external view returns (bool) {
        return gateways[gateway].registered;
    }

    function latestSize(address gateway) external view returns (uint64) {
        return gateways[gateway].size;
    }

    /// @notice The log hash a gateway is bound to (zero if never registered).
    function logHashOf(address gateway) external view returns (bytes32) {
        return gateways[gateway].logHash;
    }

    /// @notice The gateway's record key history, oldest first.
    function keysOf(address gateway) external view returns (Key[] memory) {
        return keys[gateway];
    }
}
