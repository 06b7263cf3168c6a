// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title PriceFeed: an AggregatorV3Interface-compatible feed whose owner posts answers (the devnet's oracle).
/// @notice Same read surface as Chainlink's aggregators: decimals, description, version, latestRoundData,
///         getRoundData. Each update starts a new round stamped with the block time or a given time; round ids
///         count up from 1 (phase 0), so on a feed whose rounds are posted in time order, as Chainlink's are,
///         updatedAt never decreases with the round id (the devnet replays its history that way).
contract PriceFeed {
    struct Round {
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
    }

    uint8 public immutable decimals;
    string public description;
    uint256 public constant version = 4;
    address public owner;
    uint80 public latestRound;
    mapping(uint80 => Round) internal rounds;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    error NotOwner();
    error NoData();

    /// @param initialUpdatedAt time of the first round (0: the block time), so a history can start before deployment.
    constructor(uint8 decimals_, string memory description_, int256 initialAnswer, uint256 initialUpdatedAt) {
        decimals = decimals_;
        description = description_;
        owner = msg.sender;
        _update(initialAnswer, initialUpdatedAt == 0 ? block.timestamp : initialUpdatedAt);
    }

    function updateAnswer(int256 answer) external {
        if (msg.sender != owner) revert NotOwner();
        _update(answer, block.timestamp);
    }

    /// @notice Posts an answer observed at `updatedAt` (for replaying history on a local chain).
    function updateAnswerAt(int256 answer, uint256 updatedAt) external {
        if (msg.sender != owner) revert NotOwner();
        _update(answer, updatedAt);
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return getRoundData(latestRound);
    }

    function getRoundData(uint80 roundId)
        public
        view
        returns (uint80, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round memory round = rounds[roundId];
        if (round.updatedAt == 0) revert NoData();
        return (roundId, round.answer, round.startedAt, round.updatedAt, roundId);
    }

    function latestAnswer() external view returns (int256) {
        return rounds[latestRound].answer;
    }

    function _update(int256 answer, uint256 updatedAt) internal {
        latestRound += 1;
        rounds[latestRound] = Round(answer, block.timestamp, updatedAt);
        emit AnswerUpdated(answer, latestRound, updatedAt);
    }
}
