import type { GrantRequest } from '../grants/grant-request.ts';
import type { Target } from '../grants/target.ts';
import type { SenderConstrained } from '../sender-constraint/check.ts';
import type { DelegationChain } from './checks/chain.ts';
import type { ExchangingClient } from './checks/client.ts';
import type { Lifetime } from './checks/lifetime.ts';
import type { ExchangeMode } from './checks/mode.ts';
import type { ExchangeParameters } from './checks/parameters.ts';
import type { Decided } from './checks/policy.ts';
import type { Principal } from './checks/principal.ts';
import type { RequestedScopes, UnderstoodScopes } from './checks/scope.ts';
import type { Subject, SubjectGrant } from './checks/subject.ts';

/** Everything an exchange has established once every check passed: what an issuer works from. */
export type Exchanged = GrantRequest &
  ExchangingClient &
  SenderConstrained &
  ExchangeParameters &
  Target &
  ExchangeMode &
  Subject &
  SubjectGrant &
  DelegationChain &
  Principal &
  RequestedScopes &
  UnderstoodScopes &
  Decided &
  Lifetime;
