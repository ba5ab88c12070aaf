// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title wardgate checkpoint anchor
/// @notice Each registered gateway (one per hospital box) anchors the signed
/// checkpoints of its Merkle log here: one transaction per checkpoint. The log
/// size must grow per gateway, so a box cannot roll its log back on chain.
/// Only the registered flag and the latest size are stored (one slot per
/// gateway); roots live in the Anchored event, which keeps a checkpoint
/// around 30k gas.
contract Anchor {
    struct Gateway {
        bool registered;
        uint64 size;
    }

    address public admin;
    mapping(address => Gateway) private gateways;

    event Anchored(address indexed gateway, uint64 indexed size, bytes32 root);
    event GatewayAdded(address indexed gateway);
    event GatewayRemoved(address indexed gateway);
    event AdminChanged(address indexed previous, address indexed next);

    error NotAdmin(address caller);
    error NotGateway(address caller);
    error SizeNotGrowing(uint64 latest, uint64 size);
    error ZeroAddress();

    constructor(address admin_) {
        if (admin_ == address(0)) revert ZeroAddress();
        admin = admin_;
        emit AdminChanged(address(0), admin_);
    }

    modifier onlyAdmin() {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        _;
    }

    /// @notice Registers a gateway account. A re-registered gateway keeps its
    /// latest size, so removal and re-adding cannot reset its log.
    function addGateway(address gateway) external onlyAdmin {
        if (gateway == address(0)) revert ZeroAddress();
        gateways[gateway].registered = true;
        emit GatewayAdded(gateway);
    }

    function removeGateway(address gateway) external onlyAdmin {
        gateways[gateway].registered = false;
        emit GatewayRemoved(gateway);
    }

    function transferAdmin(address next) external onlyAdmin {
        if (next == address(0)) revert ZeroAddress();
        emit AdminChanged(admin, next);
        admin = next;
    }

    /// @notice Anchors checkpoint (size, root) of the caller's log.
    function anchor(uint64 size, bytes32 root) external {
        Gateway storage g = gateways[msg.sender];
        if (!g.registered) revert NotGateway(msg.sender);
        if (size <= g.size) revert SizeNotGrowing(g.size, size);
        g.size = size;
        emit Anchored(msg.sender, size, root);
    }

    function isGateway(address gateway) external view returns (bool) {
        return gateways[gateway].registered;
    }

    function latestSize(address gateway) external view returns (uint64) {
        return gateways[gateway].size;
    }
}
