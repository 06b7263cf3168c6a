import {
  type DocumentNode,
  type ExecutionResult,
  type FieldNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  getArgumentValues,
  getVariableValues,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  type SelectionSetNode,
} from 'graphql';

/** Thrown inside the lean executor: graphql-js must run the request instead. */
class NotLean {}
const notLean = (): never => {
  throw new NotLean();
};

type Plan = { responseName: string; node: FieldNode; field?: GraphQLField<unknown, unknown> }[];

/**
 * A cheaper execution of the plainest queries, with graphql-js's answer: one query operation, fields only (no
 * fragments, directives or introspection), arguments only on root fields, every resolver synchronous. It does
 * what graphql-js's `execute` does for such a document — coerce variables and arguments with graphql-js
 * itself, call the root resolvers, read properties (calling functions like the default resolver), serialize
 * leaves with the schema's own scalars — without building a resolve-info object per field and row.
 * Returns undefined whenever the answer would carry an error or the query is not that plain: then the
 * caller runs graphql-js, which produces the exact errors (resolvers must be safe to call twice).
 */
export function leanExecute(args: {
  schema: GraphQLSchema;
  document: DocumentNode;
  rootValue: Record<string, unknown>;
  contextValue: unknown;
  variableValues?: unknown;
  operationName?: string;
}): ExecutionResult | undefined {
  const { schema, document, rootValue, contextValue } = args;
  if (document.definitions.length !== 1) return undefined;
  const operation = document.definitions[0]!;
  if (operation.kind !== Kind.OPERATION_DEFINITION || operation.operation !== 'query') return undefined;
  if (operation.directives?.length) return undefined;
  if (args.operationName !== undefined && operation.name?.value !== args.operationName) return undefined;
  const inputs = args.variableValues ?? {};
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) return undefined;
  const variables = getVariableValues(
    schema,
    operation.variableDefinitions ?? [],
    inputs as Record<string, unknown>,
    { maxErrors: 1 },
  );
  if (variables.errors) return undefined;
  const queryType = schema.getQueryType();
  if (!queryType) return undefined;
  const plans = new WeakMap<SelectionSetNode, Plan>();

  function plan(type: GraphQLObjectType, selectionSet: SelectionSetNode, root: boolean): Plan {
    let fields = plans.get(selectionSet);
    if (fields) return fields;
    fields = [];
    const names = new Set<string>();
    for (const selection of selectionSet.selections) {
      if (selection.kind !== Kind.FIELD || selection.directives?.length) return notLean();
      const responseName = selection.alias?.value ?? selection.name.value;
      if (names.has(responseName)) return notLean(); // graphql-js merges these
      names.add(responseName);
      if (selection.name.value === '__typename') {
        if (selection.selectionSet) return notLean();
        fields.push({ responseName, node: selection });
        continue;
      }
      const field = type.getFields()[selection.name.value];
      if (!field) return notLean();
      if (!root && (field.args.length > 0 || selection.arguments?.length)) return notLean();
      fields.push({ responseName, node: selection, field });
    }
    plans.set(selectionSet, fields);
    return fields;
  }

  function complete(type: GraphQLOutputType, node: FieldNode, value: unknown): unknown {
    if (isNonNullType(type)) {
      const completed = complete(type.ofType, node, value);
      return completed === null ? notLean() : completed;
    }
    if (value === null || value === undefined) return null;
    if (value instanceof Error || typeof (value as { then?: unknown }).then === 'function') return notLean();
    if (isListType(type)) {
      if (!Array.isArray(value)) return notLean();
      const out = new Array(value.length);
      for (let i = 0; i < value.length; i++) out[i] = complete(type.ofType, node, value[i]);
      return out;
    }
    if (isLeafType(type)) {
      const serialized = type.serialize(value);
      return serialized === null || serialized === undefined ? notLean() : serialized;
    }
    if (isObjectType(type) && !type.isTypeOf && node.selectionSet && typeof value === 'object') {
      return object(type, plan(type, node.selectionSet, false), value as Record<string, unknown>);
    }
    return notLean();
  }

  function object(type: GraphQLObjectType, fields: Plan, source: Record<string, unknown>) {
    const out: Record<string, unknown> = {};
    for (const { responseName, node, field } of fields) {
      if (!field) {
        out[responseName] = type.name;
        continue;
      }
      if (field.resolve) return notLean();
      let value = source[field.name];
      if (typeof value === 'function') value = value.call(source, {}, contextValue, undefined);
      out[responseName] = complete(field.type, node, value);
    }
    return out;
  }

  try {
    const data: Record<string, unknown> = {};
    for (const { responseName, node, field } of plan(queryType, operation.selectionSet, true)) {
      if (!field || field.name.startsWith('__')) return undefined;
      const resolver = rootValue[field.name];
      if (typeof resolver !== 'function' || field.resolve) return undefined;
      const fieldArgs = getArgumentValues(field, node, variables.coerced);
      data[responseName] = complete(field.type, node, resolver.call(rootValue, fieldArgs, contextValue));
    }
    return { data };
  } catch {
    return undefined;
  }
}
