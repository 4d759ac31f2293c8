import {
  GraphQLError,
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type GraphQLNamedType,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/**
 * Static limits, checked during validation (HTTP and WebSocket alike), before anything executes:
 * - `maxDepth`: nesting of fields (`{ flows { id } }` is 2);
 * - `maxCost`: every field costs 1, and the selection under a list-typed field counts `listFactor` times;
 *   fragments are expanded, so a "fragment bomb" is priced for what it would execute;
 * - `maxAliases`: aliased fields per operation (the cheap way to repeat an expensive field);
 * - introspection (`__schema`, `__type`) is priced separately so that tools' standard introspection query
 *   passes: lists there count once and the `ofType` chain adds no depth, but the recursive
 *   `__Type.fields → __Field.type → __Type.fields …` is capped by `maxIntrospectionDepth`.
 */
export type QueryLimits = {
  maxDepth: number;
  maxCost: number;
  maxAliases: number;
  listFactor: number;
  maxIntrospectionDepth: number;
};

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxDepth: 12,
  maxCost: 10000,
  maxAliases: 30,
  listFactor: 10,
  maxIntrospectionDepth: 6,
};

type Measure = { depth: number; introspectionDepth: number; cost: number; aliases: number };
const ZERO: Measure = { depth: 0, introspectionDepth: 0, cost: 0, aliases: 0 };

export function queryLimitsRule(limits: Partial<QueryLimits> = {}): ValidationRule {
  const l = { ...DEFAULT_QUERY_LIMITS, ...limits };
  return (context: ValidationContext) => {
    const schema = context.getSchema();
    const fragments = new Map<string, Measure>();

    function measure(
      set: SelectionSetNode,
      parent: GraphQLNamedType | undefined,
      inIntrospection: boolean,
      visiting: Set<string>,
    ): Measure {
      const total = { ...ZERO };
      for (const sel of set.selections) {
        let m: Measure;
        if (sel.kind === Kind.FIELD) {
          const name = sel.name.value;
          const introspection = inIntrospection || name.startsWith('__');
          const fieldType =
            parent && (isObjectType(parent) || isInterfaceType(parent))
              ? parent.getFields()[name]?.type
              : undefined;
          const child = sel.selectionSet
            ? measure(
                sel.selectionSet,
                fieldType ? getNamedType(fieldType) : undefined,
                introspection,
                visiting,
              )
            : ZERO;
          const factor =
            !introspection && fieldType && isListType(getNullableType(fieldType)) ? l.listFactor : 1;
          m = {
            depth: introspection ? 0 : 1 + child.depth,
            introspectionDepth: introspection
              ? (name === 'ofType' ? 0 : 1) + child.introspectionDepth
              : child.introspectionDepth,
            cost: 1 + factor * child.cost,
            aliases: child.aliases + (sel.alias && sel.alias.value !== name ? 1 : 0),
          };
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          const type = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent;
          m = measure(sel.selectionSet, type ?? undefined, inIntrospection, visiting);
        } else {
          const name = sel.name.value;
          const memoKey = `${inIntrospection ? 'i' : 'q'}:${name}`;
          const fragment = context.getFragment(name);
          const cached = fragments.get(memoKey);
          if (cached) {
            m = cached;
          } else if (!fragment || visiting.has(name)) {
            // Unknown fragments and cycles are reported by the standard rules; here they must only not recurse.
            m = ZERO;
          } else {
            visiting.add(name);
            const type = schema.getType(fragment.typeCondition.name.value) ?? undefined;
            m = measure(fragment.selectionSet, type, inIntrospection, visiting);
            visiting.delete(name);
            fragments.set(memoKey, m);
          }
        }
        total.depth = Math.max(total.depth, m.depth);
        total.introspectionDepth = Math.max(total.introspectionDepth, m.introspectionDepth);
        total.cost += m.cost;
        total.aliases += m.aliases;
      }
      return total;
    }

    return {
      OperationDefinition(node) {
        const root =
          node.operation === 'query'
            ? schema.getQueryType()
            : node.operation === 'mutation'
              ? schema.getMutationType()
              : schema.getSubscriptionType();
        const m = measure(node.selectionSet, root ?? undefined, false, new Set());
        const what = node.name ? `operation "${node.name.value}"` : 'the operation';
        const report = (message: string, limit: string, max: number, actual: number) =>
          context.reportError(
            new GraphQLError(message, { nodes: [node], extensions: { limit, max, actual } }),
          );
        if (m.depth > l.maxDepth) {
          report(
            `${what} is nested ${m.depth} levels deep; the limit is ${l.maxDepth}`,
            'depth',
            l.maxDepth,
            m.depth,
          );
        }
        if (m.introspectionDepth > l.maxIntrospectionDepth) {
          report(
            `${what} nests introspection ${m.introspectionDepth} levels deep; the limit is ${l.maxIntrospectionDepth}`,
            'introspectionDepth',
            l.maxIntrospectionDepth,
            m.introspectionDepth,
          );
        }
        if (m.aliases > l.maxAliases) {
          report(
            `${what} uses ${m.aliases} aliases; the limit is ${l.maxAliases}`,
            'aliases',
            l.maxAliases,
            m.aliases,
          );
        }
        if (m.cost > l.maxCost) {
          const actual = Number.isFinite(m.cost)
            ? Math.min(m.cost, Number.MAX_SAFE_INTEGER)
            : Number.MAX_SAFE_INTEGER;
          report(
            `${what} is too expensive (estimated cost ${actual}); the limit is ${l.maxCost}`,
            'cost',
            l.maxCost,
            actual,
          );
        }
        return false;
      },
    };
  };
}
