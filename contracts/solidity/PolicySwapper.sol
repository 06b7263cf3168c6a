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
}

interface IUniswapV2RouterLike {
    function factory() external view returns (address);
}

interface IUniswapV2FactoryLike {
    function getPair(address tokenA, address tokenB) external view returns (address pair);
}

interface IUniswapV2PairLike {
    function getReserves() external view returns (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast);
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external;
}

/// @title PolicySwapper: swaps a voted decision against a voted price policy, not a fixed minimum out.
/// @notice A DAO's Safe calls `execute` inside its voted MultiSendCallOnly batch, right after approving this
///         contract for exactly each order's amountIn. Every parameter (tokens, amounts, venue, feeds, feed age,
///         slippage, floor price, validity window, decision hash) is in the voted calldata. At execution the
///         contract reads the two USD feeds, computes the minimum out, swaps in the pool of the voted Uniswap V2
///         router (its factory's pair for the two tokens: the router's own route, without the router) straight
///         from the caller to the caller, measures what the caller received, and emits what it saw.
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
        address router; // the venue: a Uniswap V2 router; the swaps go to its factory's pairs
        uint64 validAfter; // unix seconds
        uint64 validUntil; // unix seconds
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
    error NoPool(address tokenIn, address tokenOut);

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
        address factory = IUniswapV2RouterLike(decision.router).factory();
        for (uint256 i = 0; i < count; ++i) {
            _swap(decision, factory, i);
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
    ///      (Milkman's checkers use a strict `>`), so this agrees with `execute`'s check of the
    ///      caller's balance gain.
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

    /// @dev One order: quote, swap in the pool, record what was seen.
    function _swap(Decision calldata decision, address factory, uint256 i) internal {
        Order calldata order = decision.orders[i];
        (uint256 oraclePrice, uint256 requiredOut) =
            _quote(order.tokenIn, order.tokenOut, order.amountIn, order.policy);
        uint256 amountOut = _swapInPool(factory, order, i, requiredOut);
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

    /// @dev The pool's output for amountIn by the Uniswap V2 formula from its reserves (as the router's
    ///      getAmountOut), refused below requiredOut before anything moves; amountIn from the caller straight to
    ///      the pair (this contract never holds a token nor approves anyone); the pair pays the output to the
    ///      caller; then the caller's balance gain (not the computed output) is checked against requiredOut,
    ///      which also holds for a tokenOut with transfer fees. A refusal reverts with
    ///      InsufficientOutput(index, got, required), naming the order and the numbers.
    function _swapInPool(address factory, Order calldata order, uint256 i, uint256 requiredOut)
        internal
        returns (uint256 amountOut)
    {
        address pair = IUniswapV2FactoryLike(factory).getPair(order.tokenIn, order.tokenOut);
        if (pair == address(0)) revert NoPool(order.tokenIn, order.tokenOut);
        // A V2 pair's token0 is the lower address of the two.
        bool inIsToken0 = order.tokenIn < order.tokenOut;
        uint256 poolOut;
        {
            (uint256 reserve0, uint256 reserve1,) = IUniswapV2PairLike(pair).getReserves();
            (uint256 reserveIn, uint256 reserveOut) = inIsToken0 ? (reserve0, reserve1) : (reserve1, reserve0);
            uint256 amountInWithFee = order.amountIn * 997;
            poolOut = amountInWithFee * reserveOut / (reserveIn * 1000 + amountInWithFee);
        }
        if (poolOut < requiredOut) revert InsufficientOutput(i, poolOut, requiredOut);
        _tokenCall(order.tokenIn, abi.encodeCall(IERC20Like.transferFrom, (msg.sender, pair, order.amountIn)));
        uint256 before = IERC20Like(order.tokenOut).balanceOf(msg.sender);
        if (inIsToken0) IUniswapV2PairLike(pair).swap(0, poolOut, msg.sender, "");
        else IUniswapV2PairLike(pair).swap(poolOut, 0, msg.sender, "");
        amountOut = IERC20Like(order.tokenOut).balanceOf(msg.sender) - before;
        if (amountOut < requiredOut) revert InsufficientOutput(i, amountOut, requiredOut);
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

    /// @dev transferFrom accepting tokens that return true or nothing (USDT-style); a revert, a false,
    ///      or a call to an address without code reverts TokenCallFailed.
    function _tokenCall(address token, bytes memory data) internal {
        (bool ok, bytes memory ret) = token.call(data);
        if (!ok || (ret.length == 0 ? token.code.length == 0 : (ret.length < 32 || !abi.decode(ret, (bool))))) {
            revert TokenCallFailed(token, bytes4(data));
        }
    }
}
