import { type ExchangeFacts, policyModeOf } from './facts.ts';

/**
 * How one token request (an exchange, or a service-identity request) is put to Cedar. The schema is the contract operators write policies
 * against: policies are validated against it at startup, so a typo such as `context.scopes` or a
 * `context.depth == "3"` type mismatch is refused when the broker starts, not discovered as a rule
 * that silently never matches.
 */
export const POLICY_SCHEMA = `
namespace Baton {
  entity Client;
  entity Audience;
  action exchange appliesTo {
    principal: Client,
    resource: Audience,
    context: {
      mode: String,
      subject_type: String,
      depth: Long,
      scope: String,
      subject: String,
      tenant: String,
      agent: String,
      chain: Set<String>,
      grant: String,
      assertion_issuer: String,
    },
  };
}
`;

export const CLIENT_TYPE = 'Baton::Client';
export const AUDIENCE_TYPE = 'Baton::Audience';
export const EXCHANGE_ACTION = { type: 'Baton::Action', id: 'exchange' } as const;

/** The context attributes, in the fixed order memo keys use. */
export const CONTEXT_ATTRIBUTES = [
  'mode',
  'subject_type',
  'depth',
  'scope',
  'subject',
  'tenant',
  'agent',
  'chain',
  'grant',
  'assertion_issuer',
] as const;
export type ContextAttribute = (typeof CONTEXT_ATTRIBUTES)[number];

export type ContextValue = string | number | readonly string[];

/** One context attribute's value for the question "may these facts have `scope`?". */
export function contextValue(facts: ExchangeFacts, scope: string, attribute: ContextAttribute): ContextValue {
  switch (attribute) {
    case 'mode':
      return policyModeOf(facts);
    case 'subject_type':
      return facts.subjectType;
    case 'depth':
      return facts.depth;
    case 'scope':
      return scope;
    case 'subject':
      return facts.subject.sub;
    case 'tenant':
      // Cedar has no null; a subject without a tenant is the empty string.
      return facts.subject.tenant ?? '';
    case 'agent':
      return facts.agent;
    case 'chain':
      return facts.chain;
    case 'grant':
      return facts.grant ?? 'token_exchange';
    case 'assertion_issuer':
      // Cedar has no null; a request that redeemed no assertion is the empty string.
      return facts.assertionIssuer ?? '';
  }
}

/**
 * The context record for one scope's question, holding only `attributes`: the ones some rule can
 * read (see `contextAttributesRead`). What Cedar is not sent, it cannot need; and a smaller record is
 * measurably cheaper to carry into wasm on every call.
 */
export function exchangeContext(
  facts: ExchangeFacts,
  scope: string,
  attributes: readonly ContextAttribute[],
): Partial<Record<ContextAttribute, ContextValue>> {
  const context: Partial<Record<ContextAttribute, ContextValue>> = {};
  for (const attribute of attributes) context[attribute] = contextValue(facts, scope, attribute);
  return context;
}
