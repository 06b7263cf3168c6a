import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
  valueFromASTUntyped,
} from 'graphql';

/**
 * How much one GraphQL request may ask of the hub, checked on the document before it is validated or executed
 * (by graphql-js or the lean executor alike).
 * - `maxOperations`, `maxDepth`: what hub.snapshot.org enforces (graphql-query-count-limit(5),
 *   graphql-depth-limit(5)), with their messages. Depth counts nested selections below a root field
 *   (`votes { proposal { space { strategies { name } } } }` is 4); introspection fields are not counted.
 * - `maxItems`: the objects a request can make the hub produce, summed over every field and alias: a list
 *   field counts its `first` (its default when absent, at least 1) times what each element asks for, nested
 *   objects count once per parent (a vote's `proposal` is a store read), a space's `proposalsCount`/`votesCount`
 *   count one each (a COUNT query), the small lists of a row (`strategies`) count their bound. Introspection
 *   counts the schema elements it would really return. hub.snapshot.org has no such limit (its
 *   nested fields are not lists of rows); 10,000 is ten times the largest page the agent asks for (votes,
 *   first: 1000), so every query of the agent and of the tests is far below it, while 11 aliases of that page
 *   are refused.
 * - `maxTokens`: graphql-js's own parse limit (GraphQL Armor's default is 1,000). The agent's largest query is
 *   about 100 tokens, graphql-js's full introspection query about 300; 2,000 still lets 180 aliased pages reach
 *   the cost check. It also bounds validation, whose overlapping-fields rule grows faster than the document
 *   when one field name is repeated with sub-selections (tens of ms at this size).
 */
export const QUERY_LIMITS = {
  /** hub.snapshot.org's `first` limit (graphql.ts refuses more with its message; here it counts as this). */
  maxFirst: 1000,
  maxOperations: 5,
  maxDepth: 5,
  maxItems: 10_000,
  maxTokens: 2_000,
};

export type QueryLimits = typeof QUERY_LIMITS;

/** Upper bounds of the lists inside one row (governance/hub/spaces.ts allows at most 8 strategies). */
const NESTED_LIST_BOUNDS: Record<string, number> = {
  'Space.strategies': 8,
  'Proposal.strategies': 8,
};
/** A nested list without a known bound or a `first` argument. */
const UNKNOWN_LIST_BOUND = 100;
/** Leaf fields that cost a store query each. */
const FIELD_COSTS: Record<string, number> = {
  'Space.proposalsCount': 1,
  'Space.votesCount': 1,
};

const count = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * The first limit a request breaks, as the GraphQL error to answer with, or undefined when it is within them.
 * `variables` are the request's (a variable `first` counts with its value). Fields unknown to the schema count
 * nothing: validation refuses them afterwards.
 */
export function queryCostError(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> = {},
  limits: QueryLimits = QUERY_LIMITS,
): GraphQLError | undefined {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  if (operations.length > limits.maxOperations) {
    return new GraphQLError(`The request exceeds the maximum number of query: ${limits.maxOperations}`);
  }
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  for (const operation of operations) {
    const deepest = depthWalker(fragments)(operation.selectionSet);
    if (deepest.depth > limits.maxDepth) {
      return new GraphQLError(
        `'${operation.name?.value ?? ''}' exceeds maximum operation depth of ${limits.maxDepth}`,
        { nodes: deepest.node ? [deepest.node] : [operation] },
      );
    }
  }
  for (const operation of operations) {
    const root =
      operation.operation === 'query'
        ? schema.getQueryType()
        : operation.operation === 'mutation'
          ? schema.getMutationType()
          : schema.getSubscriptionType();
    if (!root) continue;
    // A variable's default counts when the request leaves it out (`query ($n: Int = 1000)`).
    const values: Record<string, unknown> = {};
    for (const definition of operation.variableDefinitions ?? []) {
      if (definition.defaultValue) {
        values[definition.variable.name.value] = valueFromASTUntyped(definition.defaultValue);
      }
    }
    const walker = costWalker(schema, fragments, { ...values, ...variables }, limits);
    const items = walker.cost(operation.selectionSet, root, new Set());
    if (items > limits.maxItems) {
      // Introspection stops counting past the limit (Infinity); beyond a quadrillion the figure stops mattering.
      const requested = !Number.isFinite(items)
        ? `more than ${count(limits.maxItems)}`
        : items > 1e15
          ? `more than ${count(1e15)}`
          : count(items);
      return new GraphQLError(
        `query too costly: ${requested} items requested (limit ${count(limits.maxItems)}); lower "first" or use fewer aliases`,
      );
    }
  }
  return undefined;
}

type Deepest = { depth: number; node?: FieldNode };

/** graphql-depth-limit's measure: how far below the root the deepest field is (introspection not counted). */
function depthWalker(fragments: Map<string, FragmentDefinitionNode>) {
  const depthOf = new Map<string, Deepest>();

  /** A fragment's depth, once; a fragment inside itself adds nothing (validation refuses the cycle). */
  function fragmentDepth(name: string): Deepest {
    const known = depthOf.get(name);
    if (known) return known;
    const fragment = fragments.get(name);
    if (!fragment) return { depth: 0 };
    depthOf.set(name, { depth: 0 });
    const value = depth(fragment.selectionSet);
    depthOf.set(name, value);
    return value;
  }

  function depth(selectionSet: SelectionSetNode): Deepest {
    let deepest: Deepest = { depth: 0 };
    for (const selection of selectionSet.selections) {
      let found: Deepest;
      if (selection.kind === Kind.FIELD) {
        if (!selection.selectionSet || selection.name.value.startsWith('__')) continue;
        const below = depth(selection.selectionSet);
        found = { depth: 1 + below.depth, node: below.node ?? selection };
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        found = depth(selection.selectionSet);
      } else {
        found = fragmentDepth(selection.name.value);
      }
      if (found.depth > deepest.depth) deepest = found;
    }
    return deepest;
  }

  return depth;
}

function costWalker(
  schema: GraphQLSchema,
  fragments: Map<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  { maxItems: budget, maxFirst }: QueryLimits,
) {
  function argument(node: FieldNode, name: string): unknown {
    const value = node.arguments?.find((a) => a.name.value === name)?.value;
    return value ? valueFromASTUntyped(value as ValueNode, variables) : undefined;
  }

  function listSize(
    parent: GraphQLNamedType,
    field: GraphQLField<unknown, unknown>,
    node: FieldNode,
  ): number {
    const first = field.args.find((a) => a.name === 'first');
    if (first) {
      const given = argument(node, 'first');
      const n = typeof given === 'number' && Number.isFinite(given) ? given : Number(first.defaultValue ?? 0);
      return Math.min(Math.max(1, n), maxFirst);
    }
    return NESTED_LIST_BOUNDS[`${parent.name}.${field.name}`] ?? UNKNOWN_LIST_BOUND;
  }

  /** Items asked for by one object of each type through a field's selection set (memoized per node). */
  const costOf = new Map<SelectionSetNode, Map<string, number>>();

  function fieldCost(selectionSet: SelectionSetNode, type: GraphQLNamedType): number {
    const byType = costOf.get(selectionSet) ?? new Map<string, number>();
    costOf.set(selectionSet, byType);
    const known = byType.get(type.name);
    if (known !== undefined) return known;
    byType.set(type.name, 0); // a fragment cycle back to here counts nothing (validation refuses cycles)
    const value = cost(selectionSet, type, new Set());
    byType.set(type.name, value);
    return value;
  }

  /**
   * Items one `parent` object asks for through `selectionSet`. Fragments spread into one selection count once
   * there, as graphql-js collects them once (`seen`); fields are counted as written (two fields merged by
   * graphql-js count twice: an overestimate).
   */
  function cost(selectionSet: SelectionSetNode, parent: GraphQLNamedType, seen: Set<string>): number {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        if (type) total += cost(selection.selectionSet, type, seen);
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (!fragment || seen.has(fragment.name.value)) continue;
        seen.add(fragment.name.value);
        const type = schema.getType(fragment.typeCondition.name.value);
        if (type) total += cost(fragment.selectionSet, type, seen);
        continue;
      }
      const name = selection.name.value;
      if (name === '__schema' || name === '__type') {
        total += introspectionCost(selection, budget - total);
        continue;
      }
      if (!isObjectType(parent) && !isInterfaceType(parent)) continue;
      const field = parent.getFields()[name];
      if (!field) continue;
      total += FIELD_COSTS[`${parent.name}.${name}`] ?? 0;
      const type = getNamedType(field.type);
      if (!selection.selectionSet || !(isObjectType(type) || isInterfaceType(type) || isUnionType(type)))
        continue;
      const n = isList(field.type) ? listSize(parent, field, selection) : 1;
      total += n * (1 + fieldCost(selection.selectionSet, type));
    }
    return total;
  }

  /**
   * Introspection over this schema: walks the schema elements the query would return and counts them, stopping
   * as soon as the count passes `left` (nested `fields { type { fields … } }` grow exponentially).
   */
  function introspectionCost(root: FieldNode, left: number): number {
    let counted = 0;
    const over = () => counted > left;
    const typeRef = (t: unknown) => t as Parameters<typeof getNamedType>[0];

    const children = (kind: string, value: unknown, field: string): { kind: string; items: unknown[] } => {
      const t = value as ReturnType<typeof getNamedType> & { ofType?: unknown };
      switch (`${kind}.${field}`) {
        case '__Schema.types':
          return { kind: '__Type', items: Object.values(schema.getTypeMap()) };
        case '__Schema.queryType':
        case '__Schema.mutationType':
        case '__Schema.subscriptionType': {
          const type =
            field === 'queryType'
              ? schema.getQueryType()
              : field === 'mutationType'
                ? schema.getMutationType()
                : schema.getSubscriptionType();
          return { kind: '__Type', items: type ? [type] : [] };
        }
        case '__Schema.directives':
          return { kind: '__Directive', items: [...schema.getDirectives()] };
        case '__Type.fields':
          return {
            kind: '__Field',
            items: isObjectType(t) || isInterfaceType(t) ? Object.values(t.getFields()) : [],
          };
        case '__Type.inputFields':
          return { kind: '__InputValue', items: isInputObjectType(t) ? Object.values(t.getFields()) : [] };
        case '__Type.enumValues':
          return { kind: '__EnumValue', items: isEnumType(t) ? [...t.getValues()] : [] };
        case '__Type.interfaces':
          return {
            kind: '__Type',
            items: isObjectType(t) || isInterfaceType(t) ? [...t.getInterfaces()] : [],
          };
        case '__Type.possibleTypes':
          return {
            kind: '__Type',
            items: isUnionType(t) || isInterfaceType(t) ? [...schema.getPossibleTypes(t)] : [],
          };
        case '__Type.ofType':
          return { kind: '__Type', items: isListType(t) || isNonNullType(t) ? [t.ofType] : [] };
        case '__Field.args':
        case '__Directive.args':
          return { kind: '__InputValue', items: [...(value as { args: unknown[] }).args] };
        case '__Field.type':
        case '__InputValue.type':
          return { kind: '__Type', items: [typeRef((value as { type: unknown }).type)] };
        default:
          return { kind: '', items: [] };
      }
    };

    // Like `cost`: a fragment counts once per selection (`seen`); each item opens a selection of its own.
    const walk = (selectionSet: SelectionSetNode, kind: string, value: unknown, seen: Set<string>) => {
      for (const selection of selectionSet.selections) {
        if (over()) return;
        if (selection.kind === Kind.INLINE_FRAGMENT) {
          walk(selection.selectionSet, kind, value, seen);
        } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
          const fragment = fragments.get(selection.name.value);
          if (!fragment || seen.has(fragment.name.value)) continue;
          seen.add(fragment.name.value);
          walk(fragment.selectionSet, kind, value, seen);
        } else if (selection.selectionSet) {
          const next = children(kind, value, selection.name.value);
          for (const item of next.items) {
            counted += 1;
            if (over()) return;
            walk(selection.selectionSet, next.kind, item, new Set());
          }
        }
      }
    };

    if (!root.selectionSet) return 0;
    if (root.name.value === '__schema') {
      counted = 1;
      walk(root.selectionSet, '__Schema', schema, new Set());
    } else {
      const name = argument(root, 'name');
      const type = typeof name === 'string' ? schema.getType(name) : undefined;
      if (!type) return 0;
      counted = 1;
      walk(root.selectionSet, '__Type', type, new Set());
    }
    return over() ? Number.POSITIVE_INFINITY : counted;
  }

  return { cost };
}

function isList(type: GraphQLField<unknown, unknown>['type']): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}
