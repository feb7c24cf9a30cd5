// SPDX-License-Identifier: MIT
// The test "USDT": OpenZeppelin's ERC-20 (from the npm registry) with 6 decimals like the real Tether
// token, and Tether's blacklist behaviour (transfers from/to a blacklisted address revert), which the
// tests use to make a withdrawal revert on chain. Compiled by the test setup (tests/support/evm/contracts.py).
pragma solidity ^0.8.20;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

contract TestUSDT is ERC20 {
    address public immutable owner;
    mapping(address => bool) public isBlackListed;

    constructor(uint256 supply) ERC20("Tether USD", "USDT") {
        owner = msg.sender;
        _mint(msg.sender, supply);
    }

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function addBlackList(address who) external {
        require(msg.sender == owner, "only owner");
        isBlackListed[who] = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        require(!isBlackListed[from] && !isBlackListed[to], "blacklisted");
        super._update(from, to, value);
    }
}
