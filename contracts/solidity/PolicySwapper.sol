// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

interface IAggregatorV3 {
    function decimals() external view returns (uint8);
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}

interface IERC20Like {
    function decimals() external view returns (uint8);
    function balanceOf(address owner) external view returns (uint256);
    function allowance(address owner, address spender) external view returns (uint256);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
    function approve(address spender, uint256 value) external returns (bool);
}

interface IUniswapV2RouterLike {
    function swapExactTokensForTokens(
        uint256 amountIn,
        uint256 amountOutMin,
        address[] calldata path,
        address to,
        uint256 deadline
    ) external returns (uint256[] memory amounts);
}

/// @title PolicySwapper: swaps a voted decision against a voted price policy, not a fixed minimum out.
/// @notice A DAO's Safe calls `execute` inside its voted MultiSendCallOnly batch, right after approving this
///         contract for exactly each order's amountIn. Every parameter (tokens, amounts, venue, feeds, feed age,
///         slippage, floor price, validity window, decision hash) is in the voted calldata. At execution the
///         contract reads the two USD feeds, computes the minimum out, swaps through the voted Uniswap V2 router
///         to the caller, measures what the caller received, and emits what it saw.
/// @dev No owner, no admin, no upgrade, no token custody between transactions. The only state is `executed`.
///      The math is strategies/pricePolicy.ts exactly (same operations in the same order, rounding down):
///        oraclePrice = answerIn * 1e18 / answerOut                      (whole tokenOut per whole tokenIn, 1e18)
///        oracleOut   = amountIn * oraclePrice * 10^decOut / (1e18 * 10^decIn)
///        minOut      = oracleOut * (10000 - slippageBps) / 10000
///        floorOut    = amountIn * floorPrice * 10^decOut / (1e18 * 10^decIn)
///        requiredOut = max(minOut, floorOut); refused when oraclePrice < floorPrice.
///      Arithmetic is checked: an overflow reverts (fail-closed). Both feeds must quote the same base (USD):
///      the contract cannot tell, so the policy's feeds are for voters to check. Tokens sent to this contract
///      directly stay here (there is no owner to rescue them); `execute` never holds any after it returns.
contract PolicySwapper {
    struct PricePolicy {
        address feedIn; // AggregatorV3 USD feed of tokenIn
        address feedOut; // AggregatorV3 USD feed of tokenOut
        uint8 feedDecimals; // both feeds must report exactly this many decimals
        uint32 maxFeedAge; // seconds; an older answer refuses the trade
        uint16 slippageBps; // minOut = oracleOut * (10000 - slippageBps) / 10000; must be < 10000
        uint256 floorPrice; // worst accepted price: whole tokenOut per whole tokenIn, scaled 1e18
    }

    struct Order {
        address tokenIn;
        address tokenOut;
        uint256 amountIn;
        PricePolicy policy;
    }

    struct Decision {
        bytes32 decisionHash; // commits to the agent's logged decision (inputs + plan)
        address router; // the venue: a Uniswap V2 router (swapExactTokensForTokens)
        uint64 validAfter; // unix seconds
        uint64 validUntil; // unix seconds; also the router deadline
        Order[] orders;
    }

    uint256 internal constant PRICE_SCALE = 1e18;
    uint256 internal constant MAX_BPS = 10_000;

    /// @notice caller => decisionHash => executed. Keyed by caller, so one Safe can never run the same voted
    ///         decision twice (whatever its nonce), and nobody else can block or consume a Safe's decision.
    mapping(address => mapping(bytes32 => bool)) public executed;

    event DecisionExecuted(address indexed caller, bytes32 indexed decisionHash, uint256 orders);
    /// @param minOut the policy's requiredOut = max(minOut, floorOut), the least amountOut accepted
    event PolicySwap(
        address indexed caller,
        bytes32 indexed decisionHash,
        uint256 indexed index,
        address tokenIn,
        address tokenOut,
        uint256 amountIn,
        uint256 oraclePrice,
        uint256 minOut,
        uint256 amountOut
    );

    error AlreadyExecuted(address caller, bytes32 decisionHash);
    error NotYetValid(uint256 validAfter, uint256 blockTime);
    error ValidityEnded(uint256 validUntil, uint256 blockTime);
    error NoOrders();
    error ZeroAmount(address tokenIn);
    error BadSlippage(uint256 slippageBps);
    error FeedDecimals(address feed, uint8 decimals, uint8 expected);
    error NonPositiveAnswer(address feed, int256 answer);
    error FeedFromFuture(address feed, uint256 updatedAt, uint256 blockTime);
    error StaleFeed(address feed, uint256 age, uint256 maxFeedAge);
    error BelowFloor(address tokenIn, address tokenOut, uint256 oraclePrice, uint256 floorPrice);
    error InsufficientOutput(uint256 index, uint256 amountOut, uint256 requiredOut);
    error AllowanceLeft(address token, uint256 allowance);
    error TokenCallFailed(address token, bytes4 selector);

    /// @notice Runs every order of a voted decision, or none: any refusal reverts the whole call (and with it the
    ///         Safe's batch). Tokens move from the caller and the output goes straight back to the caller.
    function execute(Decision calldata decision) external {
        // Checks.
        if (block.timestamp < decision.validAfter) revert NotYetValid(decision.validAfter, block.timestamp);
        if (block.timestamp > decision.validUntil) revert ValidityEnded(decision.validUntil, block.timestamp);
        uint256 count = decision.orders.length;
        if (count == 0) revert NoOrders();
        if (executed[msg.sender][decision.decisionHash]) {
            revert AlreadyExecuted(msg.sender, decision.decisionHash);
        }
        // Effects before any external call: a re-entrant execute of the same decision reverts.
        executed[msg.sender][decision.decisionHash] = true;
        // Interactions.
        for (uint256 i = 0; i < count; ++i) {
            _swap(decision, i);
        }
        // The batch approves exactly what it spends: no approval to this contract may stay behind.
        for (uint256 i = 0; i < count; ++i) {
            address token = decision.orders[i].tokenIn;
            uint256 left = IERC20Like(token).allowance(msg.sender, address(this));
            if (left != 0) revert AllowanceLeft(token, left);
        }
        emit DecisionExecuted(msg.sender, decision.decisionHash, count);
    }

    /// @notice What the policy requires of `order` now; reverts like `execute` on a bad order, a bad feed or a
    ///         price below the floor.
    function quote(Order calldata order) external view returns (uint256 oraclePrice, uint256 requiredOut) {
        return _quote(order.tokenIn, order.tokenOut, order.amountIn, order.policy);
    }

    /// @notice Milkman's IPriceChecker (charlesndalton/milkman interfaces/IPriceChecker.sol), with
    ///         `data = abi.encode(PricePolicy)`: true when `minOut` is at least the policy's requiredOut.
    /// @dev As Milkman's DynamicSlippageChecker, the expected out is computed on the full `amountIn` (Milkman
    ///      passes sellAmount + feeAmount) and `feeAmount` is ignored. Unlike it, `minOut == requiredOut` passes
    ///      (Milkman's checkers use a strict `>`), so this agrees with the router's `amountOutMin` in `execute`.
    ///      Reverts (rather than returning false) on a bad feed or a price below the floor, like Milkman's
    ///      Chainlink calculator does on a non-positive answer; either way the order is refused.
    function checkPrice(
        uint256 amountIn,
        address fromToken,
        address toToken,
        uint256 feeAmount,
        uint256 minOut,
        bytes calldata data
    ) external view returns (bool) {
        feeAmount; // ignored, as in Milkman's DynamicSlippageChecker
        (, uint256 requiredOut) = _quote(fromToken, toToken, amountIn, abi.decode(data, (PricePolicy)));
        return minOut >= requiredOut;
    }

    /// @dev One order: quote, pull amountIn, approve the router for exactly amountIn, swap to the caller, check
    ///      the caller's balance gain (not the router's return value), clear any allowance the router left.
    ///      The router gets amountOutMin = 0 on purpose: the bound is the measured balance gain checked right
    ///      after, in the same call, which is stricter than the router's own check (it also holds for an
    ///      odd router or a tokenOut with transfer fees) and reverts with InsufficientOutput(index, got, required)
    ///      instead of the router's string, so a refusal always names the order and the numbers.
    function _swap(Decision calldata decision, uint256 i) internal {
        Order calldata order = decision.orders[i];
        (uint256 oraclePrice, uint256 requiredOut) =
            _quote(order.tokenIn, order.tokenOut, order.amountIn, order.policy);
        _tokenCall(
            order.tokenIn, abi.encodeCall(IERC20Like.transferFrom, (msg.sender, address(this), order.amountIn))
        );
        _tokenCall(order.tokenIn, abi.encodeCall(IERC20Like.approve, (decision.router, order.amountIn)));
        uint256 before = IERC20Like(order.tokenOut).balanceOf(msg.sender);
        address[] memory path = new address[](2);
        path[0] = order.tokenIn;
        path[1] = order.tokenOut;
        IUniswapV2RouterLike(decision.router).swapExactTokensForTokens(
            order.amountIn, 0, path, msg.sender, decision.validUntil
        );
        uint256 amountOut = IERC20Like(order.tokenOut).balanceOf(msg.sender) - before;
        if (amountOut < requiredOut) revert InsufficientOutput(i, amountOut, requiredOut);
        if (IERC20Like(order.tokenIn).allowance(address(this), decision.router) != 0) {
            _tokenCall(order.tokenIn, abi.encodeCall(IERC20Like.approve, (decision.router, 0)));
        }
        emit PolicySwap(
            msg.sender,
            decision.decisionHash,
            i,
            order.tokenIn,
            order.tokenOut,
            order.amountIn,
            oraclePrice,
            requiredOut,
            amountOut
        );
    }

    /// @dev The policy's price and required output for `amountIn` now (see the contract's @dev for the formulas).
    function _quote(address tokenIn, address tokenOut, uint256 amountIn, PricePolicy memory policy)
        internal
        view
        returns (uint256 oraclePrice, uint256 requiredOut)
    {
        if (amountIn == 0) revert ZeroAmount(tokenIn);
        if (policy.slippageBps >= MAX_BPS) revert BadSlippage(policy.slippageBps);
        uint256 answerIn = _readFeed(policy.feedIn, policy.feedDecimals, policy.maxFeedAge);
        uint256 answerOut = _readFeed(policy.feedOut, policy.feedDecimals, policy.maxFeedAge);
        oraclePrice = answerIn * PRICE_SCALE / answerOut;
        if (oraclePrice < policy.floorPrice) {
            revert BelowFloor(tokenIn, tokenOut, oraclePrice, policy.floorPrice);
        }
        uint256 scaleOut = 10 ** IERC20Like(tokenOut).decimals();
        uint256 scaleIn = PRICE_SCALE * 10 ** IERC20Like(tokenIn).decimals();
        uint256 oracleOut = amountIn * oraclePrice * scaleOut / scaleIn;
        uint256 minOut = oracleOut * (MAX_BPS - policy.slippageBps) / MAX_BPS;
        uint256 floorOut = amountIn * policy.floorPrice * scaleOut / scaleIn;
        requiredOut = minOut > floorOut ? minOut : floorOut;
    }

    /// @dev A feed's latest answer, refused unless it has the expected decimals, is positive, is not stamped
    ///      after this block, and is at most `maxFeedAge` seconds old (Milkman's Chainlink calculator skips this).
    function _readFeed(address feed, uint8 expectedDecimals, uint32 maxFeedAge) internal view returns (uint256) {
        uint8 decimals = IAggregatorV3(feed).decimals();
        if (decimals != expectedDecimals) revert FeedDecimals(feed, decimals, expectedDecimals);
        (, int256 answer,, uint256 updatedAt,) = IAggregatorV3(feed).latestRoundData();
        if (answer <= 0) revert NonPositiveAnswer(feed, answer);
        if (updatedAt > block.timestamp) revert FeedFromFuture(feed, updatedAt, block.timestamp);
        uint256 age = block.timestamp - updatedAt;
        if (age > maxFeedAge) revert StaleFeed(feed, age, maxFeedAge);
        return uint256(answer);
    }

    /// @dev transferFrom/approve accepting tokens that return true or nothing (USDT-style); a revert, a false,
    ///      or a call to an address without code reverts TokenCallFailed.
    function _tokenCall(address token, bytes memory data) internal {
        (bool ok, bytes memory ret) = token.call(data);
        if (!ok || (ret.length == 0 ? token.code.length == 0 : (ret.length < 32 || !abi.decode(ret, (bool))))) {
            revert TokenCallFailed(token, bytes4(data));
        }
    }
}
