// `{variable}` interpolation of the policy's tenant variables into classifier texts. Only
// identifier-shaped names count as variables, so regex quantifiers such as `\d{3}` or
// `{2,4}` pass through untouched.
import { quoteMeta } from './syntax.ts';

const variable = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export interface Interpolated {
  value: string;
  /** Variables the text uses that the tenant map does not define. */
  missing: string[];
}

/**
 * Replaces every `{name}` with tenant[name]. For regular expressions (`regex: true`) the value
 * is quoted so that `acme.com` matches a literal dot: tenant values are data, not patterns.
 */
export function interpolate(text: string, tenant: Readonly<Record<string, string>>, regex: boolean): Interpolated {
  const missing: string[] = [];
  const value = text.replace(variable, (whole, name: string) => {
    if (!Object.hasOwn(tenant, name)) {
      missing.push(name);
      return whole;
    }
    const v = tenant[name]!;
    return regex ? quoteMeta(v) : v;
  });
  return { value, missing: [...new Set(missing)] };
}
