import { z } from 'zod';
import { TreasuryAgentConfigSchema } from './schema.ts';

type JsonSchemaNode = {
  type?: string;
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  anyOf?: JsonSchemaNode[];
};

/** Every field path of the config file (`tokens[].symbol`, `strategy.overlays[].params`, …), from the schema. */
export function configFieldPaths(): string[] {
  const schema = z.toJSONSchema(TreasuryAgentConfigSchema, {
    io: 'input',
    unrepresentable: 'any',
  }) as JsonSchemaNode;
  const paths: string[] = [];
  const walk = (node: JsonSchemaNode | undefined, path: string) => {
    if (!node) return;
    if (node.anyOf) {
      for (const option of node.anyOf) walk(option, path);
      return;
    }
    if (node.type === 'object' && node.properties) {
      for (const [key, child] of Object.entries(node.properties)) walk(child, path ? `${path}.${key}` : key);
      return;
    }
    if (node.type === 'array' && node.items?.type === 'object') {
      walk(node.items, `${path}[]`);
      return;
    }
    paths.push(path);
  };
  walk(schema, '');
  return [...new Set(paths)];
}
