export { DELEGATION_MODES, type DelegationMode, isDelegationMode } from './delegation-mode.ts';
