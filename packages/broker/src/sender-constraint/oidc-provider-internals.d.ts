// oidc-provider (v9) ships no types for its internal helpers: these are the two the broker calls (see
// `oidc-provider-dpop.ts`), typed as far as the broker uses them.
declare module 'oidc-provider/lib/helpers/validate_dpop.js' {
  import type { KoaContextWithOIDC, Provider } from 'oidc-provider';

  interface Proof {
    thumbprint: string;
    jti: string;
    iat: number;
  }
  export default function validateDpop(
    provider: Provider,
    ctx: KoaContextWithOIDC,
    accessToken?: string,
  ): Promise<Proof | undefined>;
  export function checkDpopReplay(
    provider: Provider,
    ctx: KoaContextWithOIDC,
    dPoP: Proof,
    clientId: string,
    ErrorClass: new (description: string) => Error,
  ): Promise<void>;
}
